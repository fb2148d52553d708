package certif

import (
	"strconv"
	"strings"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// The kinds of certificate, as written in their "type" field.
const (
	KindUser             = "user_certificate"
	KindDevice           = "device_certificate"
	KindUserUpdate       = "user_update_certificate"
	KindRevokedUser      = "revoked_user_certificate"
	KindRealmRole        = "realm_role_certificate"
	KindRealmName        = "realm_name_certificate"
	KindRealmKeyRotation = "realm_key_rotation_certificate"
	KindRealmArchiving   = "realm_archiving_certificate"
	KindRecoverySetup    = "shamir_recovery_brief_certificate"
	KindRecoveryShare    = "shamir_recovery_share_certificate"
	KindRecoveryDeletion = "shamir_recovery_deletion_certificate"
)

// Algorithm names that certificates must carry. A certificate naming another algorithm is
// refused: a new algorithm means a new version of this package, not a silent downgrade.
const (
	DeviceKeyAlgorithm    = "ED25519"                      // DeviceCertificate.Algorithm
	DevicePurpose         = "STANDARD"                     // DeviceCertificate.Purpose of an ordinary device
	RecoveryPurpose       = "PASSPHRASE_RECOVERY"          // DeviceCertificate.Purpose of a recovery device (see parsec device export-recovery)
	SharedRecoveryPurpose = "SHAMIR_RECOVERY"              // DeviceCertificate.Purpose of the device a shared-recovery setup protects
	EncryptionAlgorithm   = "XCHACHA20POLY1305-HKDFSHA256" // RealmKeyRotationCertificate.EncryptionAlgorithm
	HashAlgorithm         = "SHA256"                       // RealmKeyRotationCertificate.HashAlgorithm
)

// Archiving configurations of a realm.
const (
	ArchivingAvailable       = "AVAILABLE"
	ArchivingArchived        = "ARCHIVED"
	ArchivingDeletionPlanned = "DELETION_PLANNED"
)

// Certificate is one of the certificate types of this package (always a pointer:
// *UserCertificate, *DeviceCertificate, …). The set is closed.
type Certificate interface {
	// Kind is the certificate's type, e.g. "user_certificate".
	Kind() string
	// Signer is the device that signed it; nil means the organization root key.
	Signer() *parsec.DeviceID
	// When is the certificate's timestamp.
	When() parsec.DateTime
	// Topic is the topic the certificate belongs to.
	Topic() Topic

	// SeenView is the point of the certificate history its signer had validated when it
	// signed (nil for certificates signed without one).
	SeenView() *View

	setType()
	seen() *Seen
	check() error // field validity, independent of any other certificate
}

// Seen is embedded in every certificate: the point of the certificate history its signer
// had validated when it signed (see chain.go). Readers check that their own history agrees.
type Seen struct {
	View *View `cbor:"seen,omitempty"`
}

// SeenView returns the view signed in the certificate, or nil.
func (s *Seen) SeenView() *View { return s.View }

func (s *Seen) seen() *Seen { return s }

// Topic is a sequence of certificates with strictly increasing timestamps: the common topic
// (users, devices, profile changes, revocations), the topic of one realm (roles, names,
// key rotations, archiving), or the shared-recovery topic of one user (setups and their
// deletions, see recovery.go). The zero Topic is the common topic.
type Topic struct {
	Realm    parsec.VlobID // set for a realm's topic
	Recovery parsec.UserID // set for a user's shared-recovery topic
}

// CommonTopic is the topic of user, device, user update and revoked user certificates.
var CommonTopic = Topic{}

// RealmTopic is the topic of one realm's certificates.
func RealmTopic(id parsec.VlobID) Topic { return Topic{Realm: id} }

// RecoveryTopic is the topic of one user's shared-recovery setups.
func RecoveryTopic(user parsec.UserID) Topic { return Topic{Recovery: user} }

// IsCommon reports whether t is the common topic.
func (t Topic) IsCommon() bool { return t.Realm.IsZero() && t.Recovery.IsZero() }

// IsRecovery reports whether t is a user's shared-recovery topic.
func (t Topic) IsRecovery() bool { return !t.Recovery.IsZero() }

func (t Topic) String() string {
	switch {
	case t.IsRecovery():
		return "recovery " + t.Recovery.String()
	case t.IsCommon():
		return "common"
	}
	return "realm " + t.Realm.String()
}

// UserCertificate creates a user. Its author is a device of an administrator, or the
// organization root key (nil) for the first user, at bootstrap.
type UserCertificate struct {
	Type        string               `cbor:"type"`
	Author      *parsec.DeviceID     `cbor:"author"`
	Timestamp   parsec.DateTime      `cbor:"timestamp"`
	UserID      parsec.UserID        `cbor:"user_id"`
	HumanHandle *parsec.HumanHandle  `cbor:"human_handle"` // nil in the redacted flavour
	PublicKey   crypto.UserPublicKey `cbor:"public_key"`
	Algorithm   string               `cbor:"algorithm"`
	Profile     parsec.UserProfile   `cbor:"profile"`
	Seen
}

// DeviceCertificate creates a device: the first device of a new user (same author and
// timestamp as the user certificate), or a new device a user makes for itself.
type DeviceCertificate struct {
	Type        string           `cbor:"type"`
	Author      *parsec.DeviceID `cbor:"author"`
	Timestamp   parsec.DateTime  `cbor:"timestamp"`
	UserID      parsec.UserID    `cbor:"user_id"`
	DeviceID    parsec.DeviceID  `cbor:"device_id"`
	DeviceLabel *string          `cbor:"device_label"` // nil in the redacted flavour
	VerifyKey   crypto.VerifyKey `cbor:"verify_key"`
	Algorithm   string           `cbor:"algorithm"`
	Purpose     string           `cbor:"purpose"`
	Seen
}

// UserUpdateCertificate changes a user's profile.
type UserUpdateCertificate struct {
	Type       string             `cbor:"type"`
	Author     parsec.DeviceID    `cbor:"author"`
	Timestamp  parsec.DateTime    `cbor:"timestamp"`
	UserID     parsec.UserID      `cbor:"user_id"`
	NewProfile parsec.UserProfile `cbor:"new_profile"`
	Seen
}

// RevokedUserCertificate revokes a user, for good.
type RevokedUserCertificate struct {
	Type      string          `cbor:"type"`
	Author    parsec.DeviceID `cbor:"author"`
	Timestamp parsec.DateTime `cbor:"timestamp"`
	UserID    parsec.UserID   `cbor:"user_id"`
	Seen
}

// RealmRoleCertificate gives a user a role in a realm, changes it, or removes it
// (Role == parsec.RoleNone, encoded by leaving the "role" field out). The first one of a
// realm creates the realm.
type RealmRoleCertificate struct {
	Type      string           `cbor:"type"`
	Author    parsec.DeviceID  `cbor:"author"`
	Timestamp parsec.DateTime  `cbor:"timestamp"`
	RealmID   parsec.VlobID    `cbor:"realm_id"`
	UserID    parsec.UserID    `cbor:"user_id"`
	Role      parsec.RealmRole `cbor:"role,omitempty"`
	Seen
}

// RealmNameCertificate names a realm; the name is encrypted with the realm key KeyIndex.
type RealmNameCertificate struct {
	Type          string          `cbor:"type"`
	Author        parsec.DeviceID `cbor:"author"`
	Timestamp     parsec.DateTime `cbor:"timestamp"`
	RealmID       parsec.VlobID   `cbor:"realm_id"`
	KeyIndex      uint64          `cbor:"key_index"`
	EncryptedName []byte          `cbor:"encrypted_name"`
	Seen
}

// RealmKeyRotationCertificate introduces the realm key KeyIndex (1 for the first key). The
// canary is the empty message encrypted with that key, so that members can check the key
// they received is the genuine one.
type RealmKeyRotationCertificate struct {
	Type                string          `cbor:"type"`
	Author              parsec.DeviceID `cbor:"author"`
	Timestamp           parsec.DateTime `cbor:"timestamp"`
	RealmID             parsec.VlobID   `cbor:"realm_id"`
	KeyIndex            uint64          `cbor:"key_index"`
	EncryptionAlgorithm string          `cbor:"encryption_algorithm"`
	HashAlgorithm       string          `cbor:"hash_algorithm"`
	KeyCanary           []byte          `cbor:"key_canary"`
	Seen
}

// RealmArchivingCertificate sets a realm's archiving configuration. DeletionDate is set
// with ArchivingDeletionPlanned only.
type RealmArchivingCertificate struct {
	Type          string          `cbor:"type"`
	Author        parsec.DeviceID `cbor:"author"`
	Timestamp     parsec.DateTime `cbor:"timestamp"`
	RealmID       parsec.VlobID   `cbor:"realm_id"`
	Configuration string          `cbor:"configuration"`
	DeletionDate  parsec.DateTime `cbor:"deletion_date,omitempty"`
	Seen
}

func (c *UserCertificate) Kind() string             { return KindUser }
func (c *DeviceCertificate) Kind() string           { return KindDevice }
func (c *UserUpdateCertificate) Kind() string       { return KindUserUpdate }
func (c *RevokedUserCertificate) Kind() string      { return KindRevokedUser }
func (c *RealmRoleCertificate) Kind() string        { return KindRealmRole }
func (c *RealmNameCertificate) Kind() string        { return KindRealmName }
func (c *RealmKeyRotationCertificate) Kind() string { return KindRealmKeyRotation }
func (c *RealmArchivingCertificate) Kind() string   { return KindRealmArchiving }

func (c *UserCertificate) Signer() *parsec.DeviceID             { return c.Author }
func (c *DeviceCertificate) Signer() *parsec.DeviceID           { return c.Author }
func (c *UserUpdateCertificate) Signer() *parsec.DeviceID       { return &c.Author }
func (c *RevokedUserCertificate) Signer() *parsec.DeviceID      { return &c.Author }
func (c *RealmRoleCertificate) Signer() *parsec.DeviceID        { return &c.Author }
func (c *RealmNameCertificate) Signer() *parsec.DeviceID        { return &c.Author }
func (c *RealmKeyRotationCertificate) Signer() *parsec.DeviceID { return &c.Author }
func (c *RealmArchivingCertificate) Signer() *parsec.DeviceID   { return &c.Author }

func (c *UserCertificate) When() parsec.DateTime             { return c.Timestamp }
func (c *DeviceCertificate) When() parsec.DateTime           { return c.Timestamp }
func (c *UserUpdateCertificate) When() parsec.DateTime       { return c.Timestamp }
func (c *RevokedUserCertificate) When() parsec.DateTime      { return c.Timestamp }
func (c *RealmRoleCertificate) When() parsec.DateTime        { return c.Timestamp }
func (c *RealmNameCertificate) When() parsec.DateTime        { return c.Timestamp }
func (c *RealmKeyRotationCertificate) When() parsec.DateTime { return c.Timestamp }
func (c *RealmArchivingCertificate) When() parsec.DateTime   { return c.Timestamp }

func (c *UserCertificate) Topic() Topic             { return CommonTopic }
func (c *DeviceCertificate) Topic() Topic           { return CommonTopic }
func (c *UserUpdateCertificate) Topic() Topic       { return CommonTopic }
func (c *RevokedUserCertificate) Topic() Topic      { return CommonTopic }
func (c *RealmRoleCertificate) Topic() Topic        { return RealmTopic(c.RealmID) }
func (c *RealmNameCertificate) Topic() Topic        { return RealmTopic(c.RealmID) }
func (c *RealmKeyRotationCertificate) Topic() Topic { return RealmTopic(c.RealmID) }
func (c *RealmArchivingCertificate) Topic() Topic   { return RealmTopic(c.RealmID) }

func (c *UserCertificate) setType()             { c.Type = KindUser }
func (c *DeviceCertificate) setType()           { c.Type = KindDevice }
func (c *UserUpdateCertificate) setType()       { c.Type = KindUserUpdate }
func (c *RevokedUserCertificate) setType()      { c.Type = KindRevokedUser }
func (c *RealmRoleCertificate) setType()        { c.Type = KindRealmRole }
func (c *RealmNameCertificate) setType()        { c.Type = KindRealmName }
func (c *RealmKeyRotationCertificate) setType() { c.Type = KindRealmKeyRotation }
func (c *RealmArchivingCertificate) setType()   { c.Type = KindRealmArchiving }

// newCertificate returns an empty certificate of the given kind, or nil.
func newCertificate(kind string) Certificate {
	switch kind {
	case KindUser:
		return new(UserCertificate)
	case KindDevice:
		return new(DeviceCertificate)
	case KindUserUpdate:
		return new(UserUpdateCertificate)
	case KindRevokedUser:
		return new(RevokedUserCertificate)
	case KindRealmRole:
		return new(RealmRoleCertificate)
	case KindRealmName:
		return new(RealmNameCertificate)
	case KindRealmKeyRotation:
		return new(RealmKeyRotationCertificate)
	case KindRealmArchiving:
		return new(RealmArchivingCertificate)
	case KindRecoverySetup:
		return new(RecoverySetupCertificate)
	case KindRecoveryShare:
		return new(RecoveryShareCertificate)
	case KindRecoveryDeletion:
		return new(RecoveryDeletionCertificate)
	}
	return nil
}

// label is how messages name a kind: "realm role certificate".
func label(kind string) string { return strings.ReplaceAll(kind, "_", " ") }

// Field checks. Each returns nil or a short description of the first invalid field.

type fieldError string

func (c *UserCertificate) check() error {
	if err := checkCommon(c.Author, c.Timestamp); err != nil {
		return err
	}
	switch {
	case c.UserID.IsZero():
		return fieldError("user_id is zero")
	case c.HumanHandle != nil && c.HumanHandle.Validate() != nil:
		return fieldError("human_handle: " + c.HumanHandle.Validate().Error())
	case c.PublicKey.IsZero():
		return fieldError("public_key is missing")
	case c.Algorithm != crypto.UserKeyAlgorithm:
		return fieldError("algorithm " + quote(c.Algorithm) + " is not " + crypto.UserKeyAlgorithm)
	case !c.Profile.Valid():
		return fieldError("profile " + quote(string(c.Profile)) + " is not ADMIN, STANDARD or OUTSIDER")
	}
	return nil
}

func (c *DeviceCertificate) check() error {
	if err := checkCommon(c.Author, c.Timestamp); err != nil {
		return err
	}
	switch {
	case c.UserID.IsZero():
		return fieldError("user_id is zero")
	case c.DeviceID.IsZero():
		return fieldError("device_id is zero")
	case c.DeviceLabel != nil && !parsec.ValidDeviceLabel(*c.DeviceLabel):
		return fieldError("device_label " + quote(*c.DeviceLabel) + " is not a valid device label")
	case c.VerifyKey == crypto.VerifyKey{}:
		return fieldError("verify_key is zero")
	case c.Algorithm != DeviceKeyAlgorithm:
		return fieldError("algorithm " + quote(c.Algorithm) + " is not " + DeviceKeyAlgorithm)
	case c.Purpose != DevicePurpose && c.Purpose != RecoveryPurpose && c.Purpose != SharedRecoveryPurpose:
		return fieldError("purpose " + quote(c.Purpose) + " is not " + DevicePurpose + ", " + RecoveryPurpose + " or " + SharedRecoveryPurpose)
	}
	return nil
}

func (c *UserUpdateCertificate) check() error {
	if err := checkCommon(&c.Author, c.Timestamp); err != nil {
		return err
	}
	switch {
	case c.UserID.IsZero():
		return fieldError("user_id is zero")
	case !c.NewProfile.Valid():
		return fieldError("new_profile " + quote(string(c.NewProfile)) + " is not ADMIN, STANDARD or OUTSIDER")
	}
	return nil
}

func (c *RevokedUserCertificate) check() error {
	if err := checkCommon(&c.Author, c.Timestamp); err != nil {
		return err
	}
	if c.UserID.IsZero() {
		return fieldError("user_id is zero")
	}
	return nil
}

func (c *RealmRoleCertificate) check() error {
	if err := checkRealm(c.Author, c.Timestamp, c.RealmID); err != nil {
		return err
	}
	switch {
	case c.UserID.IsZero():
		return fieldError("user_id is zero")
	case c.Role != parsec.RoleNone && !c.Role.Valid():
		return fieldError("role " + quote(string(c.Role)) + " is not OWNER, MANAGER, CONTRIBUTOR or READER")
	}
	return nil
}

func (c *RealmNameCertificate) check() error {
	if err := checkRealm(c.Author, c.Timestamp, c.RealmID); err != nil {
		return err
	}
	switch {
	case c.KeyIndex == 0:
		return fieldError("key_index is 0")
	case len(c.EncryptedName) == 0:
		return fieldError("encrypted_name is empty")
	}
	return nil
}

func (c *RealmKeyRotationCertificate) check() error {
	if err := checkRealm(c.Author, c.Timestamp, c.RealmID); err != nil {
		return err
	}
	switch {
	case c.KeyIndex == 0:
		return fieldError("key_index is 0")
	case c.EncryptionAlgorithm != EncryptionAlgorithm:
		return fieldError("encryption_algorithm " + quote(c.EncryptionAlgorithm) + " is not " + EncryptionAlgorithm)
	case c.HashAlgorithm != HashAlgorithm:
		return fieldError("hash_algorithm " + quote(c.HashAlgorithm) + " is not " + HashAlgorithm)
	case len(c.KeyCanary) == 0:
		return fieldError("key_canary is empty")
	}
	return nil
}

func (c *RealmArchivingCertificate) check() error {
	if err := checkRealm(c.Author, c.Timestamp, c.RealmID); err != nil {
		return err
	}
	switch c.Configuration {
	case ArchivingAvailable, ArchivingArchived:
		if c.DeletionDate != 0 {
			return fieldError("deletion_date is set for configuration " + c.Configuration)
		}
	case ArchivingDeletionPlanned:
		if c.DeletionDate < c.Timestamp {
			return fieldError("deletion_date " + c.DeletionDate.String() + " is before the certificate's timestamp")
		}
	default:
		return fieldError("configuration " + quote(c.Configuration) + " is not AVAILABLE, ARCHIVED or DELETION_PLANNED")
	}
	return nil
}

func checkCommon(author *parsec.DeviceID, t parsec.DateTime) error {
	if author != nil && author.IsZero() {
		return fieldError("author is zero")
	}
	if t <= 0 {
		return fieldError("timestamp is not positive")
	}
	return nil
}

func checkRealm(author parsec.DeviceID, t parsec.DateTime, realm parsec.VlobID) error {
	if err := checkCommon(&author, t); err != nil {
		return err
	}
	if realm.IsZero() {
		return fieldError("realm_id is zero")
	}
	return nil
}

func (e fieldError) Error() string { return string(e) }

// quote quotes a value for a message, cutting long ones (they come from the wire).
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…"
	}
	return strconv.Quote(s)
}
