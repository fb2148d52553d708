package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

const testDomain = "parsec/1/realm_keys_bundle_access"

func TestSealForUser(t *testing.T) {
	alice, bob := GenerateUserKey(), GenerateUserKey()
	pt := []byte("realm keys bundle access")
	sealed, err := SealForUser(alice.Public(), testDomain, pt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := alice.Open(testDomain, sealed)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v; want %q", got, err, pt)
	}
	empty, err := SealForUser(alice.Public(), testDomain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := alice.Open(testDomain, empty); err != nil || len(got) != 0 {
		t.Fatalf("Open(empty) = %q, %v", got, err)
	}

	tests := []struct {
		name   string
		key    UserPrivateKey
		domain string
		sealed []byte
	}{
		{"wrong domain", alice, "parsec/1/other", sealed},
		{"empty domain", alice, "", sealed},
		{"other user's key", bob, testDomain, sealed},
		{"zero key", UserPrivateKey{}, testDomain, sealed},
		{"truncated tag", alice, testDomain, sealed[:len(sealed)-1]},
		{"encapsulation only", alice, testDomain, sealed[:encapsulatedKeySize]},
		{"shorter than encapsulation", alice, testDomain, sealed[:encapsulatedKeySize-1]},
		{"empty", alice, testDomain, nil},
		{"extended", alice, testDomain, append(bytes.Clone(sealed), 0)},
	}
	// Flip a byte in each region: the ML-KEM ciphertext, the X25519 key, the ciphertext
	// and the tag.
	for _, i := range []int{0, 500, 1087, 1088, 1119, 1120, len(sealed) - 17, len(sealed) - 1} {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		tests = append(tests, struct {
			name   string
			key    UserPrivateKey
			domain string
			sealed []byte
		}{fmt.Sprintf("flip byte %d", i), alice, testDomain, bad})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := tc.key.Open(tc.domain, tc.sealed); !errors.Is(err, ErrDecrypt) {
				t.Fatalf("Open = %q, %v; want ErrDecrypt", got, err)
			}
		})
	}
	t.Run("zero public key", func(t *testing.T) {
		if _, err := SealForUser(UserPublicKey{}, testDomain, pt); err == nil {
			t.Error("SealForUser with no key succeeded")
		}
	})
}

func TestUserKeySerialization(t *testing.T) {
	k := GenerateUserKey()
	t.Run("private key round trip", func(t *testing.T) {
		k2, err := ParseUserPrivateKey(k.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if !k2.Public().Equal(k.Public()) || !bytes.Equal(k2.Bytes(), k.Bytes()) {
			t.Error("parsed private key differs")
		}
	})
	t.Run("public key round trip", func(t *testing.T) {
		b, err := k.Public().MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var p UserPublicKey
		if err := p.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !p.Equal(k.Public()) {
			t.Error("parsed public key differs")
		}
		// The parsed key works.
		sealed, err := SealForUser(p, testDomain, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := k.Open(testDomain, sealed); err != nil {
			t.Error(err)
		}
	})
	pub := k.Public().Bytes()
	garbage := bytes.Clone(pub)
	garbage[0], garbage[1] = 0xff, 0xff // an ML-KEM coefficient of 4095 ≥ q
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", pub[:len(pub)-1]},
		{"long", append(bytes.Clone(pub), 0)},
		{"not reduced", garbage},
		{"random bytes of a private key", k.Bytes()},
	} {
		t.Run("public key "+tc.name, func(t *testing.T) {
			if _, err := ParseUserPublicKey(tc.b); err == nil {
				t.Error("ParseUserPublicKey succeeded")
			}
		})
	}
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", k.Bytes()[:31]},
		{"long", append(k.Bytes(), 0)},
	} {
		t.Run("private key "+tc.name, func(t *testing.T) {
			if _, err := ParseUserPrivateKey(tc.b); err == nil {
				t.Error("ParseUserPrivateKey succeeded")
			}
		})
	}
}

func FuzzOpen(f *testing.F) {
	k, err := ParseUserPrivateKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := SealForUser(k.Public(), testDomain, []byte("hello"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(testDomain, []byte{})
	f.Add(testDomain, make([]byte, encapsulatedKeySize+16))
	f.Add(testDomain, sealed)
	f.Add("", sealed)
	f.Fuzz(func(t *testing.T, domain string, sealed []byte) {
		pt, err := k.Open(domain, sealed)
		if err != nil && (!errors.Is(err, ErrDecrypt) || pt != nil) {
			t.Fatalf("Open = %x, %v; want nil, ErrDecrypt", pt, err)
		}
	})
}
