package crypto

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/zeebo/blake3"
)

// DigestSize is the size of a Digest.
const DigestSize = sha256.Size

// Digest is a 256-bit hash: SHA-256 (Sum) of an invitation nonce (its commitment), of a
// request body; BLAKE3 (SumBLAKE3) of a block, SHA-256 for blocks written before.
type Digest [DigestSize]byte

// Sum returns the SHA-256 digest of data.
func Sum(data []byte) Digest { return sha256.Sum256(data) }

// SumBLAKE3 returns the BLAKE3 digest of data, 256 bits. Every byte of a file is hashed
// once on each side of an upload or download, and BLAKE3 does it two to three times as fast
// as SHA-256 on blocks of hundreds of kilobytes, with the same 128-bit strength against
// collisions (SHA-256 is no faster even with the processor's SHA instructions).
func SumBLAKE3(data []byte) Digest { return blake3.Sum256(data) }

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
