package manifest

import (
	"errors"
	"fmt"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// KeysBundle is every key a realm has had, the key of index i at position i-1. Each key
// rotation makes a new bundle (the previous keys and a new one), signed by the rotating
// device with the author and timestamp of its key rotation certificate, and encrypted
// with a fresh bundle key, itself sealed for each member (see SealKeysBundleAccess).
type KeysBundle struct {
	Type      string            `cbor:"type"`
	Author    parsec.DeviceID   `cbor:"author"`
	Timestamp parsec.DateTime   `cbor:"timestamp"`
	RealmID   parsec.VlobID     `cbor:"realm_id"`
	Keys      []crypto.RealmKey `cbor:"keys"`
}

// keysBundleAccess is what is sealed for each member: the bundle key.
type keysBundleAccess struct {
	Type          string           `cbor:"type"`
	KeysBundleKey crypto.SecretKey `cbor:"keys_bundle_key"`
}

const kindKeysBundleAccess = "realm_keys_bundle_access"

// keysBundleAAD is the associated data of a bundle's encryption.
var keysBundleAAD = []byte(domain(KindKeysBundle))

// ErrKeyCorrupted is wrapped by the errors about a key of a bundle that does not match the
// canary of its key rotation certificate: the rotating device put a wrong key in the
// bundle, and nothing must be encrypted or decrypted with it.
var ErrKeyCorrupted = errors.New("realm key does not match its canary")

// SealKeysBundle sets b's Type, signs its encoding with the author device's key and
// encrypts the result with a fresh bundle key, returned beside the blob so that the caller
// seals it for each member. It seals whatever it is given.
func SealKeysBundle(b KeysBundle, author crypto.SigningKey) (blob []byte, bundleKey crypto.SecretKey) {
	b.Type = KindKeysBundle
	return sealKeysBundleBody(codec.MustMarshal(&b), author)
}

func sealKeysBundleBody(body []byte, author crypto.SigningKey) (blob []byte, bundleKey crypto.SecretKey) {
	signed := make([]byte, 0, crypto.SignatureSize+len(body))
	signed = append(signed, author.Sign(domain(KindKeysBundle), body)...)
	signed = append(signed, body...)
	bundleKey = crypto.GenerateSecretKey()
	return bundleKey.Encrypt(signed, keysBundleAAD), bundleKey
}

// SealKeysBundleAccess seals a bundle key for a member of the realm.
func SealKeysBundleAccess(bundleKey crypto.SecretKey, recipient crypto.UserPublicKey) ([]byte, error) {
	body := codec.MustMarshal(&keysBundleAccess{Type: kindKeysBundleAccess, KeysBundleKey: bundleKey})
	return crypto.SealForUser(recipient, domain(kindKeysBundleAccess), body)
}

// OpenKeysBundleAccess opens a bundle access read from the server with the user's private
// key. Any failure (sealed for someone else, tampered, malformed) is of kind
// parsec.Tampered.
func OpenKeysBundleAccess(access []byte, priv crypto.UserPrivateKey) (crypto.SecretKey, error) {
	body, err := priv.Open(domain(kindKeysBundleAccess), access)
	if err != nil {
		return crypto.SecretKey{}, parsec.Errorf(parsec.Tampered, "keys bundle access: cannot open it with this user's key: %w", err)
	}
	var a keysBundleAccess
	if err := codec.UnmarshalCanonical(body, &a); err != nil {
		return crypto.SecretKey{}, parsec.Errorf(parsec.Tampered, "keys bundle access: malformed: %v", err)
	}
	if a.Type != kindKeysBundleAccess {
		return crypto.SecretKey{}, parsec.Errorf(parsec.Tampered, "keys bundle access: type is %s", quote(a.Type))
	}
	return a.KeysBundleKey, nil
}

// BundleExpected is what the key rotation certificate of a bundle says, which
// OpenKeysBundle checks against the signed bundle.
type BundleExpected struct {
	RealmID   parsec.VlobID
	KeyIndex  uint64          // the certificate's key index: the bundle's number of keys
	Author    parsec.DeviceID // the certificate's author
	Timestamp parsec.DateTime // the certificate's timestamp
}

// OpenedBundle is the content of a keys bundle that OpenKeysBundle checked. Keys are
// numbered from 1, as key indexes are.
type OpenedBundle struct {
	RealmID   parsec.VlobID
	Author    parsec.DeviceID
	Timestamp parsec.DateTime

	keys      []crypto.RealmKey
	corrupted []bool
}

// KeyIndex is the index of the bundle's last key, which is also its number of keys.
func (b OpenedBundle) KeyIndex() uint64 { return uint64(len(b.keys)) }

// Key returns the key of the given index. A key that does not match its canary is refused
// with an error of kind parsec.Tampered wrapping ErrKeyCorrupted; an index the bundle does
// not have, with an error of kind parsec.NotFound.
func (b OpenedBundle) Key(index uint64) (crypto.RealmKey, error) {
	if index == 0 || index > uint64(len(b.keys)) {
		return crypto.RealmKey{}, parsec.Errorf(parsec.NotFound, "realm %s has no key %d (the keys bundle has %d)", b.RealmID, index, len(b.keys))
	}
	if b.corrupted[index-1] {
		return crypto.RealmKey{}, b.corruptedError(index, ": it must not be used")
	}
	return b.keys[index-1], nil
}

// Last returns the last key and its index: the one to encrypt with. It fails as Key does
// when that key does not match its canary.
func (b OpenedBundle) Last() (uint64, crypto.RealmKey, error) {
	k, err := b.Key(b.KeyIndex())
	return b.KeyIndex(), k, err
}

// Corrupted reports whether the key of the given index does not match its canary.
func (b OpenedBundle) Corrupted(index uint64) bool {
	return index >= 1 && index <= uint64(len(b.keys)) && b.corrupted[index-1]
}

// AllKeys returns a copy of every key, corrupted ones included: they are needed, and only
// needed, to build the next bundle. Never encrypt or decrypt with a key for which
// Corrupted is true.
func (b OpenedBundle) AllKeys() []crypto.RealmKey { return append([]crypto.RealmKey(nil), b.keys...) }

func (b OpenedBundle) corruptedError(index uint64, consequence string) error {
	return &parsec.Error{Kind: parsec.Tampered, Err: ErrKeyCorrupted,
		Msg: fmt.Sprintf("key %d of realm %s does not match its canary%s", index, b.RealmID, consequence)}
}

// OpenKeysBundle decrypts a keys bundle with its bundle key (from OpenKeysBundleAccess) and
// checks it: the signature with verifyKey (the key of expect.Author's device), the strict
// canonical encoding, the realm, author and timestamp against the key rotation
// certificate (expect), and that it has expect.KeyIndex keys. canaries are the key
// canaries of the realm's rotation certificates, canaries[i] for key i+1; there must be
// expect.KeyIndex of them. Each key is tried against its canary, and the ones that do not
// match are marked corrupted (see OpenedBundle.Key).
//
// Failures are of kind parsec.Tampered, except a wrong number of canaries (parsec.Invalid,
// a mistake of the caller). When only the last key is corrupted, so that the bundle cannot
// be used to write, OpenKeysBundle returns both the checked bundle (its older keys may
// still be read with, and all are needed for the next rotation) and an error wrapping
// ErrKeyCorrupted.
func OpenKeysBundle(blob []byte, bundleKey crypto.SecretKey, expect BundleExpected, verifyKey crypto.VerifyKey, canaries [][]byte) (OpenedBundle, error) {
	fail := func(format string, args ...any) (OpenedBundle, error) {
		return OpenedBundle{}, parsec.Errorf(parsec.Tampered, "keys bundle %d of realm %s: "+format, append([]any{expect.KeyIndex, expect.RealmID}, args...)...)
	}
	if expect.KeyIndex == 0 || uint64(len(canaries)) != expect.KeyIndex {
		return OpenedBundle{}, parsec.Errorf(parsec.Invalid, "open keys bundle %d of realm %s: %d canaries given, want %d", expect.KeyIndex, expect.RealmID, len(canaries), expect.KeyIndex)
	}
	signed, err := bundleKey.Decrypt(blob, keysBundleAAD)
	if err != nil {
		return fail("%w", err)
	}
	if len(signed) <= crypto.SignatureSize {
		return fail("too short to be signed (%d bytes)", len(signed))
	}
	sig, body := signed[:crypto.SignatureSize], signed[crypto.SignatureSize:]
	if err := verifyKey.Verify(domain(KindKeysBundle), body, sig); err != nil {
		return fail("signature of device %s does not verify: %w", expect.Author, err)
	}
	var b KeysBundle
	if err := codec.UnmarshalCanonical(body, &b); err != nil {
		return fail("malformed: %v", err)
	}
	switch {
	case b.Type != KindKeysBundle:
		return fail("type is %s", quote(b.Type))
	case b.Author != expect.Author:
		return fail("signed by device %s, the key rotation certificate by %s", b.Author, expect.Author)
	case b.Timestamp != expect.Timestamp:
		return fail("signed at %s, the key rotation certificate at %s", b.Timestamp, expect.Timestamp)
	case b.RealmID != expect.RealmID:
		return fail("the bundle is of realm %s", b.RealmID)
	case uint64(len(b.Keys)) != expect.KeyIndex:
		return fail("it has %d keys", len(b.Keys))
	}
	o := OpenedBundle{RealmID: b.RealmID, Author: b.Author, Timestamp: b.Timestamp, keys: b.Keys, corrupted: make([]bool, len(b.Keys))}
	for i, k := range b.Keys {
		o.corrupted[i] = k.CheckCanary(canaries[i]) != nil
	}
	if last := o.KeyIndex(); o.corrupted[last-1] {
		return o, o.corruptedError(last, ": the keys bundle cannot be used to write")
	}
	return o, nil
}
