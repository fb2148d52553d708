// Package shamir splits a secret into shares with Shamir's secret sharing over GF(256), as
// Parsec's shared recovery does (protocol reference §9).
//
// The scheme works on each byte of the secret separately. For a threshold t, each secret byte
// s is the constant term of a polynomial f(x) = s + c₁x + … + c_{t−1}x^{t−1} whose other
// coefficients are drawn at random; share number i (x = 1…n) holds f(i) for every byte. Any t
// shares determine the polynomials and so, by Lagrange interpolation at x = 0, the secret;
// fewer than t shares say nothing about it. Arithmetic is in GF(2⁸) with the AES polynomial
// x⁸ + x⁴ + x³ + x + 1 (0x11b), without tables, in constant time.
//
// A share's wire form is one byte for x followed by the y bytes, one per secret byte, so a
// share is one byte longer than the secret. There are at most 255 shares (x = 0 would be the
// secret itself).
//
// Combining fewer shares than the threshold does not fail: it returns a wrong secret, which
// is the mathematics of the scheme and not something this package can detect. Callers must
// check the result, for example by decrypting with it under authenticated encryption.
//
// This package must never log or print a share's y bytes or a secret.
package shamir
