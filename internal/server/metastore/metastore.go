package metastore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
)

// ErrNotFound is returned (wrapped, with kind parsec.NotFound) when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned (wrapped, with kind parsec.Exists) when inserting a record whose key
// is taken.
var ErrExists = errors.New("already exists")

// Store is a metadata store. An error of kind parsec.Unavailable from any of its methods
// (and those of the interfaces below) means that the store cannot be reached or used now (a
// database server stopped, restarting or cut off, a disk full or failing): the server answers
// that its store is unavailable, and the store must work again, without being reopened, once
// it is back.
type Store interface {
	// Update runs fn in a read-write transaction. Write transactions are serialized: fn sees
	// every transaction committed before it and none that runs concurrently, so a handler may
	// read, check and write without races (this is how "timestamps strictly increase in a
	// topic" is enforced atomically). If fn returns an error, nothing it wrote is kept and the
	// error is returned as is.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction over a consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Close releases the store.
	Close() error
}

// SignatureRecorder is implemented by stores that several server processes share, so that a
// request accepted by one is refused as a replay by all: the server then remembers the
// signatures of the requests it accepted there rather than in memory.
type SignatureRecorder interface {
	// RecordSignature records the hash of a request signature, to be remembered at least
	// until expires, and reports whether it was new (false: the request is a replay). now
	// is the current time: the store may forget the signatures expired before it.
	RecordSignature(ctx context.Context, hash []byte, expires, now parsec.DateTime) (bool, error)
}

// RateCounter is implemented by stores that several server processes share, so that a rate
// limit holds for all of them together: the server then counts the requests there rather
// than in memory.
type RateCounter interface {
	// CountRequest counts one more request of key and returns the count of its window, this
	// request included. A key's window opens at its first request and lasts until that
	// request's time plus window; the first request at or after its end opens the next one.
	// now is the current time: the store may forget the windows ended before it. Two
	// concurrent calls for one key return different counts.
	CountRequest(ctx context.Context, key string, window time.Duration, now parsec.DateTime) (int64, error)
}

// Tx is a transaction. Its methods return errors wrapping ErrNotFound / ErrExists where
// documented, and other errors for storage failures.
type Tx interface {
	RealmTx
	DataTx
	RecoveryTx

	// Organization returns an organization, or ErrNotFound.
	Organization(id parsec.OrganizationID) (Organization, error)
	// PutOrganization inserts an organization or replaces the stored one with the same ID.
	PutOrganization(o Organization) error
	// Organizations lists every organization, ordered by ID.
	Organizations() ([]Organization, error)

	// AddCertificate appends a certificate to a topic of an organization. The store keeps the
	// order of insertion for certificates of equal timestamps.
	AddCertificate(org parsec.OrganizationID, c Certificate) error
	// Certificates returns the certificates of a topic with a timestamp strictly greater than
	// after, ordered by timestamp then insertion.
	Certificates(org parsec.OrganizationID, topic Topic, after parsec.DateTime) ([]Certificate, error)
	// LastTimestamp returns the greatest timestamp in a topic, or zero when it is empty.
	LastTimestamp(org parsec.OrganizationID, topic Topic) (parsec.DateTime, error)
	// Topics lists the realm topics of an organization that have certificates.
	RealmTopics(org parsec.OrganizationID) ([]Topic, error)

	// InsertUser adds a user, or returns ErrExists if the ID is taken.
	InsertUser(org parsec.OrganizationID, u User) error
	// UpdateUser replaces a stored user (same ID), or returns ErrNotFound.
	UpdateUser(org parsec.OrganizationID, u User) error
	// User returns a user by ID, or ErrNotFound.
	User(org parsec.OrganizationID, id parsec.UserID) (User, error)
	// ActiveUserByEmail returns the non-revoked user with this email, or ErrNotFound.
	ActiveUserByEmail(org parsec.OrganizationID, email string) (User, error)
	// Users lists every user of an organization (revoked ones included), by creation time.
	Users(org parsec.OrganizationID) ([]User, error)

	// InsertDevice adds a device, or returns ErrExists if the ID is taken.
	InsertDevice(org parsec.OrganizationID, d Device) error
	// Device returns a device by ID, or ErrNotFound.
	Device(org parsec.OrganizationID, id parsec.DeviceID) (Device, error)
	// Devices lists a user's devices, by creation time.
	Devices(org parsec.OrganizationID, user parsec.UserID) ([]Device, error)

	// InsertInvitation adds an invitation, or returns ErrExists if the token is taken.
	InsertInvitation(org parsec.OrganizationID, inv Invitation) error
	// UpdateInvitation replaces a stored invitation (same token), or returns ErrNotFound.
	UpdateInvitation(org parsec.OrganizationID, inv Invitation) error
	// Invitation returns an invitation by token, or ErrNotFound.
	Invitation(org parsec.OrganizationID, token parsec.AccessToken) (Invitation, error)
	// PendingUserInvitation returns the pending (not deleted) user invitation for an email,
	// or ErrNotFound.
	PendingUserInvitation(org parsec.OrganizationID, email string) (Invitation, error)
	// PendingInvitationFor returns the pending invitation of a type (InvitationDevice or
	// InvitationRecovery) whose claimer is a user, or ErrNotFound.
	PendingInvitationFor(org parsec.OrganizationID, typ string, user parsec.UserID) (Invitation, error)
	// Invitations lists every invitation of an organization (pending, finished and
	// cancelled), by creation time, then insertion order.
	Invitations(org parsec.OrganizationID) ([]Invitation, error)

	// InsertGreetingAttempt adds a greeting attempt, or returns ErrExists if its ID is taken.
	// Its invitation must exist. The handlers keep at most one active attempt per
	// (invitation, greeter).
	InsertGreetingAttempt(org parsec.OrganizationID, a GreetingAttempt) error
	// UpdateGreetingAttempt replaces a stored attempt (same ID), or returns ErrNotFound.
	UpdateGreetingAttempt(org parsec.OrganizationID, a GreetingAttempt) error
	// GreetingAttempt returns an attempt by ID, or ErrNotFound.
	GreetingAttempt(org parsec.OrganizationID, id parsec.GreetingAttemptID) (GreetingAttempt, error)
	// GreetingAttempts lists the attempts of an invitation, by creation time then insertion
	// order (all greeters).
	GreetingAttempts(org parsec.OrganizationID, token parsec.AccessToken) ([]GreetingAttempt, error)
}

// Invitation types and deletion reasons.
const (
	InvitationUser     = "USER"
	InvitationDevice   = "DEVICE"
	InvitationRecovery = "SHAMIR_RECOVERY"

	DeletedFinished  = "FINISHED"
	DeletedCancelled = "CANCELLED"
)

// Invitation is an invitation to join an organization (USER) or to add a device (DEVICE).
type Invitation struct {
	Token           parsec.AccessToken
	Type            string // InvitationUser or InvitationDevice
	CreatedOn       parsec.DateTime
	CreatedBy       parsec.UserID
	CreatedByDevice parsec.DeviceID
	ClaimerEmail    string        // USER: the invited email
	ClaimerUserID   parsec.UserID // DEVICE: the user adding a device; SHAMIR_RECOVERY: the user to recover
	DeletedOn       parsec.DateTime
	DeletedReason   string // "" while pending, DeletedFinished or DeletedCancelled
}

// Pending reports whether the invitation can still be claimed.
func (i Invitation) Pending() bool { return i.DeletedOn.IsZero() }

// Greeting attempt sides and cancellation reasons.
const (
	SideGreeter = "GREETER"
	SideClaimer = "CLAIMER"
)

// GreetingAttempt is one attempt of a greeter and a claimer to run the invitation exchange.
// Steps hold each side's opaque step payloads, in order: step i of a side is Steps[i].
type GreetingAttempt struct {
	ID            parsec.GreetingAttemptID
	Token         parsec.AccessToken
	Greeter       parsec.UserID
	CreatedOn     parsec.DateTime
	GreeterJoined parsec.DateTime // zero until the greeter joins
	ClaimerJoined parsec.DateTime // zero until the claimer joins
	CancelledOn   parsec.DateTime // zero while active
	CancelledBy   string          // SideGreeter or SideClaimer
	CancelReason  string
	GreeterSteps  [][]byte
	ClaimerSteps  [][]byte
}

// Active reports whether the attempt is not cancelled.
func (a GreetingAttempt) Active() bool { return a.CancelledOn.IsZero() }

// Organization is an organization's record.
type Organization struct {
	ID             parsec.OrganizationID
	CreatedOn      parsec.DateTime
	BootstrapToken parsec.AccessToken
	// RootVerifyKey is nil until the organization is bootstrapped.
	RootVerifyKey  []byte
	BootstrappedOn parsec.DateTime
	Config         OrganizationConfig
}

// Bootstrapped reports whether the organization has its first user.
func (o Organization) Bootstrapped() bool { return o.RootVerifyKey != nil }

// OrganizationConfig is the part of an organization the server administrator controls.
type OrganizationConfig struct {
	IsExpired                  bool
	UserProfileOutsiderAllowed bool
	ActiveUsersLimit           *int64 // nil: no limit
	MinimumArchivingPeriod     int64  // seconds
}

// Topic names a certificate topic: "common", "realm/<realm ID hex>" or
// "recovery/<user ID hex>".
type Topic string

// CommonTopic is the topic of users, devices, profile changes and revocations.
const CommonTopic Topic = "common"

// RealmTopic is the topic of one realm.
func RealmTopic(id parsec.VlobID) Topic { return Topic("realm/" + id.String()) }

// RecoveryTopic is the shared-recovery topic of one user.
func RecoveryTopic(user parsec.UserID) Topic { return Topic("recovery/" + user.String()) }

// Realm returns the realm of a realm topic.
func (t Topic) Realm() (parsec.VlobID, bool) {
	s, ok := strings.CutPrefix(string(t), "realm/")
	if !ok {
		return parsec.VlobID{}, false
	}
	id, err := parsec.ParseVlobID(s)
	return id, err == nil
}

// Certificate is a stored certificate: its bytes as signed by its author, and the redacted
// flavour for user and device certificates (nil for the other kinds).
type Certificate struct {
	Topic     Topic
	Timestamp parsec.DateTime
	Kind      string
	Data      []byte
	Redacted  []byte
}

// User is a user's record: clear fields the handlers need, and the certificates.
type User struct {
	ID                  parsec.UserID
	Email               string
	Name                string
	InitialProfile      parsec.UserProfile
	Profile             parsec.UserProfile // current profile
	CreatedOn           parsec.DateTime
	CreatedBy           *parsec.DeviceID // nil: the root key (bootstrap)
	RevokedOn           parsec.DateTime  // zero: not revoked
	RevokedBy           *parsec.DeviceID
	Frozen              bool
	Certificate         []byte
	RedactedCertificate []byte
	// ProfileHistory lists the profile changes, in order (Profile is the last one's, or
	// InitialProfile when there is none).
	ProfileHistory []ProfileChange
}

// ProfileChange is one change of a user's profile, by a user update certificate.
type ProfileChange struct {
	On      parsec.DateTime    `cbor:"on"`
	By      parsec.DeviceID    `cbor:"by"`
	Profile parsec.UserProfile `cbor:"profile"`
}

// Revoked reports whether the user is revoked.
func (u User) Revoked() bool { return !u.RevokedOn.IsZero() }

// Device is a device's record.
type Device struct {
	ID                  parsec.DeviceID
	UserID              parsec.UserID
	Label               string
	VerifyKey           []byte
	CreatedOn           parsec.DateTime
	CreatedBy           *parsec.DeviceID // nil: the root key (bootstrap)
	Certificate         []byte
	RedactedCertificate []byte
}
