package certif

import (
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// State is what the validation rules need to know of the certificates accepted so far. The
// client answers from memory (Memory); the server answers from its database, inside the
// transaction that will store the new certificate, so that two concurrent certificates
// cannot both pass against the same state.
//
// Every method may fail (a database may); Validate then returns that error wrapped, not a
// rejection. "Not found" is not an error: methods report it with ok == false or a zero
// value.
type State interface {
	// LastTimestamp returns the timestamp of the last certificate of topic t, or zero when
	// the topic is empty. A realm exists exactly when its topic is not empty.
	LastTimestamp(t Topic) (parsec.DateTime, error)
	// LookupUser returns a user with its whole profile history, revocation and device
	// list, or ok == false if no user certificate created it.
	LookupUser(id parsec.UserID) (u User, ok bool, err error)
	// LookupDevice returns a device, or ok == false if no device certificate created it.
	LookupDevice(id parsec.DeviceID) (d Device, ok bool, err error)
	// RealmRole returns the current role of a user in a realm (parsec.RoleNone when the user
	// never had one, or had it removed).
	RealmRole(realm parsec.VlobID, user parsec.UserID) (parsec.RealmRole, error)
	// RealmMembers returns every user whose current role in the realm is not RoleNone, in
	// any order.
	RealmMembers(realm parsec.VlobID) ([]Member, error)
	// RealmKeyIndex returns the index of the realm's last key rotation, 0 before the first.
	RealmKeyIndex(realm parsec.VlobID) (uint64, error)
	// LastRecovery returns the last certificate of a user's shared-recovery topic: a
	// *RecoverySetupCertificate (the setup in force), a *RecoveryDeletionCertificate (none
	// in force), or nil when the topic is empty.
	LastRecovery(user parsec.UserID) (Certificate, error)
	// PointAt returns the point of topic t's history after its last certificate of
	// timestamp ts (see chain.go), or the zero Point when no certificate has it.
	PointAt(t Topic, ts parsec.DateTime) (Point, error)
}

// Realm roles need no "as of" lookup: a realm's certificates have strictly increasing
// timestamps and a new one must come after all of them, so a realm's current state is its
// state at the new certificate's timestamp. The common topic is different: a realm
// certificate is checked against users' profiles and revocations at its own timestamp, even
// when later common certificates are already known.

// User is a user as the certificates describe it.
type User struct {
	ID             parsec.UserID
	HumanHandle    *parsec.HumanHandle // nil in the redacted flavour; see Handle
	PublicKey      crypto.UserPublicKey
	CreatedOn      parsec.DateTime
	CreatedBy      *parsec.DeviceID // nil: the root key, at bootstrap
	InitialProfile parsec.UserProfile
	Updates        []ProfileUpdate   // profile changes, in order
	RevokedOn      parsec.DateTime   // zero if not revoked
	RevokedBy      *parsec.DeviceID  // nil if not revoked
	Devices        []parsec.DeviceID // in order of creation
}

// ProfileUpdate is one change of a user's profile.
type ProfileUpdate struct {
	On      parsec.DateTime
	By      parsec.DeviceID
	Profile parsec.UserProfile
}

// Device is a device as its certificate describes it.
type Device struct {
	ID        parsec.DeviceID
	UserID    parsec.UserID
	Label     *string // nil in the redacted flavour; see DisplayLabel
	VerifyKey crypto.VerifyKey
	CreatedOn parsec.DateTime
	CreatedBy *parsec.DeviceID // nil: the root key, at bootstrap
	Recovery  bool             // a recovery device (RecoveryPurpose or SharedRecoveryPurpose)
}

// Member is a user's current role in a realm.
type Member struct {
	UserID parsec.UserID
	Role   parsec.RealmRole
	Since  parsec.DateTime // timestamp of the certificate that gave the role
	By     parsec.DeviceID // its author
}

// Profile returns the user's current profile.
func (u User) Profile() parsec.UserProfile {
	if n := len(u.Updates); n > 0 {
		return u.Updates[n-1].Profile
	}
	return u.InitialProfile
}

// ProfileAt returns the user's profile at time t (the initial profile before the first
// change, even for t before the user's creation).
func (u User) ProfileAt(t parsec.DateTime) parsec.UserProfile {
	p := u.InitialProfile
	for _, up := range u.Updates {
		if up.On > t {
			break
		}
		p = up.Profile
	}
	return p
}

// Revoked reports whether the user is revoked.
func (u User) Revoked() bool { return u.RevokedOn != 0 }

// RevokedAt reports whether the user is revoked at time t: a user revoked at R is revoked
// for every certificate of timestamp R or later.
func (u User) RevokedAt(t parsec.DateTime) bool { return u.RevokedOn != 0 && t >= u.RevokedOn }

// Handle returns the human handle, or the redacted placeholder when the certificate was
// redacted.
func (u User) Handle() parsec.HumanHandle {
	if u.HumanHandle == nil {
		return parsec.RedactedHandle(u.ID)
	}
	return *u.HumanHandle
}

// DisplayLabel returns the device label, or the redacted placeholder when the certificate
// was redacted.
func (d Device) DisplayLabel() string {
	if d.Label == nil {
		return parsec.RedactedDeviceLabel(d.ID)
	}
	return *d.Label
}
