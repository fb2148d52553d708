package crypto

import "crypto/rand"

// RandomBytes returns n bytes from the system's cryptographic random source. It panics if
// that source fails, which leaves nothing safe to do.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	randomFill(b)
	return b
}

// randomFill fills b from the system's random source, or panics.
func randomFill(b []byte) {
	if _, err := rand.Read(b); err != nil {
		panic("crypto: system random source failed: " + err.Error())
	}
}
