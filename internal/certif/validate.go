package certif

import (
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Validate decides whether the certificate raw may follow the certificates that s
// describes. It decodes raw, finds the author's verify key (root for a certificate signed
// by the organization root key, else the author device's key in s), checks the signature,
// then applies the rules of the certificate's kind, all evaluated at the certificate's
// timestamp. Three things may happen:
//
//   - the certificate is valid: Validate returns it, and the caller records it in s;
//   - it is not: the error has kind parsec.Invalid and wraps one of the Err sentinels;
//   - s fails: the error wraps the State's error, whatever its kind.
//
// Validate does not check the flavour (full or redacted) of user and device certificates:
// that is the holder's policy (see NewMemory, and CheckRedactedPair for the server).
// It does not check timestamps against a clock, nor ordering across topics: the server
// does that (ballpark, causality) when it accepts a certificate.
func Validate(s State, root crypto.VerifyKey, raw []byte) (Certificate, error) {
	c, err := Decode(raw)
	if err != nil {
		return nil, err
	}
	if err := validate(s, root, c, raw); err != nil {
		return nil, err
	}
	return c, nil
}

// rules applies the rules of the certificate's kind.
func (v *validator) rules() error {
	switch c := v.c.(type) {
	case *UserCertificate:
		return v.userCert(c)
	case *DeviceCertificate:
		return v.device(c)
	case *UserUpdateCertificate:
		return v.userUpdate(c)
	case *RevokedUserCertificate:
		return v.revokedUser(c)
	case *RealmRoleCertificate:
		return v.realmRole(c)
	case *RealmNameCertificate:
		return v.realmName(c)
	case *RealmKeyRotationCertificate:
		return v.realmKeyRotation(c)
	case *RealmArchivingCertificate:
		return v.realmArchiving(c)
	case *RecoverySetupCertificate:
		return v.recoverySetup(c)
	case *RecoveryDeletionCertificate:
		return v.recoveryDeletion(c)
	case *RecoveryShareCertificate:
		return v.reject(ErrNotInHistory, "a share is checked against its setup (ValidateShare), never added to a history")
	}
	panic("certif: unknown certificate type")
}

// validate applies Validate's checks to an already decoded certificate: its author, the
// rules of its kind, then the view its author signed.
func validate(s State, root crypto.VerifyKey, c Certificate, raw []byte) error {
	v := &validator{s: s, c: c, t: c.When()}
	if err := v.authenticate(root, raw); err != nil {
		return err
	}
	if err := v.rules(); err != nil {
		return err
	}
	if seen := c.SeenView(); seen != nil {
		// The author's history must be this one, up to what the author had seen.
		if err := checkView(s, c.Topic(), *seen); err != nil {
			return parsec.Wrap(err, "%s of %s", label(c.Kind()), c.When())
		}
	}
	return nil
}

type validator struct {
	s      State
	c      Certificate
	t      parsec.DateTime
	author *User // the author device's user; nil for the root key
}

func (v *validator) reject(rule error, detail string, args ...any) error {
	return reject(v.c, rule, detail, args...)
}

// authenticate finds the author, checks the signature, and that the author existed and was
// not revoked at the certificate's timestamp.
func (v *validator) authenticate(root crypto.VerifyKey, raw []byte) error {
	signer := v.c.Signer()
	if signer == nil {
		return verifySignature(v.c, raw, root)
	}
	d, ok, err := v.s.LookupDevice(*signer)
	if err != nil {
		return stateError(v.c, err)
	}
	if !ok {
		return v.reject(ErrUnknownAuthor, "no device %s", short(*signer))
	}
	if d.CreatedOn > v.t {
		return v.reject(ErrUnknownAuthor, "device %s was created later, on %s", short(d.ID), d.CreatedOn)
	}
	u, ok, err := v.s.LookupUser(d.UserID)
	if err != nil {
		return stateError(v.c, err)
	}
	if !ok {
		return v.reject(ErrUnknownAuthor, "device %s belongs to unknown user %s", short(d.ID), short(d.UserID))
	}
	if err := verifySignature(v.c, raw, d.VerifyKey); err != nil {
		return err
	}
	if u.RevokedAt(v.t) {
		return v.reject(ErrAuthorRevoked, "user %s was revoked on %s", short(u.ID), u.RevokedOn)
	}
	v.author = &u
	return nil
}

func (v *validator) last(t Topic) (parsec.DateTime, error) {
	last, err := v.s.LastTimestamp(t)
	if err != nil {
		return 0, stateError(v.c, err)
	}
	return last, nil
}

// after requires the certificate to come strictly after the last one of its topic, and
// returns that last timestamp.
func (v *validator) after(t Topic) (parsec.DateTime, error) {
	last, err := v.last(t)
	if err != nil {
		return 0, err
	}
	if v.t <= last {
		return 0, v.reject(ErrTimestampNotIncreasing, "the last certificate of the %s is of %s", topicName(t), last)
	}
	return last, nil
}

func (v *validator) requireAdmin() error {
	if p := v.author.ProfileAt(v.t); p != parsec.ProfileAdmin {
		return v.reject(ErrAuthorNotAdmin, "user %s is %s", short(v.author.ID), p)
	}
	return nil
}

// user returns a user that exists at the certificate's timestamp.
func (v *validator) user(id parsec.UserID) (User, error) {
	u, ok, err := v.s.LookupUser(id)
	if err != nil {
		return User{}, stateError(v.c, err)
	}
	if !ok {
		return User{}, v.reject(ErrUnknownUser, "no user %s", short(id))
	}
	if u.CreatedOn > v.t {
		return User{}, v.reject(ErrUnknownUser, "user %s was created later, on %s", short(id), u.CreatedOn)
	}
	return u, nil
}

func (v *validator) userCert(c *UserCertificate) error {
	if c.Author == nil {
		last, err := v.last(CommonTopic)
		if err != nil {
			return err
		}
		if last != 0 {
			return v.reject(ErrRootAfterBootstrap, "the organization was already bootstrapped")
		}
		if c.Profile != parsec.ProfileAdmin {
			return v.reject(ErrBootstrapNotAdmin, "profile %s", c.Profile)
		}
	} else {
		if _, err := v.after(CommonTopic); err != nil {
			return err
		}
		if err := v.requireAdmin(); err != nil {
			return err
		}
	}
	_, exists, err := v.s.LookupUser(c.UserID)
	if err != nil {
		return stateError(v.c, err)
	}
	if exists {
		return v.reject(ErrUserExists, "user %s", short(c.UserID))
	}
	return nil
}

func (v *validator) device(c *DeviceCertificate) error {
	last, err := v.last(CommonTopic)
	if err != nil {
		return err
	}
	if v.t < last || v.t == last && v.author != nil && v.author.ID == c.UserID {
		return v.reject(ErrTimestampNotIncreasing, "the last certificate of the %s is of %s", topicName(CommonTopic), last)
	}
	_, exists, err := v.s.LookupDevice(c.DeviceID)
	if err != nil {
		return stateError(v.c, err)
	}
	if exists {
		return v.reject(ErrDeviceExists, "device %s", short(c.DeviceID))
	}
	u, err := v.user(c.UserID)
	if err != nil {
		return err
	}
	if v.author == nil || v.author.ID != c.UserID {
		// The first device of a user created just before, by the same author, at the same
		// timestamp; the user certificate is the last certificate of the common topic.
		first := sameSigner(u.CreatedBy, c.Author) && u.CreatedOn == v.t && last == v.t && len(u.Devices) == 0
		switch {
		case !first && c.Author == nil:
			return v.reject(ErrRootAfterBootstrap, "user %s was not created by the root key at %s with no device yet", short(u.ID), v.t)
		case !first:
			return v.reject(ErrFirstDeviceMismatch, "user %s was created on %s by %s and has %d device(s)",
				short(u.ID), u.CreatedOn, signerName(u.CreatedBy), len(u.Devices))
		}
		if v.author != nil {
			if err := v.requireAdmin(); err != nil {
				return err
			}
		}
	}
	if u.RevokedAt(v.t) {
		return v.reject(ErrUserRevoked, "user %s was revoked on %s", short(u.ID), u.RevokedOn)
	}
	return nil
}

func (v *validator) userUpdate(c *UserUpdateCertificate) error {
	u, err := v.adminOnActiveUser(c.UserID, ErrSelfUpdate, "was")
	if err != nil {
		return err
	}
	if p := u.ProfileAt(v.t); p == c.NewProfile {
		return v.reject(ErrProfileUnchanged, "user %s is already %s", short(u.ID), p)
	}
	return nil
}

func (v *validator) revokedUser(c *RevokedUserCertificate) error {
	_, err := v.adminOnActiveUser(c.UserID, ErrSelfRevoke, "was already")
	return err
}

// adminOnActiveUser checks a common certificate by which an Administrator acts on another
// user who is still active (a profile change, a revocation), and returns that user. self is
// the rejection for acting on oneself; was says how a revoked target is told ("was",
// "was already").
func (v *validator) adminOnActiveUser(target parsec.UserID, self error, was string) (User, error) {
	if _, err := v.after(CommonTopic); err != nil {
		return User{}, err
	}
	if v.author.ID == target {
		return User{}, v.reject(self, "")
	}
	if err := v.requireAdmin(); err != nil {
		return User{}, err
	}
	u, err := v.user(target)
	if err != nil {
		return User{}, err
	}
	if u.RevokedAt(v.t) {
		return User{}, v.reject(ErrUserRevoked, "user %s %s revoked on %s", short(u.ID), was, u.RevokedOn)
	}
	return u, nil
}

func (v *validator) role(realm parsec.VlobID, user parsec.UserID) (parsec.RealmRole, error) {
	r, err := v.s.RealmRole(realm, user)
	if err != nil {
		return "", stateError(v.c, err)
	}
	return r, nil
}

func (v *validator) realmRole(c *RealmRoleCertificate) error {
	last, err := v.after(c.Topic())
	if err != nil {
		return err
	}
	target, err := v.user(c.UserID)
	if err != nil {
		return err
	}
	self := v.author.ID == c.UserID
	profile := target.ProfileAt(v.t)

	if last == 0 { // creation of the realm
		if !self || c.Role != parsec.RoleOwner {
			return v.reject(ErrRealmFirstNotSelfOwner, "user %s gets role %s", short(c.UserID), c.Role.Label())
		}
		if !parsec.CanCreateRealm(profile) {
			return v.reject(ErrOutsiderRole, "user %s cannot create a realm", short(c.UserID))
		}
		return nil
	}

	authorRole, err := v.role(c.RealmID, v.author.ID)
	if err != nil {
		return err
	}
	var refusal parsec.Refusal
	current := authorRole
	if self && c.Role == parsec.RoleOwner {
		// A self-promotion, by the rule of a chain, against the members as they were at
		// the certificate's timestamp.
		others, err := v.otherMembers(c.RealmID)
		if err != nil {
			return err
		}
		refusal = parsec.SelfPromotionInChain(authorRole, profile, others)
	} else {
		if !self {
			if current, err = v.role(c.RealmID, c.UserID); err != nil {
				return err
			}
		}
		change := parsec.RoleChange{Author: authorRole, Self: self, Current: current, Next: c.Role, Target: profile, Revoked: target.RevokedAt(v.t)}
		refusal = change.Check()
	}

	switch refusal {
	case parsec.RefusalNone:
		return nil
	case parsec.RefusalNotMember:
		return v.reject(ErrAuthorNoRole, "user %s", short(v.author.ID))
	case parsec.RefusalOwnRole:
		return v.reject(ErrSelfPromotion, "a member can only make itself OWNER, not %s", c.Role.Label())
	case parsec.RefusalActiveOwner, parsec.RefusalHigherRole:
		return v.reject(ErrSelfPromotion, "an active member has a higher role than the author's %s", authorRole.Label())
	case parsec.RefusalRevoked:
		return v.reject(ErrUserRevoked, "user %s was revoked on %s", short(target.ID), target.RevokedOn)
	case parsec.RefusalOutsiderCap:
		return v.reject(ErrOutsiderRole, "user %s cannot become %s", short(target.ID), c.Role.Label())
	case parsec.RefusalUnchanged:
		return v.reject(ErrRoleUnchanged, "user %s %s", short(c.UserID), hasRole(current, "already "))
	default: // RefusalNotOwnerOrManager, RefusalOwnerOnly
		return v.reject(ErrRoleNotAllowed, "a %s cannot change a role from %s to %s", authorRole.Label(), current.Label(), c.Role.Label())
	}
}

// otherMembers describes the members of a realm other than the author, as they were at
// the certificate's timestamp, for the rule of self-promotion.
func (v *validator) otherMembers(realm parsec.VlobID) ([]parsec.Member, error) {
	members, err := v.s.RealmMembers(realm)
	if err != nil {
		return nil, stateError(v.c, err)
	}
	var others []parsec.Member
	for _, m := range members {
		if m.UserID == v.author.ID {
			continue
		}
		u, ok, err := v.s.LookupUser(m.UserID)
		if err != nil {
			return nil, stateError(v.c, err)
		}
		if ok {
			others = append(others, parsec.Member{Role: m.Role, Profile: u.ProfileAt(v.t), Revoked: u.RevokedAt(v.t)})
		}
	}
	return others, nil
}

// requireOwner checks a name, key rotation or archiving certificate: the realm exists, the
// certificate comes after its last one, and the author is OWNER.
func (v *validator) requireOwner(realm parsec.VlobID) error {
	last, err := v.last(RealmTopic(realm))
	if err != nil {
		return err
	}
	if last == 0 {
		return v.reject(ErrUnknownRealm, "realm %s", short(realm))
	}
	if _, err := v.after(RealmTopic(realm)); err != nil {
		return err
	}
	r, err := v.role(realm, v.author.ID)
	if err != nil {
		return err
	}
	if r != parsec.RoleOwner {
		return v.reject(ErrNotOwner, "user %s %s", short(v.author.ID), hasRole(r, ""))
	}
	return nil
}

func (v *validator) keyIndex(realm parsec.VlobID) (uint64, error) {
	i, err := v.s.RealmKeyIndex(realm)
	if err != nil {
		return 0, stateError(v.c, err)
	}
	return i, nil
}

func (v *validator) realmName(c *RealmNameCertificate) error {
	if err := v.requireOwner(c.RealmID); err != nil {
		return err
	}
	i, err := v.keyIndex(c.RealmID)
	if err != nil {
		return err
	}
	if c.KeyIndex > i {
		return v.reject(ErrKeyIndex, "the name is encrypted with key %d, the realm's last key is %d", c.KeyIndex, i)
	}
	return nil
}

func (v *validator) realmKeyRotation(c *RealmKeyRotationCertificate) error {
	if err := v.requireOwner(c.RealmID); err != nil {
		return err
	}
	i, err := v.keyIndex(c.RealmID)
	if err != nil {
		return err
	}
	if c.KeyIndex != i+1 {
		return v.reject(ErrKeyIndex, "key %d cannot follow key %d", c.KeyIndex, i)
	}
	return nil
}

func (v *validator) realmArchiving(c *RealmArchivingCertificate) error {
	return v.requireOwner(c.RealmID)
}

func sameSigner(a, b *parsec.DeviceID) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func signerName(d *parsec.DeviceID) string {
	if d == nil {
		return "the root key"
	}
	return "device " + short(*d)
}

func topicName(t Topic) string {
	if t.IsRecovery() {
		return "shared-recovery topic of user " + short(t.Recovery)
	}
	if t.IsCommon() {
		return "common topic"
	}
	return "topic of realm " + short(t.Realm)
}

// hasRole says what role a user has: "has no role", "is [already ]manager".
func hasRole(r parsec.RealmRole, already string) string {
	if r == parsec.RoleNone {
		return "has no role"
	}
	return "is " + already + r.Label()
}

func short(id interface{ String() string }) string { return parsec.ShortID(id) }
