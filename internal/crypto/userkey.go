package crypto

import (
	"crypto/hpke"
	"errors"
	"fmt"
)

// User keys are HPKE key pairs with the hybrid post-quantum KEM MLKEM768X25519: whatever is
// sealed for a user today stays secret against a future quantum attacker, and as long as
// either X25519 or ML-KEM-768 holds.
var (
	userKEM  = hpke.MLKEM768X25519()
	userKDF  = hpke.HKDFSHA256()
	userAEAD = hpke.ChaCha20Poly1305()
)

// UserKeyAlgorithm names the suite in certificates, so that it can evolve.
const UserKeyAlgorithm = "HPKE-MLKEM768X25519-HKDFSHA256-CHACHA20POLY1305"

// ErrDecrypt is returned when a ciphertext does not open: wrong key, or tampered data.
var ErrDecrypt = errors.New("cannot decrypt: wrong key or tampered data")

// UserPrivateKey is a user's decryption key, shared by all the user's devices.
type UserPrivateKey struct {
	k hpke.PrivateKey
}

// UserPublicKey is the public half, published in the user's certificate.
type UserPublicKey struct {
	k   hpke.PublicKey
	raw []byte
}

// GenerateUserKey draws a new user key pair.
func GenerateUserKey() UserPrivateKey {
	k, err := userKEM.GenerateKey()
	if err != nil {
		panic("crypto: system random source failed: " + err.Error())
	}
	return UserPrivateKey{k: k}
}

// ParseUserPrivateKey reads a key stored with Bytes.
func ParseUserPrivateKey(b []byte) (UserPrivateKey, error) {
	k, err := userKEM.NewPrivateKey(b)
	if err != nil {
		return UserPrivateKey{}, fmt.Errorf("invalid user private key: %w", err)
	}
	return UserPrivateKey{k: k}, nil
}

// Bytes serializes the private key (RFC 9180 SerializePrivateKey).
func (k UserPrivateKey) Bytes() []byte {
	b, err := k.k.Bytes()
	if err != nil {
		panic("crypto: cannot serialize user private key: " + err.Error())
	}
	return b
}

// IsZero reports whether k is the zero value (no key).
func (k UserPrivateKey) IsZero() bool { return k.k == nil }

// Public returns the public half.
func (k UserPrivateKey) Public() UserPublicKey {
	p := k.k.PublicKey()
	return UserPublicKey{k: p, raw: p.Bytes()}
}

// ParseUserPublicKey checks a public key read from the wire.
func ParseUserPublicKey(b []byte) (UserPublicKey, error) {
	p, err := userKEM.NewPublicKey(b)
	if err != nil {
		return UserPublicKey{}, fmt.Errorf("invalid user public key: %w", err)
	}
	return UserPublicKey{k: p, raw: append([]byte(nil), b...)}, nil
}

// Bytes serializes the public key.
func (p UserPublicKey) Bytes() []byte { return append([]byte(nil), p.raw...) }

// IsZero reports whether p is the zero value (no key).
func (p UserPublicKey) IsZero() bool { return p.k == nil }

// Equal reports whether two public keys are the same.
func (p UserPublicKey) Equal(q UserPublicKey) bool { return string(p.raw) == string(q.raw) }

// MarshalBinary and UnmarshalBinary let encoders carry the key as a byte string.
func (p UserPublicKey) MarshalBinary() ([]byte, error) { return p.Bytes(), nil }

func (p *UserPublicKey) UnmarshalBinary(b []byte) error {
	q, err := ParseUserPublicKey(b)
	if err != nil {
		return err
	}
	*p = q
	return nil
}

// SealForUser encrypts plaintext so that only the holder of the user's private key can read
// it. The domain (e.g. "parsec/1/realm_keys_bundle_access") is bound into the ciphertext:
// a sealed message opens only with the same domain.
func SealForUser(p UserPublicKey, domain string, plaintext []byte) ([]byte, error) {
	if p.IsZero() {
		return nil, errors.New("seal: no public key")
	}
	enc, sender, err := hpke.NewSender(p.k, userKDF, userAEAD, []byte(domain))
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	ct, err := sender.Seal(nil, plaintext)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return append(enc, ct...), nil
}

// Open decrypts a message made by SealForUser with the same domain.
func (k UserPrivateKey) Open(domain string, sealed []byte) ([]byte, error) {
	n := encapsulatedKeySize
	if k.IsZero() || len(sealed) < n {
		return nil, ErrDecrypt
	}
	r, err := hpke.NewRecipient(sealed[:n], k.k, userKDF, userAEAD, []byte(domain))
	if err != nil {
		return nil, ErrDecrypt
	}
	pt, err := r.Open(nil, sealed[n:])
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// encapsulatedKeySize is the size of an MLKEM768X25519 encapsulation:
// the ML-KEM-768 ciphertext (1088 bytes) and an X25519 public key (32 bytes).
const encapsulatedKeySize = 1088 + 32
