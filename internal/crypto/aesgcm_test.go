package crypto

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// A known answer computed with another implementation (OpenSSL, through Python's
// cryptography 48: AESGCM(key).encrypt(nonce, plaintext, aad)) for a 24-byte nonce.
func TestAESKeyKnownAnswer(t *testing.T) {
	var key AESKey
	var nonce [EncryptionNonceSize]byte
	aad := make([]byte, 16)
	for i := range key {
		key[i] = byte(i)
	}
	for i := range nonce {
		nonce[i] = byte(100 + i)
	}
	for i := range aad {
		aad[i] = byte(i)
	}
	plaintext := []byte("parsec block, 24-byte nonce")
	want := "6465666768696a6b6c6d6e6f707172737475767778797a7b1cc5f7d5dd22629a2a4f32da293396c3d63bb78eae9246e05717686319b5a2cdeb52be8b776cd4149ac19a"
	got := sealWithNonce(key.aead(), nil, &nonce, plaintext, aad)
	if hex.EncodeToString(got) != want {
		t.Fatalf("sealed %x, want %s", got, want)
	}
	pt, err := key.Decrypt(got, aad)
	if err != nil || !bytes.Equal(pt, plaintext) {
		t.Fatalf("Decrypt = %q, %v", pt, err)
	}
}

// AESKey seals in place and opens in place like SecretKey, with the same layout; a
// ciphertext of one cipher never opens with the other, and any change is refused.
func TestAESKeyInPlace(t *testing.T) {
	k := AESKey(GenerateSecretKey())
	for _, n := range []int{0, 1, 100, 64 << 10} {
		plaintext := bytes.Repeat([]byte{0x5a}, n)
		buf := make([]byte, n+EncryptionOverhead)
		copy(buf[EncryptionNonceSize:], plaintext)
		k.EncryptInPlace(buf, []byte("aad"))
		if _, err := SecretKey(k).Decrypt(buf, []byte("aad")); err != ErrDecrypt {
			t.Fatalf("%d bytes: opened as XChaCha20-Poly1305 with the same key bytes: %v", n, err)
		}
		if _, err := k.Decrypt(buf, []byte("other")); err != ErrDecrypt {
			t.Fatalf("%d bytes: decrypted with another aad: %v", n, err)
		}
		flipped := bytes.Clone(buf)
		flipped[len(flipped)/2] ^= 1
		if _, err := k.Decrypt(flipped, []byte("aad")); err != ErrDecrypt {
			t.Fatalf("%d bytes: decrypted a flipped byte: %v", n, err)
		}
		got, err := k.DecryptInPlace(buf, []byte("aad"))
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Fatalf("%d bytes: DecryptInPlace = %v", n, err)
		}
		if n > 0 && &got[0] != &buf[EncryptionNonceSize] {
			t.Fatalf("%d bytes: the plaintext does not share the ciphertext's memory", n)
		}
	}
	if _, err := k.Decrypt(make([]byte, EncryptionOverhead-1), nil); err != ErrDecrypt {
		t.Fatalf("short ciphertext: %v", err)
	}
	if got := k.Encrypt([]byte("x"), nil); len(got) != 1+EncryptionOverhead {
		t.Fatalf("Encrypt made %d bytes", len(got))
	}
}
