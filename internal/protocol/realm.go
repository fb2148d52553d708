package protocol

import "github.com/parsec-go/parsec/internal/parsec"

// Realm (workspace) commands. Every one carries certificates the server checks with the
// same engine as clients (internal/certif), in a write transaction.
const (
	CmdRealmCreate          = "realm_create"
	CmdRealmShare           = "realm_share"
	CmdRealmUnshare         = "realm_unshare"
	CmdRealmSelfPromote     = "realm_self_promote_to_owner"
	CmdRealmRename          = "realm_rename"
	CmdRealmRotateKey       = "realm_rotate_key"
	CmdRealmGetKeysBundle   = "realm_get_keys_bundle"
	CmdRealmUpdateArchiving = "realm_update_archiving"
)

// Realm statuses (see StatusKind for their kinds).
const (
	StatusRealmNotFound                Status = "realm_not_found"
	StatusRealmAlreadyExists           Status = "realm_already_exists" // detail: LastCertificateTimestamp
	StatusRealmDeleted                 Status = "realm_deleted"        //
	StatusRealmArchived                Status = "realm_archived"       // writes refused: archived or deletion planned
	StatusRecipientNotFound            Status = "recipient_not_found"  //
	StatusRecipientRevoked             Status = "recipient_revoked"    //
	StatusRoleIncompatibleWithOutsider Status = "role_incompatible_with_outsider"
	StatusRoleAlreadyGranted           Status = "role_already_granted"        // detail: LastCertificateTimestamp
	StatusRecipientAlreadyUnshared     Status = "recipient_already_unshared"  // detail: LastCertificateTimestamp
	StatusActiveOwnerAlreadyExists     Status = "active_owner_already_exists" // detail: LastCertificateTimestamp
	StatusAuthorIsOutsider             Status = "author_is_outsider"
	StatusInitialNameAlreadyExists     Status = "initial_name_already_exists" // detail: LastCertificateTimestamp
	StatusBadKeyIndex                  Status = "bad_key_index"               // detail: LastCertificateTimestamp (realm topic)
	StatusParticipantMismatch          Status = "participant_mismatch"        // detail: LastCertificateTimestamp
	StatusAccessNotAvailableForAuthor  Status = "access_not_available_for_author"
	StatusArchivingPeriodTooShort      Status = "archiving_period_too_short"
)

// RealmCreateReq creates a realm with its first role certificate: self-signed, OWNER, the
// realm ID a new random VlobID. The creator then rotates the first key (index 1) and names
// the realm.
type RealmCreateReq struct {
	RealmRoleCertificate []byte `cbor:"realm_role_certificate"`
}

// RealmShareReq gives a user a role (new or changed). RecipientKeysBundleAccess is the
// access to the bundle of KeyIndex, which must be the realm's last key index, sealed for
// the recipient's user key.
type RealmShareReq struct {
	RealmRoleCertificate      []byte `cbor:"realm_role_certificate"`
	RecipientKeysBundleAccess []byte `cbor:"recipient_keys_bundle_access"`
	KeyIndex                  uint64 `cbor:"key_index"`
}

// RealmUnshareReq removes a user's role (a role certificate without role).
type RealmUnshareReq struct {
	RealmRoleCertificate []byte `cbor:"realm_role_certificate"`
}

// RealmSelfPromoteReq makes its author OWNER when no active owner remains.
type RealmSelfPromoteReq struct {
	RealmRoleCertificate []byte `cbor:"realm_role_certificate"`
}

// RealmRenameReq sets a realm's name. With InitialNameOrFail the server refuses if the
// realm already has a name (idempotent first naming).
type RealmRenameReq struct {
	RealmNameCertificate []byte `cbor:"realm_name_certificate"`
	InitialNameOrFail    bool   `cbor:"initial_name_or_fail"`
}

// RealmRotateKeyReq introduces a new realm key. KeysBundle is the signed then encrypted
// bundle of every key so far; PerParticipantKeysBundleAccess holds the bundle key sealed
// for each current member, exactly.
type RealmRotateKeyReq struct {
	RealmKeyRotationCertificate    []byte                   `cbor:"realm_key_rotation_certificate"`
	PerParticipantKeysBundleAccess map[parsec.UserID][]byte `cbor:"per_participant_keys_bundle_access"`
	KeysBundle                     []byte                   `cbor:"keys_bundle"`
}

// RealmGetKeysBundleReq asks for the bundle of a key index and the caller's access to it
// (the latest one: from the rotation, or from a later share).
type RealmGetKeysBundleReq struct {
	RealmID  parsec.VlobID `cbor:"realm_id"`
	KeyIndex uint64        `cbor:"key_index"`
}

type RealmGetKeysBundleRep struct {
	KeysBundleAccess []byte `cbor:"keys_bundle_access"`
	KeysBundle       []byte `cbor:"keys_bundle"`
}

// RealmUpdateArchivingReq changes a realm's archiving configuration.
type RealmUpdateArchivingReq struct {
	RealmArchivingCertificate []byte `cbor:"realm_archiving_certificate"`
}

// Empty replies of the realm commands.
type RealmRep struct{}
