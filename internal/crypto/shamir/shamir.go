package shamir

import (
	"crypto/rand"
	"io"
	"strconv"

	"github.com/parsec-go/parsec/internal/parsec"
)

// MaxShares is the largest number of shares: x runs from 1 to 255.
const MaxShares = 255

// Share is one share of a secret: the point x (never 0) and the values y of the secret's
// polynomials at x, one per secret byte.
//
// Its String method hides Y, so that a share printed by mistake does not leak.
type Share struct {
	X byte
	Y []byte
}

// Encode returns the wire form of s: X followed by Y.
func (s Share) Encode() []byte {
	return append([]byte{s.X}, s.Y...)
}

// DecodeShare reads a share in its wire form. Input shorter than two bytes (no y) or with
// x = 0 is an error of kind parsec.Invalid. The share does not keep b.
func DecodeShare(b []byte) (Share, error) {
	if len(b) < 2 {
		return Share{}, parsec.Errorf(parsec.Invalid, "malformed shamir share: %d bytes, want at least 2 (x and one y)", len(b))
	}
	if b[0] == 0 {
		return Share{}, parsec.Errorf(parsec.Invalid, "malformed shamir share: x is 0")
	}
	return Share{X: b[0], Y: append([]byte(nil), b[1:]...)}, nil
}

// String hides the share's values.
func (s Share) String() string { return "Share(x=" + strconv.Itoa(int(s.X)) + ", redacted)" }

// GoString hides the share's values from %#v too.
func (s Share) GoString() string { return s.String() }

// Split cuts secret into n shares, x = 1…n, any threshold of which recover it. The random
// coefficients come from random, which must be a cryptographic source; nil means
// crypto/rand.Reader. Tests pass a seeded reader.
//
// The parameters must satisfy 1 ≤ threshold ≤ n ≤ 255 and secret must not be empty; each
// violation is an error of kind parsec.Invalid. A threshold of 1 gives every share the secret
// itself as y, and reads nothing from random. A failure of random is an error that wraps it.
func Split(secret []byte, n, threshold int, random io.Reader) ([]Share, error) {
	switch {
	case len(secret) == 0:
		return nil, parsec.Errorf(parsec.Invalid, "shamir split: the secret is empty")
	case n < 1 || n > MaxShares:
		return nil, parsec.Errorf(parsec.Invalid, "shamir split: %d shares, want 1 to %d", n, MaxShares)
	case threshold < 1:
		return nil, parsec.Errorf(parsec.Invalid, "shamir split: threshold %d, want at least 1", threshold)
	case threshold > n:
		return nil, parsec.Errorf(parsec.Invalid, "shamir split: threshold %d is above the number of shares (%d)", threshold, n)
	}
	if random == nil {
		random = rand.Reader
	}

	// coeffs[k*(t−1) : (k+1)*(t−1)] are c₁…c_{t−1} of secret byte k's polynomial.
	degree := threshold - 1
	coeffs := make([]byte, len(secret)*degree)
	defer clear(coeffs)
	if _, err := io.ReadFull(random, coeffs); err != nil {
		return nil, parsec.Errorf(parsec.Other, "shamir split: reading random coefficients: %w", err)
	}

	shares := make([]Share, n)
	for i := range shares {
		x := byte(i + 1)
		y := make([]byte, len(secret))
		for k, s := range secret {
			c := coeffs[k*degree : (k+1)*degree]
			// Horner: f(x) = (…(c_{t−1}·x + c_{t−2})·x + … + c₁)·x + s.
			var v byte
			for j := degree - 1; j >= 0; j-- {
				v = mul(v, x) ^ c[j]
			}
			y[k] = mul(v, x) ^ s
		}
		shares[i] = Share{X: x, Y: y}
	}
	return shares, nil
}

// Combine recovers the secret from shares by Lagrange interpolation at x = 0.
//
// Three things might happen:
//   - with at least the threshold's number of shares of one Split, it returns the secret;
//   - with fewer, or with shares of different splits, it returns a wrong secret, without an
//     error: the scheme cannot tell. Callers detect this when authenticated decryption with
//     the result fails;
//   - with no shares, a share with x = 0 or no y, two shares with the same x, or shares of
//     unequal lengths, it returns an error of kind parsec.Invalid.
func Combine(shares []Share) ([]byte, error) {
	if len(shares) == 0 {
		return nil, parsec.Errorf(parsec.Invalid, "shamir combine: no shares")
	}
	size := len(shares[0].Y)
	var seen [256]bool
	for _, s := range shares {
		switch {
		case s.X == 0:
			return nil, parsec.Errorf(parsec.Invalid, "shamir combine: a share has x = 0")
		case len(s.Y) == 0:
			return nil, parsec.Errorf(parsec.Invalid, "shamir combine: share x = %d has no y", s.X)
		case len(s.Y) != size:
			return nil, parsec.Errorf(parsec.Invalid, "shamir combine: share x = %d has %d bytes of y, share x = %d has %d", s.X, len(s.Y), shares[0].X, size)
		case seen[s.X]:
			return nil, parsec.Errorf(parsec.Invalid, "shamir combine: two shares have x = %d", s.X)
		}
		seen[s.X] = true
	}

	secret := make([]byte, size)
	for i, si := range shares {
		// The Lagrange basis at 0: lᵢ = ∏_{j≠i} xⱼ / (xⱼ − xᵢ). Subtraction is XOR, and the
		// x are distinct, so no denominator is 0. The x are public; only y is secret.
		num, den := byte(1), byte(1)
		for j, sj := range shares {
			if j != i {
				num = mul(num, sj.X)
				den = mul(den, sj.X^si.X)
			}
		}
		l := mul(num, inv(den))
		for k, y := range si.Y {
			secret[k] ^= mul(y, l)
		}
	}
	return secret, nil
}
