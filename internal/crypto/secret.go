package crypto

import (
	"crypto/cipher"
	"fmt"
	"slices"

	"golang.org/x/crypto/chacha20poly1305"
)

// SecretKeySize is the size of a SecretKey.
const SecretKeySize = chacha20poly1305.KeySize

// EncryptionOverhead is how many bytes SecretKey.Encrypt adds to a plaintext: the 24-byte
// nonce in front and the 16-byte authentication tag at the end.
const EncryptionOverhead = chacha20poly1305.NonceSizeX + chacha20poly1305.Overhead

// SecretKey is a symmetric key for XChaCha20-Poly1305. Random 24-byte nonces are safe with
// it: a key may encrypt any number of messages.
//
// Its String method hides the value, so that a key printed by mistake does not leak.
type SecretKey [SecretKeySize]byte

// GenerateSecretKey draws a new key from the system's random source.
func GenerateSecretKey() SecretKey {
	var k SecretKey
	randomFill(k[:])
	return k
}

// ParseSecretKey checks the length of a key read from storage or the wire.
func ParseSecretKey(b []byte) (SecretKey, error) {
	var k SecretKey
	if len(b) != len(k) {
		return k, fmt.Errorf("invalid secret key: %d bytes, want %d", len(b), len(k))
	}
	copy(k[:], b)
	return k, nil
}

// String hides the key.
func (k SecretKey) String() string { return "SecretKey(redacted)" }

// GoString hides the key from %#v too.
func (k SecretKey) GoString() string { return k.String() }

// IsZero reports whether k is the zero value (no key).
func (k SecretKey) IsZero() bool { return k == SecretKey{} }

// Encrypt seals plaintext, binding it to aad (which may be nil and is not included in the
// output). The result is nonce (24 bytes) ‖ ciphertext ‖ tag (16 bytes).
func (k SecretKey) Encrypt(plaintext, aad []byte) []byte {
	return k.EncryptTo(nil, plaintext, aad)
}

// EncryptTo is Encrypt appending its result to dst, so that large buffers can be encrypted
// into a reused buffer without extra copies. plaintext must not overlap dst's spare
// capacity (in-place encryption is not possible: the nonce comes first).
func (k SecretKey) EncryptTo(dst, plaintext, aad []byte) []byte {
	var nonce [EncryptionNonceSize]byte
	randomFill(nonce[:])
	return k.encryptWithNonce(dst, &nonce, plaintext, aad)
}

// EncryptionNonceSize is where the plaintext starts in a buffer given to EncryptInPlace.
const EncryptionNonceSize = chacha20poly1305.NonceSizeX

// EncryptInPlace is Encrypt within buf, with no allocation and no copy: buf holds the
// plaintext at buf[EncryptionNonceSize:len(buf)-(EncryptionOverhead-EncryptionNonceSize)],
// the rest being room for the nonce and the tag; on return buf holds the ciphertext, as
// Encrypt would return it for that plaintext.
func (k SecretKey) EncryptInPlace(buf, aad []byte) { sealInPlace(k.aead(), buf, aad) }

// sealInPlace is EncryptInPlace with an AEAD of 24-byte nonces and 16-byte tags.
func sealInPlace(a cipher.AEAD, buf, aad []byte) {
	if len(buf) < EncryptionOverhead {
		panic("crypto: EncryptInPlace: buffer shorter than the encryption overhead")
	}
	nonce := buf[:EncryptionNonceSize]
	randomFill(nonce)
	plaintext := buf[EncryptionNonceSize : len(buf)-(EncryptionOverhead-EncryptionNonceSize)]
	// The sealed output starts exactly where the plaintext is (an exact overlap, which the
	// AEAD allows) and does not touch the nonce before it.
	a.Seal(nonce, nonce, plaintext, aad)
}

// encryptWithNonce is EncryptTo with a given nonce. Only known-answer tests choose the
// nonce; reusing one under the same key would break the encryption.
func (k SecretKey) encryptWithNonce(dst []byte, nonce *[chacha20poly1305.NonceSizeX]byte, plaintext, aad []byte) []byte {
	return sealWithNonce(k.aead(), dst, nonce, plaintext, aad)
}

func sealWithNonce(a cipher.AEAD, dst []byte, nonce *[EncryptionNonceSize]byte, plaintext, aad []byte) []byte {
	dst = slices.Grow(dst, EncryptionOverhead+len(plaintext))
	dst = append(dst, nonce[:]...)
	return a.Seal(dst, nonce[:], plaintext, aad)
}

// Decrypt opens a ciphertext made by Encrypt with the same key and aad. Any failure (wrong
// key, wrong aad, tampered or truncated data) returns ErrDecrypt.
func (k SecretKey) Decrypt(ciphertext, aad []byte) ([]byte, error) {
	return k.DecryptTo(nil, ciphertext, aad)
}

// DecryptInPlace is Decrypt writing the plaintext over the ciphertext's own bytes, with
// no allocation: ciphertext is destroyed, and the result shares its memory.
func (k SecretKey) DecryptInPlace(ciphertext, aad []byte) ([]byte, error) {
	return openInPlace(k.aead(), ciphertext, aad)
}

// DecryptTo is Decrypt appending the plaintext to dst. dst's spare capacity may overlap
// the ciphertext only exactly (see DecryptInPlace).
func (k SecretKey) DecryptTo(dst, ciphertext, aad []byte) ([]byte, error) {
	return openTo(k.aead(), dst, ciphertext, aad)
}

func openInPlace(a cipher.AEAD, ciphertext, aad []byte) ([]byte, error) {
	if len(ciphertext) < EncryptionOverhead {
		return nil, ErrDecrypt
	}
	return openTo(a, ciphertext[EncryptionNonceSize:][:0], ciphertext, aad)
}

func openTo(a cipher.AEAD, dst, ciphertext, aad []byte) ([]byte, error) {
	if len(ciphertext) < EncryptionOverhead {
		return nil, ErrDecrypt
	}
	nonce, sealed := ciphertext[:EncryptionNonceSize], ciphertext[EncryptionNonceSize:]
	pt, err := a.Open(dst, nonce, sealed, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

func (k SecretKey) aead() cipher.AEAD {
	a, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		panic("crypto: " + err.Error()) // unreachable: the key has the right size
	}
	return a
}

// MarshalBinary and UnmarshalBinary let encoders carry the key as a byte string of exactly
// 32 bytes.
func (k SecretKey) MarshalBinary() ([]byte, error) { return k[:], nil }

func (k *SecretKey) UnmarshalBinary(b []byte) error {
	p, err := ParseSecretKey(b)
	if err != nil {
		return err
	}
	*k = p
	return nil
}
