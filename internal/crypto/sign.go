package crypto

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
)

// SignatureSize is the size of an Ed25519 signature.
const SignatureSize = ed25519.SignatureSize

// ErrBadSignature is returned when a signature does not verify.
var ErrBadSignature = errors.New("bad signature")

// SigningKey is an Ed25519 private key: one per device, plus the organization root key that
// exists only during bootstrap.
type SigningKey struct {
	priv ed25519.PrivateKey
}

// VerifyKey is an Ed25519 public key.
type VerifyKey [ed25519.PublicKeySize]byte

// GenerateSigningKey draws a new key from the system's random source.
func GenerateSigningKey() SigningKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic("crypto: system random source failed: " + err.Error())
	}
	return SigningKey{priv: priv}
}

// SigningKeyFromSeed rebuilds a key from its 32-byte seed.
func SigningKeyFromSeed(seed []byte) (SigningKey, error) {
	if len(seed) != ed25519.SeedSize {
		return SigningKey{}, fmt.Errorf("invalid signing key: %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	return SigningKey{priv: ed25519.NewKeyFromSeed(seed)}, nil
}

// Seed returns the 32-byte seed, the form in which device files keep the key.
func (k SigningKey) Seed() []byte { return k.priv.Seed() }

// VerifyKey returns the public half.
func (k SigningKey) VerifyKey() VerifyKey {
	var v VerifyKey
	copy(v[:], k.priv.Public().(ed25519.PublicKey))
	return v
}

// IsZero reports whether k is the zero value (no key).
func (k SigningKey) IsZero() bool { return k.priv == nil }

// String hides the key: without it, printing a SigningKey would print its private bytes.
func (k SigningKey) String() string { return "SigningKey(redacted)" }

// GoString hides the key from %#v too.
func (k SigningKey) GoString() string { return k.String() }

// signedMessage is what the signature covers: the domain, a zero byte, the message. Domains
// are fixed ASCII strings without zero bytes, so no two (domain, message) pairs collide;
// Sign and Verify refuse a domain with a zero byte, which would break that.
func signedMessage(domain string, msg []byte) []byte {
	m := make([]byte, 0, len(domain)+1+len(msg))
	m = append(m, domain...)
	m = append(m, 0)
	return append(m, msg...)
}

// Sign signs msg in the given domain, e.g. "parsec/1/user_certificate". It panics if the
// domain contains a zero byte: domains are constants, so that is a programming error.
func (k SigningKey) Sign(domain string, msg []byte) []byte {
	if strings.IndexByte(domain, 0) >= 0 {
		panic(fmt.Sprintf("crypto: signature domain %q contains a zero byte", domain))
	}
	return ed25519.Sign(k.priv, signedMessage(domain, msg))
}

// Verify checks a signature made by Sign with the same domain.
func (v VerifyKey) Verify(domain string, msg, sig []byte) error {
	if len(sig) != SignatureSize || strings.IndexByte(domain, 0) >= 0 || !ed25519.Verify(v[:], signedMessage(domain, msg), sig) {
		return ErrBadSignature
	}
	return nil
}

// ParseVerifyKey checks the length of a public key read from the wire.
func ParseVerifyKey(b []byte) (VerifyKey, error) {
	var v VerifyKey
	if len(b) != len(v) {
		return v, fmt.Errorf("invalid verify key: %d bytes, want %d", len(b), len(v))
	}
	copy(v[:], b)
	return v, nil
}

// MarshalBinary and UnmarshalBinary let encoders carry the key as a byte string of exactly
// 32 bytes.
func (v VerifyKey) MarshalBinary() ([]byte, error) { return v[:], nil }

func (v *VerifyKey) UnmarshalBinary(b []byte) error {
	k, err := ParseVerifyKey(b)
	if err != nil {
		return err
	}
	*v = k
	return nil
}
