package certif

import (
	"bytes"
	"slices"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Shared recovery. A user chooses other users (recipients), a number of shares for each and
// a threshold; the secret that unlocks a recovery device of the user is split into that many
// shares (Shamir's scheme, internal/crypto/shamir), and each recipient's shares are sealed
// for that recipient's user key. With enough shares, the user rebuilds the secret and gets a
// new device.
//
// Each user has a topic of its own: setups (RecoverySetupCertificate) and their deletions
// (RecoveryDeletionCertificate) alternate there, so a user has at most one setup in force.
// The topic is shown to the user and to everyone who was ever one of its recipients, and
// chained like the others (chain.go). The share certificates are not part of the topic:
// each goes to its recipient only, who checks it against the setup (ValidateShare).

// RecoveryRecipient is one recipient of a setup and how many shares it holds.
type RecoveryRecipient struct {
	User   parsec.UserID `cbor:"user_id"`
	Shares int           `cbor:"shares"`
}

// RecoverySetupCertificate records a user's shared-recovery setup (Parsec's "brief"): its
// recipients, in increasing order of user ID, and the threshold of shares that rebuild the
// secret.
type RecoverySetupCertificate struct {
	Type       string              `cbor:"type"`
	Author     parsec.DeviceID     `cbor:"author"`
	Timestamp  parsec.DateTime     `cbor:"timestamp"`
	UserID     parsec.UserID       `cbor:"user_id"`
	Threshold  int                 `cbor:"threshold"`
	Recipients []RecoveryRecipient `cbor:"per_recipient_shares"`
	Seen
}

// RecoveryShareCertificate carries one recipient's shares of a setup, sealed for that
// recipient's user key (see SealShares). It has the setup's author and timestamp.
type RecoveryShareCertificate struct {
	Type          string          `cbor:"type"`
	Author        parsec.DeviceID `cbor:"author"`
	Timestamp     parsec.DateTime `cbor:"timestamp"`
	UserID        parsec.UserID   `cbor:"user_id"`
	Recipient     parsec.UserID   `cbor:"recipient"`
	CipheredShare []byte          `cbor:"ciphered_share"`
	Seen
}

// RecoveryDeletionCertificate ends a setup. It repeats the setup's recipients, so that each
// of them learns their shares are void.
type RecoveryDeletionCertificate struct {
	Type           string          `cbor:"type"`
	Author         parsec.DeviceID `cbor:"author"`
	Timestamp      parsec.DateTime `cbor:"timestamp"`
	UserID         parsec.UserID   `cbor:"setup_to_delete_user_id"`
	SetupTimestamp parsec.DateTime `cbor:"setup_to_delete_timestamp"`
	Recipients     []parsec.UserID `cbor:"share_recipients"`
	Seen
}

// MaxRecoveryShares bounds the shares of a setup (Shamir's scheme over GF(256)).
const MaxRecoveryShares = 255

func (c *RecoverySetupCertificate) Kind() string    { return KindRecoverySetup }
func (c *RecoveryShareCertificate) Kind() string    { return KindRecoveryShare }
func (c *RecoveryDeletionCertificate) Kind() string { return KindRecoveryDeletion }

func (c *RecoverySetupCertificate) Signer() *parsec.DeviceID    { return &c.Author }
func (c *RecoveryShareCertificate) Signer() *parsec.DeviceID    { return &c.Author }
func (c *RecoveryDeletionCertificate) Signer() *parsec.DeviceID { return &c.Author }

func (c *RecoverySetupCertificate) When() parsec.DateTime    { return c.Timestamp }
func (c *RecoveryShareCertificate) When() parsec.DateTime    { return c.Timestamp }
func (c *RecoveryDeletionCertificate) When() parsec.DateTime { return c.Timestamp }

func (c *RecoverySetupCertificate) Topic() Topic    { return RecoveryTopic(c.UserID) }
func (c *RecoveryShareCertificate) Topic() Topic    { return RecoveryTopic(c.UserID) }
func (c *RecoveryDeletionCertificate) Topic() Topic { return RecoveryTopic(c.UserID) }

func (c *RecoverySetupCertificate) setType()    { c.Type = KindRecoverySetup }
func (c *RecoveryShareCertificate) setType()    { c.Type = KindRecoveryShare }
func (c *RecoveryDeletionCertificate) setType() { c.Type = KindRecoveryDeletion }

// TotalShares is the number of shares of the setup.
func (c *RecoverySetupCertificate) TotalShares() int {
	n := 0
	for _, r := range c.Recipients {
		n += r.Shares
	}
	return n
}

// SharesOf returns how many shares a user holds in the setup (0: not a recipient).
func (c *RecoverySetupCertificate) SharesOf(user parsec.UserID) int {
	for _, r := range c.Recipients {
		if r.User == user {
			return r.Shares
		}
	}
	return 0
}

// RecipientIDs lists the setup's recipients, in order.
func (c *RecoverySetupCertificate) RecipientIDs() []parsec.UserID {
	ids := make([]parsec.UserID, len(c.Recipients))
	for i, r := range c.Recipients {
		ids[i] = r.User
	}
	return ids
}

func (c *RecoverySetupCertificate) check() error {
	if err := checkCommon(&c.Author, c.Timestamp); err != nil {
		return err
	}
	switch {
	case c.UserID.IsZero():
		return fieldError("user_id is zero")
	case len(c.Recipients) == 0:
		return fieldError("per_recipient_shares is empty")
	}
	total := 0
	for i, r := range c.Recipients {
		switch {
		case r.User.IsZero():
			return fieldError("a recipient's user_id is zero")
		case r.User == c.UserID:
			return fieldError("the user is one of its own recipients")
		case i > 0 && bytes.Compare(c.Recipients[i-1].User[:], r.User[:]) >= 0:
			return fieldError("per_recipient_shares is not in strictly increasing order of user_id")
		case r.Shares < 1 || r.Shares > MaxRecoveryShares:
			return fieldError("a recipient's number of shares is not between 1 and 255")
		}
		total += r.Shares
	}
	switch {
	case total > MaxRecoveryShares:
		return fieldError("more than 255 shares in all")
	case c.Threshold < 1 || c.Threshold > total:
		return fieldError("threshold is not between 1 and the number of shares")
	}
	return nil
}

func (c *RecoveryShareCertificate) check() error {
	if err := checkCommon(&c.Author, c.Timestamp); err != nil {
		return err
	}
	switch {
	case c.UserID.IsZero():
		return fieldError("user_id is zero")
	case c.Recipient.IsZero():
		return fieldError("recipient is zero")
	case c.Recipient == c.UserID:
		return fieldError("the recipient is the user itself")
	case len(c.CipheredShare) == 0:
		return fieldError("ciphered_share is empty")
	case c.View != nil:
		return fieldError("a share certificate carries no view")
	}
	return nil
}

func (c *RecoveryDeletionCertificate) check() error {
	if err := checkCommon(&c.Author, c.Timestamp); err != nil {
		return err
	}
	switch {
	case c.UserID.IsZero():
		return fieldError("setup_to_delete_user_id is zero")
	case c.SetupTimestamp <= 0 || c.SetupTimestamp >= c.Timestamp:
		return fieldError("setup_to_delete_timestamp is not before the deletion")
	case len(c.Recipients) == 0:
		return fieldError("share_recipients is empty")
	}
	for i, r := range c.Recipients {
		if i > 0 && bytes.Compare(c.Recipients[i-1][:], r[:]) >= 0 {
			return fieldError("share_recipients is not in strictly increasing order")
		}
	}
	return nil
}

// SortRecipients puts a setup's recipients in the order its certificate requires.
func SortRecipients(rs []RecoveryRecipient) {
	slices.SortFunc(rs, func(a, b RecoveryRecipient) int { return bytes.Compare(a.User[:], b.User[:]) })
}

// ownRecovery checks that the author writes in its own user's topic, at a timestamp after
// the topic's last certificate, and returns the topic's last certificate (nil when empty).
func (v *validator) ownRecovery(user parsec.UserID) (Certificate, error) {
	if v.author.ID != user {
		return nil, v.reject(ErrNotSelf, "the author is user %s", short(v.author.ID))
	}
	if _, err := v.after(RecoveryTopic(user)); err != nil {
		return nil, err
	}
	last, err := v.s.LastRecovery(user)
	if err != nil {
		return nil, stateError(v.c, err)
	}
	return last, nil
}

func (v *validator) recoverySetup(c *RecoverySetupCertificate) error {
	last, err := v.ownRecovery(c.UserID)
	if err != nil {
		return err
	}
	if _, ok := last.(*RecoverySetupCertificate); ok {
		return v.reject(ErrRecoveryExists, "the setup of %s is in force: delete it first", last.When())
	}
	for _, r := range c.Recipients {
		u, err := v.user(r.User)
		if err != nil {
			return err
		}
		if u.RevokedAt(v.t) {
			return v.reject(ErrRecipientRevoked, "user %s was revoked on %s", short(u.ID), u.RevokedOn)
		}
	}
	return nil
}

func (v *validator) recoveryDeletion(c *RecoveryDeletionCertificate) error {
	last, err := v.ownRecovery(c.UserID)
	if err != nil {
		return err
	}
	setup, ok := last.(*RecoverySetupCertificate)
	switch {
	case last == nil:
		return v.reject(ErrNoRecoverySetup, "the user has never had one")
	case !ok:
		return v.reject(ErrNoRecoverySetup, "the last setup is already deleted (on %s)", last.When())
	case setup.Timestamp != c.SetupTimestamp:
		return v.reject(ErrNoRecoverySetup, "the setup in force is of %s, not %s", setup.Timestamp, c.SetupTimestamp)
	case !slices.Equal(setup.RecipientIDs(), c.Recipients):
		return v.reject(ErrShareMismatch, "share_recipients are not the setup's recipients")
	}
	return nil
}

// RecoveryShareData is what a share certificate seals for its recipient: the shares
// (internal/crypto/shamir's encoding), signed by the setup's author so that nobody can
// copy another recipient's shares into a certificate of their own.
type RecoveryShareData struct {
	Type      string          `cbor:"type"`
	Author    parsec.DeviceID `cbor:"author"`
	Timestamp parsec.DateTime `cbor:"timestamp"`
	Recipient parsec.UserID   `cbor:"recipient"`
	Shares    [][]byte        `cbor:"weighted_share"`
}

const (
	kindShareData   = "shamir_recovery_share_data"
	shareSealDomain = "parsec/1/shamir_recovery_share"
)

// SealShares builds the share certificate of one recipient: the shares, signed by key
// (the author's device), sealed for the recipient's user key, in a certificate signed by key.
func SealShares(key crypto.SigningKey, setup *RecoverySetupCertificate, recipient parsec.UserID, pk crypto.UserPublicKey, shares [][]byte) ([]byte, error) {
	data := RecoveryShareData{Type: kindShareData, Author: setup.Author, Timestamp: setup.Timestamp, Recipient: recipient, Shares: shares}
	body := codec.MustMarshal(data)
	signed := append(key.Sign(domain(kindShareData), body), body...)
	sealed, err := crypto.SealForUser(pk, shareSealDomain, signed)
	if err != nil {
		return nil, err
	}
	return Sign(key, &RecoveryShareCertificate{Author: setup.Author, Timestamp: setup.Timestamp, UserID: setup.UserID,
		Recipient: recipient, CipheredShare: sealed}), nil
}

// ValidateShare checks a share certificate against the setup it belongs to: signed by the
// setup's author (whose key s knows), same user and timestamp, for one of its recipients.
func ValidateShare(s State, setup *RecoverySetupCertificate, raw []byte) (*RecoveryShareCertificate, error) {
	c, err := Decode(raw)
	if err != nil {
		return nil, err
	}
	share, ok := c.(*RecoveryShareCertificate)
	if !ok {
		return nil, reject(c, ErrMalformed, "a %s where a share certificate was expected", label(c.Kind()))
	}
	d, ok, err := s.LookupDevice(share.Author)
	if err != nil {
		return nil, stateError(c, err)
	}
	if !ok {
		return nil, reject(c, ErrUnknownAuthor, "no device %s", short(share.Author))
	}
	if err := verifySignature(c, raw, d.VerifyKey); err != nil {
		return nil, err
	}
	switch {
	case share.Author != setup.Author || share.Timestamp != setup.Timestamp || share.UserID != setup.UserID:
		return nil, reject(c, ErrShareMismatch, "it is not of the setup of %s by device %s", setup.Timestamp, short(setup.Author))
	case setup.SharesOf(share.Recipient) == 0:
		return nil, reject(c, ErrShareMismatch, "user %s is not a recipient of the setup", short(share.Recipient))
	}
	return share, nil
}

// OpenShares opens a share certificate that ValidateShare accepted, with the recipient's
// private key, and checks what it seals: signed by the setup's author (verify key), for this
// setup and recipient, with as many shares as the setup gives the recipient.
func OpenShares(setup *RecoverySetupCertificate, share *RecoveryShareCertificate, key crypto.UserPrivateKey, author crypto.VerifyKey) ([][]byte, error) {
	signed, err := key.Open(shareSealDomain, share.CipheredShare)
	if err != nil || len(signed) <= crypto.SignatureSize {
		return nil, reject(share, ErrShareMismatch, "it does not open with this user's key")
	}
	body := signed[crypto.SignatureSize:]
	if author.Verify(domain(kindShareData), body, signed[:crypto.SignatureSize]) != nil {
		return nil, reject(share, ErrBadSignature, "the sealed shares are not signed by the setup's author")
	}
	var data RecoveryShareData
	if err := codec.UnmarshalCanonical(body, &data); err != nil {
		return nil, reject(share, ErrMalformed, "the sealed shares: %v", err)
	}
	switch {
	case data.Type != kindShareData || data.Author != setup.Author || data.Timestamp != setup.Timestamp || data.Recipient != share.Recipient:
		return nil, reject(share, ErrShareMismatch, "the sealed shares are of another setup or recipient")
	case len(data.Shares) != setup.SharesOf(share.Recipient):
		return nil, reject(share, ErrShareMismatch, "%d shares sealed, the setup gives %d", len(data.Shares), setup.SharesOf(share.Recipient))
	}
	return data.Shares, nil
}
