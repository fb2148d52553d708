package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"runtime"

	"golang.org/x/sys/cpu"
)

// AESKey is a key for AES-256-GCM with random 24-byte nonces: its encryptions have the
// layout and the overhead of SecretKey's (nonce ‖ ciphertext ‖ tag, EncryptionOverhead
// bytes), so that either can seal a block. GCM takes a nonce of any length (NIST SP
// 800-38D hashes one of other than 96 bits into its first counter); the longer one keeps
// random nonces as safe as XChaCha20-Poly1305's. With the processor's AES and carry-less
// multiplication instructions (AESHardware), it runs two to three times as fast as
// XChaCha20-Poly1305, and in constant time; without them, Go's AES is slower and not
// constant time, so a writer uses it only where AESHardware says so.
//
// Its String method hides the value, so that a key printed by mistake does not leak.
type AESKey [SecretKeySize]byte

// AESHardware reports whether this processor encrypts AES-GCM with instructions of its own
// (AES and carry-less multiplication on amd64 and arm64).
func AESHardware() bool {
	switch runtime.GOARCH {
	case "amd64":
		return cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ
	case "arm64":
		return cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	}
	return false
}

// String hides the key.
func (k AESKey) String() string { return "AESKey(redacted)" }

// GoString hides the key from %#v too.
func (k AESKey) GoString() string { return k.String() }

// Encrypt is SecretKey.Encrypt with AES-256-GCM.
func (k AESKey) Encrypt(plaintext, aad []byte) []byte { return k.EncryptTo(nil, plaintext, aad) }

// EncryptTo is SecretKey.EncryptTo with AES-256-GCM.
func (k AESKey) EncryptTo(dst, plaintext, aad []byte) []byte {
	var nonce [EncryptionNonceSize]byte
	randomFill(nonce[:])
	return sealWithNonce(k.aead(), dst, &nonce, plaintext, aad)
}

// EncryptInPlace is SecretKey.EncryptInPlace with AES-256-GCM.
func (k AESKey) EncryptInPlace(buf, aad []byte) { sealInPlace(k.aead(), buf, aad) }

// Decrypt is SecretKey.Decrypt with AES-256-GCM.
func (k AESKey) Decrypt(ciphertext, aad []byte) ([]byte, error) {
	return openTo(k.aead(), nil, ciphertext, aad)
}

// DecryptTo is SecretKey.DecryptTo with AES-256-GCM.
func (k AESKey) DecryptTo(dst, ciphertext, aad []byte) ([]byte, error) {
	return openTo(k.aead(), dst, ciphertext, aad)
}

// DecryptInPlace is SecretKey.DecryptInPlace with AES-256-GCM.
func (k AESKey) DecryptInPlace(ciphertext, aad []byte) ([]byte, error) {
	return openInPlace(k.aead(), ciphertext, aad)
}

func (k AESKey) aead() cipher.AEAD {
	b, err := aes.NewCipher(k[:])
	if err != nil {
		panic("crypto: " + err.Error()) // unreachable: the key has the right size
	}
	a, err := cipher.NewGCMWithNonceSize(b, EncryptionNonceSize)
	if err != nil {
		panic("crypto: " + err.Error()) // unreachable: the nonce size is allowed
	}
	return a
}
