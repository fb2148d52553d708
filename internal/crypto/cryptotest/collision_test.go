package cryptotest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"testing"
)

func open(t *testing.T, key, nonce, aad, ciphertextAndTag []byte) ([]byte, error) {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCMWithNonceSize(block, len(nonce))
	if err != nil {
		t.Fatal(err)
	}
	return g.Open(nil, nonce, ciphertextAndTag, aad)
}

// The arithmetic gives crypto/cipher's tags, for both nonce lengths.
func TestGCMTag(t *testing.T) {
	key, aad, plaintext := make([]byte, 32), []byte("block ID, 16 B!!"), bytes.Repeat([]byte("abc"), 100)
	rand.Read(key)
	for _, n := range []int{12, 24} {
		nonce := make([]byte, n)
		rand.Read(nonce)
		block, _ := aes.NewCipher(key)
		g, _ := cipher.NewGCMWithNonceSize(block, n)
		sealed := g.Seal(nil, nonce, plaintext, aad)
		ct, tag := sealed[:len(plaintext)], sealed[len(plaintext):]
		if got := GCMTag(key, nonce, aad, ct); !bytes.Equal(got, tag) {
			t.Fatalf("nonce of %d bytes: tag %x, crypto/cipher's %x", n, got, tag)
		}
	}
}

// The collision opens with both keys, to two different plaintexts.
func TestAESGCMCollision(t *testing.T) {
	key1, key2, nonce := make([]byte, 32), make([]byte, 32), make([]byte, 24)
	rand.Read(key1)
	rand.Read(key2)
	rand.Read(nonce)
	aad := []byte("0123456789abcdef")
	plaintext := bytes.Repeat([]byte("the content one reader sees. "), 40)
	sealed := AESGCMCollision(key1, key2, nonce, aad, plaintext)
	p1, err1 := open(t, key1, nonce, aad, sealed[24:])
	p2, err2 := open(t, key2, nonce, aad, sealed[24:])
	if err1 != nil || err2 != nil {
		t.Fatalf("open with key 1: %v, with key 2: %v", err1, err2)
	}
	if !bytes.Equal(p1[16:], plaintext[16:]) {
		t.Error("under key 1, the plaintext changed beyond its first block")
	}
	if bytes.Equal(p1, p2) {
		t.Error("both keys give the same plaintext")
	}
}
