package manifest

import "testing"

// SealBody signs and encrypts an arbitrary manifest body, so that tests can seal what
// Encode would never produce (unknown fields, non-canonical encodings, garbage).
var SealBody = sealBody

// SealKeysBundleBody is SealKeysBundle for an arbitrary body.
var SealKeysBundleBody = sealKeysBundleBody

// SetBlockCipher makes this process seal blocks with cipher until the test ends.
func SetBlockCipher(t testing.TB, cipher string) {
	old := blockCipher
	blockCipher = cipher
	t.Cleanup(func() { blockCipher = old })
}
