package protocol

import "github.com/parsec-go/parsec/internal/parsec"

// JSON shapes of the administration API (see the server's admin routes).

// BootstrapURLs is the reply to an organization creation.
type BootstrapURLs struct {
	BootstrapURL                  string `json:"bootstrap_url"`
	BootstrapURLAsHTTPRedirection string `json:"bootstrap_url_as_http_redirection"`
}

// AdminError is the body of a refused administration request. Status, when set, says
// what a client may act on: StatusOrganizationNotFound, StatusUserNotFound.
type AdminError struct {
	Detail string `json:"detail"`
	Status Status `json:"status,omitempty"`
}

// StatusOrganizationNotFound: the administration API knows no such organization.
const StatusOrganizationNotFound Status = "organization_not_found"

// OrganizationStatus is the reply of GET /administration/organizations/{org}.
type OrganizationStatus struct {
	IsBootstrapped             bool   `json:"is_bootstrapped"`
	IsExpired                  bool   `json:"is_expired"`
	UserProfileOutsiderAllowed bool   `json:"user_profile_outsider_allowed"`
	ActiveUsersLimit           *int64 `json:"active_users_limit"`
	MinimumArchivingPeriod     int64  `json:"minimum_archiving_period"`
}

// ProfileCount counts users of one profile.
type ProfileCount struct {
	Active  int `json:"active"`
	Revoked int `json:"revoked"`
}

// OrganizationStats is the reply of GET /administration/organizations/{org}/stats.
type OrganizationStats struct {
	Realms                int                                  `json:"realms"`
	DataSize              int64                                `json:"data_size"`
	MetadataSize          int64                                `json:"metadata_size"`
	Users                 int                                  `json:"users"`
	ActiveUsers           int                                  `json:"active_users"`
	UsersPerProfileDetail map[parsec.UserProfile]*ProfileCount `json:"users_per_profile_detail"`
}

// AdminUser is a user as the administration API shows it.
type AdminUser struct {
	UserID    string             `json:"user_id"`
	UserEmail string             `json:"user_email"`
	UserName  string             `json:"user_name"`
	Profile   parsec.UserProfile `json:"profile"`
	Frozen    bool               `json:"frozen"`
}
