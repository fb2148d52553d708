package parsec

import "strings"

// UserProfile is what a user may do in the organization. On the wire and in storage it is
// ADMIN, STANDARD or OUTSIDER; people see Administrator, Member or External.
type UserProfile string

const (
	ProfileAdmin    UserProfile = "ADMIN"
	ProfileStandard UserProfile = "STANDARD"
	ProfileOutsider UserProfile = "OUTSIDER"
)

// Valid reports whether p is one of the three profiles.
func (p UserProfile) Valid() bool {
	return p == ProfileAdmin || p == ProfileStandard || p == ProfileOutsider
}

// Label is the name people see.
func (p UserProfile) Label() string {
	switch p {
	case ProfileAdmin:
		return "Administrator"
	case ProfileStandard:
		return "Member"
	case ProfileOutsider:
		return "External"
	}
	return string(p)
}

// ParseProfile accepts the names people use (admin, member, external, in any case) and the
// wire names (ADMIN, STANDARD, OUTSIDER).
func ParseProfile(s string) (UserProfile, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "admin", "administrator":
		return ProfileAdmin, nil
	case "member", "standard":
		return ProfileStandard, nil
	case "external", "outsider":
		return ProfileOutsider, nil
	}
	return "", Errorf(Invalid, "invalid profile %q: want admin, member or external", s)
}

// RealmRole is a user's role in a workspace. The empty role means "no role" (not shared, or
// unshared).
type RealmRole string

const (
	RoleNone        RealmRole = ""
	RoleOwner       RealmRole = "OWNER"
	RoleManager     RealmRole = "MANAGER"
	RoleContributor RealmRole = "CONTRIBUTOR"
	RoleReader      RealmRole = "READER"
)

// Valid reports whether r is a role (RoleNone excluded).
func (r RealmRole) Valid() bool {
	return r == RoleOwner || r == RoleManager || r == RoleContributor || r == RoleReader
}

// Rank orders roles: OWNER 4 > MANAGER 3 > CONTRIBUTOR 2 > READER 1 > none 0.
func (r RealmRole) Rank() int {
	switch r {
	case RoleOwner:
		return 4
	case RoleManager:
		return 3
	case RoleContributor:
		return 2
	case RoleReader:
		return 1
	}
	return 0
}

// Label is the name people see.
func (r RealmRole) Label() string {
	if r == RoleNone {
		return "none"
	}
	return strings.ToLower(string(r))
}

// ParseRole accepts owner, manager, contributor, reader in any case.
func ParseRole(s string) (RealmRole, error) {
	r := RealmRole(strings.ToUpper(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", Errorf(Invalid, "invalid role %q: want owner, manager, contributor or reader", s)
	}
	return r, nil
}
