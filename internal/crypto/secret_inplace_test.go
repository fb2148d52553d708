package crypto

import (
	"bytes"
	"testing"
)

func TestEncryptInPlace(t *testing.T) {
	k := GenerateSecretKey()
	for _, n := range []int{0, 1, 100, 64 << 10} {
		plaintext := bytes.Repeat([]byte{0x5a}, n)
		buf := make([]byte, n+EncryptionOverhead)
		copy(buf[EncryptionNonceSize:], plaintext)
		k.EncryptInPlace(buf, []byte("aad"))
		got, err := k.Decrypt(buf, []byte("aad"))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !bytes.Equal(got, plaintext) {
			t.Fatalf("%d bytes: decrypted to other bytes", n)
		}
		if _, err := k.Decrypt(buf, []byte("other")); err == nil {
			t.Fatalf("%d bytes: decrypted with another aad", n)
		}
	}
}
