package crypto

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// Algorithm names recorded in key-rotation certificates, so that they can evolve: the
// symmetric encryption of a realm's data with its per-object key derivation, and the digest.
const (
	DataAlgorithm = "XCHACHA20POLY1305-HKDFSHA256"
	HashAlgorithm = "SHA256"
)

// Purposes of the keys derived from a realm key. A key derived for one purpose never equals
// one derived for another, whatever the IDs.
const (
	PurposeManifest  = "manifest"   // a vlob's manifest, by vlob ID
	PurposeBlock     = "block"      // a block, by block ID (XChaCha20-Poly1305)
	PurposeBlockAES  = "block_aes"  // a block sealed with AES-256-GCM (AESKey), by block ID
	PurposeCanary    = "canary"     // the key canary, with the zero ID
	PurposeRealmName = "realm_name" // the realm's encrypted name
)

// RealmKeySize is the size of a RealmKey.
const RealmKeySize = 32

// RealmKey is a realm's key for one key index. It never encrypts anything itself: every
// object is encrypted under its own key, derived with Derive.
//
// Its String method hides the value, so that a key printed by mistake does not leak.
type RealmKey [RealmKeySize]byte

// GenerateRealmKey draws a new key from the system's random source.
func GenerateRealmKey() RealmKey {
	var k RealmKey
	randomFill(k[:])
	return k
}

// ParseRealmKey checks the length of a key read from storage or the wire.
func ParseRealmKey(b []byte) (RealmKey, error) {
	var k RealmKey
	if len(b) != len(k) {
		return k, fmt.Errorf("invalid realm key: %d bytes, want %d", len(b), len(k))
	}
	copy(k[:], b)
	return k, nil
}

// String hides the key.
func (k RealmKey) String() string { return "RealmKey(redacted)" }

// GoString hides the key from %#v too.
func (k RealmKey) GoString() string { return k.String() }

// Derive returns the key for one object:
//
//	HKDF-SHA256(secret = k, no salt, info = "parsec/1/" ‖ purpose ‖ 0x00 ‖ id) → 32 bytes
//
// The ID has a fixed length, so distinct (purpose, id) pairs give distinct infos.
func (k RealmKey) Derive(purpose string, id [16]byte) SecretKey {
	info := make([]byte, 0, len("parsec/1/")+len(purpose)+1+len(id))
	info = append(info, "parsec/1/"...)
	info = append(info, purpose...)
	info = append(info, 0)
	info = append(info, id[:]...)
	var sk SecretKey
	copy(sk[:], hkdfSHA256(k[:], nil, string(info), len(sk)))
	return sk
}

// Canary returns a fresh canary: the empty message encrypted under the key derived for
// PurposeCanary with the zero ID. Published beside a key, it lets a client check that the
// key it holds is the one the canary was made with, without revealing anything about it.
func (k RealmKey) Canary() []byte {
	return k.Derive(PurposeCanary, [16]byte{}).Encrypt(nil, nil)
}

// CheckCanary returns an error wrapping ErrDecrypt unless c is a canary made by Canary with
// this key.
func (k RealmKey) CheckCanary(c []byte) error {
	pt, err := k.Derive(PurposeCanary, [16]byte{}).Decrypt(c, nil)
	if err != nil || len(pt) != 0 {
		return fmt.Errorf("realm key does not match its canary: %w", ErrDecrypt)
	}
	return nil
}

// MarshalBinary and UnmarshalBinary let encoders carry the key as a byte string of exactly
// 32 bytes.
func (k RealmKey) MarshalBinary() ([]byte, error) { return k[:], nil }

func (k *RealmKey) UnmarshalBinary(b []byte) error {
	p, err := ParseRealmKey(b)
	if err != nil {
		return err
	}
	*k = p
	return nil
}

// hkdfSHA256 is HKDF (RFC 5869) with SHA-256: Extract then Expand. A nil salt means none
// (HashLen zero bytes).
func hkdfSHA256(secret, salt []byte, info string, n int) []byte {
	return hkdfExpand(hkdfExtract(secret, salt), info, n)
}

// hkdfExtract is HKDF-Extract with SHA-256.
func hkdfExtract(secret, salt []byte) []byte {
	prk, err := hkdf.Extract(sha256.New, secret, salt)
	if err != nil {
		panic("crypto: hkdf extract: " + err.Error()) // only in FIPS 140-only mode
	}
	return prk
}

// hkdfExpand is HKDF-Expand with SHA-256; n is at most 255*32.
func hkdfExpand(prk []byte, info string, n int) []byte {
	out, err := hkdf.Expand(sha256.New, prk, info, n)
	if err != nil {
		panic("crypto: hkdf expand: " + err.Error()) // n is a constant of ours, always valid
	}
	return out
}
