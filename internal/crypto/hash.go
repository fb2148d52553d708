package crypto

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// DigestSize is the size of a Digest.
const DigestSize = sha256.Size

// Digest is a SHA-256 hash: of a block, of an invitation nonce (its commitment), of a
// request body.
type Digest [DigestSize]byte

// Sum returns the SHA-256 digest of data.
func Sum(data []byte) Digest { return sha256.Sum256(data) }

// ParseDigest checks the length of a digest read from storage or the wire.
func ParseDigest(b []byte) (Digest, error) {
	var d Digest
	if len(b) != len(d) {
		return d, fmt.Errorf("invalid digest: %d bytes, want %d", len(b), len(d))
	}
	copy(d[:], b)
	return d, nil
}

// String returns the digest in lowercase hexadecimal.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// IsZero reports whether d is the zero value (no digest).
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalBinary and UnmarshalBinary let encoders carry the digest as a byte string of
// exactly 32 bytes.
func (d Digest) MarshalBinary() ([]byte, error) { return d[:], nil }

func (d *Digest) UnmarshalBinary(b []byte) error {
	p, err := ParseDigest(b)
	if err != nil {
		return err
	}
	*d = p
	return nil
}
