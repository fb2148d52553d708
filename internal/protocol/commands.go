package protocol

import "github.com/parsec-go/parsec/internal/parsec"

// Command names, per family. The server answers 415 to a command not in its family.
const (
	CmdPing                  = "ping"
	CmdOrganizationBootstrap = "organization_bootstrap"
	CmdCertificateGet        = "certificate_get"
	CmdOrganizationConfig    = "organization_config"
)

// Families.
const (
	FamilyAnonymous     = "anonymous"
	FamilyInvited       = "invited"
	FamilyAuthenticated = "authenticated"
)

// PingReq / PingRep: the server echoes the payload.
type PingReq struct {
	Ping string `cbor:"ping"`
}

type PingRep struct {
	Pong string `cbor:"pong"`
}

// OrganizationBootstrapReq creates the first user and device of an organization. The four
// certificates are signed by the root key whose public half is RootVerifyKey; the server
// checks them all before storing anything.
type OrganizationBootstrapReq struct {
	BootstrapToken            parsec.AccessToken `cbor:"bootstrap_token"`
	RootVerifyKey             []byte             `cbor:"root_verify_key"`
	UserCertificate           []byte             `cbor:"user_certificate"`
	DeviceCertificate         []byte             `cbor:"device_certificate"`
	RedactedUserCertificate   []byte             `cbor:"redacted_user_certificate"`
	RedactedDeviceCertificate []byte             `cbor:"redacted_device_certificate"`
}

type OrganizationBootstrapRep struct{}

// CertificateGetReq asks for the certificates strictly newer than the given timestamps:
// CommonAfter for the common topic (users, devices, profile changes, revocations) and
// RealmAfter per realm, RecoveryAfter per user's shared-recovery topic. Topics absent from
// those maps are sent whole.
type CertificateGetReq struct {
	CommonAfter   parsec.DateTime                   `cbor:"common_after"`
	RealmAfter    map[parsec.VlobID]parsec.DateTime `cbor:"realm_after"`
	RecoveryAfter map[parsec.UserID]parsec.DateTime `cbor:"recovery_after,omitempty"`
}

// CertificateGetRep lists certificates in topic order (timestamp, then insertion order:
// a user certificate comes before its first device certificate).
// Recovery holds the shared-recovery topics the caller may see: its own, and those of the
// users whose setups named it as a recipient.
type CertificateGetRep struct {
	Common   [][]byte                   `cbor:"common"`
	Realms   map[parsec.VlobID][][]byte `cbor:"realms"`
	Recovery map[parsec.UserID][][]byte `cbor:"recovery,omitempty"`
}

// OrganizationConfig is what the server tells members about their organization's settings.
// It is also the first event of every event stream.
type OrganizationConfig struct {
	UserProfileOutsiderAllowed bool   `cbor:"user_profile_outsider_allowed"`
	ActiveUsersLimit           *int64 `cbor:"active_users_limit"` // nil: no limit
	SSEKeepaliveSeconds        int64  `cbor:"sse_keepalive_seconds"`
	MinimumArchivingPeriod     int64  `cbor:"realm_minimum_archiving_period_before_deletion"`
	// BlockSize is the span size the server asks new files to be cut into (0: the
	// clients' own, manifest.DefaultBlockSize); a hint, taken within the bounds that
	// manifest.NewFileBlockSize sets.
	BlockSize int64 `cbor:"block_size,omitempty"`
}

type OrganizationConfigReq struct{}
