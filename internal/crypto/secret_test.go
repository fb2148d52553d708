package crypto

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestSecretKeyRoundTrip(t *testing.T) {
	k := GenerateSecretKey()
	tests := []struct {
		name    string
		pt, aad []byte
	}{
		{"empty", nil, nil},
		{"empty with aad", nil, []byte("aad")},
		{"short", []byte("hello"), nil},
		{"short with aad", []byte("hello"), []byte("vlob 1234")},
		{"64 KiB", bytes.Repeat([]byte{0xa5}, 64<<10), []byte("block")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ct := k.Encrypt(tc.pt, tc.aad)
			if len(ct) != len(tc.pt)+EncryptionOverhead {
				t.Fatalf("len(ciphertext) = %d, want %d", len(ct), len(tc.pt)+EncryptionOverhead)
			}
			pt, err := k.Decrypt(ct, tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pt, tc.pt) {
				t.Fatalf("Decrypt = %x, want %x", pt, tc.pt)
			}
			if ct2 := k.Encrypt(tc.pt, tc.aad); bytes.Equal(ct, ct2) {
				t.Error("two encryptions gave the same ciphertext: nonce reused")
			}
		})
	}
}

func TestSecretKeyEncryptTo(t *testing.T) {
	k := GenerateSecretKey()
	prefix := []byte("prefix")
	dst := append(make([]byte, 0, 1024), prefix...)
	out := k.EncryptTo(dst, []byte("data"), nil)
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("EncryptTo lost dst: %x", out)
	}
	if &out[0] != &dst[0] {
		t.Error("EncryptTo reallocated although dst had room")
	}
	pt, err := k.Decrypt(out[len(prefix):], nil)
	if err != nil || string(pt) != "data" {
		t.Fatalf("Decrypt = %q, %v", pt, err)
	}
}

func TestSecretKeyTamper(t *testing.T) {
	k := GenerateSecretKey()
	pt, aad := []byte("manifest contents"), []byte("vlob")
	ct := k.Encrypt(pt, aad)

	// Flip each byte in turn: nonce, ciphertext and tag.
	for i := range ct {
		region := "nonce"
		switch {
		case i >= len(ct)-16:
			region = "tag"
		case i >= 24:
			region = "ciphertext"
		}
		t.Run(fmt.Sprintf("flip %s byte %d", region, i), func(t *testing.T) {
			bad := bytes.Clone(ct)
			bad[i] ^= 0x01
			if _, err := k.Decrypt(bad, aad); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Decrypt = %v, want ErrDecrypt", err)
			}
		})
	}

	tests := []struct {
		name string
		key  SecretKey
		ct   []byte
		aad  []byte
	}{
		{"wrong aad", k, ct, []byte("block")},
		{"missing aad", k, ct, nil},
		{"wrong key", GenerateSecretKey(), ct, aad},
		{"zero key", SecretKey{}, ct, aad},
		{"truncated tag", k, ct[:len(ct)-1], aad},
		{"only nonce and tag", k, append(bytes.Clone(ct[:24]), ct[len(ct)-16:]...), aad},
		{"shorter than overhead", k, ct[:EncryptionOverhead-1], aad},
		{"nonce only", k, ct[:24], aad},
		{"empty", k, nil, aad},
		{"extended", k, append(bytes.Clone(ct), 0), aad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.key.Decrypt(tc.ct, tc.aad); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Decrypt = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestSecretKeyHidden(t *testing.T) {
	k := SecretKey{0xde, 0xad, 0xbe, 0xef}
	for _, format := range []string{"%v", "%s", "%x", "%#v", "%+v"} {
		t.Run(format, func(t *testing.T) {
			if s := fmt.Sprintf(format, k); strings.Contains(strings.ToLower(s), "dead") || strings.Contains(s, "222") {
				t.Errorf("Sprintf(%q) = %q reveals the key", format, s)
			}
		})
	}
}

// binaryCodec is implemented by the pointer of every fixed-size type of the package.
type binaryCodec interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
}

func TestMarshalBinaryLengths(t *testing.T) {
	tests := []struct {
		name  string
		value func() binaryCodec // a fresh non-zero value
		zero  func() binaryCodec // a fresh zero value to decode into
		size  int
	}{
		{"SecretKey", func() binaryCodec { k := GenerateSecretKey(); return &k }, func() binaryCodec { return new(SecretKey) }, 32},
		{"RealmKey", func() binaryCodec { k := GenerateRealmKey(); return &k }, func() binaryCodec { return new(RealmKey) }, 32},
		{"Digest", func() binaryCodec { d := Sum([]byte("x")); return &d }, func() binaryCodec { return new(Digest) }, 32},
		{"VerifyKey", func() binaryCodec { v := GenerateSigningKey().VerifyKey(); return &v }, func() binaryCodec { return new(VerifyKey) }, 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.value()
			b, err := v.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) != tc.size {
				t.Fatalf("MarshalBinary: %d bytes, want %d", len(b), tc.size)
			}
			got := tc.zero()
			if err := got.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			b2, _ := got.MarshalBinary()
			if !bytes.Equal(b, b2) {
				t.Fatalf("round trip: %x, want %x", b2, b)
			}
			for _, n := range []int{0, 1, tc.size - 1, tc.size + 1, 64} {
				err := tc.zero().UnmarshalBinary(make([]byte, n))
				if err == nil {
					t.Errorf("UnmarshalBinary(%d bytes) succeeded", n)
				} else if !strings.Contains(err.Error(), fmt.Sprint(n)) {
					t.Errorf("UnmarshalBinary(%d bytes) = %q, want the length in the error", n, err)
				}
			}
		})
	}
}

func TestParseSecretKey(t *testing.T) {
	k := GenerateSecretKey()
	got, err := ParseSecretKey(k[:])
	if err != nil || got != k {
		t.Fatalf("ParseSecretKey = %v, %v", got, err)
	}
	if _, err := ParseSecretKey(k[:31]); err == nil {
		t.Error("ParseSecretKey accepted 31 bytes")
	}
}

func FuzzDecrypt(f *testing.F) {
	k := SecretKey{1, 2, 3}
	f.Add([]byte{}, []byte{})
	f.Add(make([]byte, EncryptionOverhead), []byte("aad"))
	f.Add(k.Encrypt([]byte("hello"), nil), []byte{})
	f.Add(k.Encrypt([]byte("hello"), []byte("aad")), []byte("aad"))
	f.Fuzz(func(t *testing.T, ct, aad []byte) {
		pt, err := k.Decrypt(ct, aad)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) || pt != nil {
				t.Fatalf("Decrypt = %x, %v; want nil, ErrDecrypt", pt, err)
			}
			return
		}
		if len(pt) != len(ct)-EncryptionOverhead {
			t.Fatalf("plaintext of %d bytes from %d bytes of ciphertext", len(pt), len(ct))
		}
	})
}

func BenchmarkEncrypt512KiB(b *testing.B) {
	k := GenerateSecretKey()
	pt := make([]byte, 512<<10)
	buf := make([]byte, 0, len(pt)+EncryptionOverhead)
	b.SetBytes(int64(len(pt)))
	for b.Loop() {
		buf = k.EncryptTo(buf[:0], pt, nil)
	}
}

func TestDecryptInPlace(t *testing.T) {
	k := GenerateSecretKey()
	pt := RandomBytes(1000)
	ct := k.Encrypt(pt, []byte("aad"))
	got, err := k.DecryptInPlace(ct, []byte("aad"))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("DecryptInPlace = %v", err)
	}
	ct = k.Encrypt(pt, []byte("aad"))
	if _, err := k.DecryptInPlace(ct, []byte("other")); err != ErrDecrypt {
		t.Fatalf("wrong aad: %v", err)
	}
	if _, err := k.DecryptInPlace(ct[:10], nil); err != ErrDecrypt {
		t.Fatalf("short: %v", err)
	}
}
