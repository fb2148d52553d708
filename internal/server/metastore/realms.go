package metastore

import "github.com/parsec-go/parsec/internal/parsec"

// Archiving configurations of a realm.
const (
	ArchivingAvailable       = "AVAILABLE"
	ArchivingArchived        = "ARCHIVED"
	ArchivingDeletionPlanned = "DELETION_PLANNED"
)

// Realm is a realm's (workspace's) record. The certificates themselves are stored in the
// realm's topic; this is what the handlers need to check requests quickly.
type Realm struct {
	ID        parsec.VlobID
	CreatedOn parsec.DateTime
	// KeyIndex is the realm's last key index: 0 until the first key rotation.
	KeyIndex     uint64
	Archiving    string          // one of the Archiving constants
	DeletionDate parsec.DateTime // set with ArchivingDeletionPlanned
	Named        bool            // a name certificate exists
}

// ReadOnly reports whether the realm refuses data writes (archived or deletion planned).
func (r Realm) ReadOnly() bool { return r.Archiving != ArchivingAvailable }

// RealmRole is one role change of a user in a realm; Role is parsec.RoleNone when the
// user was removed.
type RealmRole struct {
	User parsec.UserID
	Role parsec.RealmRole
	On   parsec.DateTime
	By   parsec.DeviceID
}

// KeysBundle is what a key rotation stored: the encrypted bundle of every key so far and
// the canary of the new key.
type KeysBundle struct {
	KeyIndex uint64
	On       parsec.DateTime
	By       parsec.DeviceID
	Canary   []byte
	Bundle   []byte
}

// RealmTx is the realm part of a transaction (embedded in Tx).
type RealmTx interface {
	// InsertRealm adds a realm, or returns ErrExists if the ID is taken.
	InsertRealm(org parsec.OrganizationID, r Realm) error
	// UpdateRealm replaces a stored realm (same ID), or returns ErrNotFound.
	UpdateRealm(org parsec.OrganizationID, r Realm) error
	// Realm returns a realm, or ErrNotFound.
	Realm(org parsec.OrganizationID, id parsec.VlobID) (Realm, error)

	// AddRealmRole records a role change (the realm must exist).
	AddRealmRole(org parsec.OrganizationID, realm parsec.VlobID, r RealmRole) error
	// RealmRoles returns every role change of a realm, in order.
	RealmRoles(org parsec.OrganizationID, realm parsec.VlobID) ([]RealmRole, error)
	// CurrentRealmRole returns a user's current role in a realm, parsec.RoleNone if none
	// (also when the realm does not exist).
	CurrentRealmRole(org parsec.OrganizationID, realm parsec.VlobID, user parsec.UserID) (parsec.RealmRole, error)
	// RealmMembers returns the last role change of each user whose current role is not
	// RoleNone, ordered by user ID.
	RealmMembers(org parsec.OrganizationID, realm parsec.VlobID) ([]RealmRole, error)
	// UserRealms lists the realms where a user has or ever had a role, ordered by ID.
	UserRealms(org parsec.OrganizationID, user parsec.UserID) ([]parsec.VlobID, error)
	// UserRealmRoles returns the last role change of a user in each realm where it has or
	// ever had a role (Role is parsec.RoleNone where it was removed). Certificate
	// retrieval uses it to cut the topic of a realm the user left at its removal.
	UserRealmRoles(org parsec.OrganizationID, user parsec.UserID) (map[parsec.VlobID]RealmRole, error)

	// InsertKeysBundle records a key rotation's bundle and the access of each participant,
	// or returns ErrExists if the realm already has this key index.
	InsertKeysBundle(org parsec.OrganizationID, realm parsec.VlobID, b KeysBundle, access map[parsec.UserID][]byte) error
	// KeysBundle returns the bundle of a key index, or ErrNotFound.
	KeysBundle(org parsec.OrganizationID, realm parsec.VlobID, keyIndex uint64) (KeysBundle, error)
	// PutKeysBundleAccess records a user's access to a key index (given when the user is
	// shared the realm), replacing any earlier one.
	PutKeysBundleAccess(org parsec.OrganizationID, realm parsec.VlobID, keyIndex uint64, user parsec.UserID, access []byte) error
	// KeysBundleAccess returns a user's latest access to a key index, or ErrNotFound.
	KeysBundleAccess(org parsec.OrganizationID, realm parsec.VlobID, keyIndex uint64, user parsec.UserID) ([]byte, error)
}
