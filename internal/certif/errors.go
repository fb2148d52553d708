package certif

import (
	"errors"
	"fmt"

	"github.com/parsec-go/parsec/internal/parsec"
)

// Every rejection is a *parsec.Error of kind parsec.Invalid whose message names the
// certificate's kind and timestamp and what is wrong, and which wraps one of the sentinels
// below (test with errors.Is). Callers re-classify: a client that gets such an error for
// certificates the server sent reports parsec.Tampered; the server answers
// invalid_certificate or a more precise status chosen from the sentinel.
var (
	// Decoding (Decode, Verify, CheckRedactedPair).
	ErrMalformed    = errors.New("not a well-formed certificate") // too short, bad or non-canonical CBOR, unknown type
	ErrInvalidField = errors.New("invalid field")                 // a field's value is out of its domain
	ErrBadSignature = errors.New("bad signature")                 // the signature does not verify with the author's key
	// CheckRedactedPair.
	ErrRedactedMismatch = errors.New("redacted certificate does not match the full one")

	// Every topic.
	ErrTimestampNotIncreasing = errors.New("timestamp is not after the previous certificate of its topic")
	ErrUnknownAuthor          = errors.New("author device is unknown at that time") // no such device, or created after the certificate
	ErrAuthorRevoked          = errors.New("author was revoked at that time")
	ErrRedactedFlavour        = errors.New("certificate is not of the expected flavour") // full vs redacted, see NewMemory

	// Common topic.
	ErrRootAfterBootstrap  = errors.New("root key may only sign the first user and its first device")
	ErrBootstrapNotAdmin   = errors.New("first user is not an administrator")
	ErrAuthorNotAdmin      = errors.New("author is not an administrator at that time")
	ErrUserExists          = errors.New("user already exists")
	ErrDeviceExists        = errors.New("device already exists")
	ErrUnknownUser         = errors.New("user is unknown at that time")
	ErrUserRevoked         = errors.New("user is revoked")
	ErrFirstDeviceMismatch = errors.New("device of another user is not the first device of a user created just before by the same author")
	ErrSelfUpdate          = errors.New("author cannot change its own profile")
	ErrSelfRevoke          = errors.New("author cannot revoke itself")
	ErrProfileUnchanged    = errors.New("new profile is the current profile")

	// Realm topics.
	ErrRealmFirstNotSelfOwner = errors.New("first certificate of a realm is not its author making itself OWNER")
	ErrSelfPromotion          = errors.New("author cannot change its own role this way") // self-signed role certificate that is not a valid self-promotion
	ErrAuthorNoRole           = errors.New("author has no role in the realm")
	ErrRoleNotAllowed         = errors.New("author's role does not allow this change")
	ErrRoleUnchanged          = errors.New("role does not change")
	ErrOutsiderRole           = errors.New("an External user can only be READER or CONTRIBUTOR")
	ErrNotOwner               = errors.New("author is not OWNER of the realm")
	ErrUnknownRealm           = errors.New("realm does not exist")
	ErrKeyIndex               = errors.New("key index is not the expected one")

	// Shared-recovery topics.
	ErrNotSelf          = errors.New("a shared-recovery certificate must be about its author's own user")
	ErrRecoveryExists   = errors.New("the user already has a shared-recovery setup")
	ErrNoRecoverySetup  = errors.New("no such shared-recovery setup")
	ErrRecipientRevoked = errors.New("a recipient is revoked")
	ErrShareMismatch    = errors.New("the share does not belong to the setup")
	ErrNotInHistory     = errors.New("this kind of certificate is not part of a topic's history")

	// Points of the certificate history (see CheckPoint).
	ErrWithheld = errors.New("the server withholds certificates")
	ErrFork     = errors.New("the server shows different certificate histories to different members")
)

// reject builds the error for a certificate that breaks rule; detail (may be empty) says
// precisely how.
func reject(c Certificate, rule error, detail string, args ...any) error {
	if detail != "" {
		detail = " (" + fmt.Sprintf(detail, args...) + ")"
	}
	return parsec.Errorf(parsec.Invalid, "invalid %s of %s: %w%s", label(c.Kind()), c.When(), rule, detail)
}

// stateError wraps an error of the State (a failing database): it is not a rejection and
// keeps the kind the State gave it.
func stateError(c Certificate, err error) error {
	return fmt.Errorf("validating %s of %s: %w", label(c.Kind()), c.When(), err)
}
