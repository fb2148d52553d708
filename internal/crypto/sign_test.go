package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestSignVerify(t *testing.T) {
	k := GenerateSigningKey()
	msg := []byte("certificate body")
	sig := k.Sign("parsec/1/user_certificate", msg)
	if err := k.VerifyKey().Verify("parsec/1/user_certificate", msg, sig); err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(sig)
	flipped[10] ^= 1
	tests := []struct {
		name   string
		key    VerifyKey
		domain string
		msg    []byte
		sig    []byte
	}{
		{"other domain", k.VerifyKey(), "parsec/1/device_certificate", msg, sig},
		{"domain prefix", k.VerifyKey(), "parsec/1/user", msg, sig},
		{"domain and message boundary moved", k.VerifyKey(), "parsec/1/user_certificate\x00a", []byte("b"), k.Sign("parsec/1/user_certificate", []byte("a\x00b"))},
		{"other message", k.VerifyKey(), "parsec/1/user_certificate", []byte("certificate bodY"), sig},
		{"other key", GenerateSigningKey().VerifyKey(), "parsec/1/user_certificate", msg, sig},
		{"flipped signature", k.VerifyKey(), "parsec/1/user_certificate", msg, flipped},
		{"short signature", k.VerifyKey(), "parsec/1/user_certificate", msg, sig[:63]},
		{"no signature", k.VerifyKey(), "parsec/1/user_certificate", msg, nil},
		{"zero key", VerifyKey{}, "parsec/1/user_certificate", msg, sig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.key.Verify(tc.domain, tc.msg, tc.sig); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestSignDomainWithZeroByte(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Sign accepted a domain with a zero byte")
		}
	}()
	GenerateSigningKey().Sign("parsec/1/a\x00b", nil)
}

func TestSigningKeyHidden(t *testing.T) {
	k, err := SigningKeyFromSeed(bytes.Repeat([]byte{0xab}, 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		if s := fmt.Sprintf(format, k); strings.Contains(s, "171") || strings.Contains(s, "abab") {
			t.Errorf("Sprintf(%q) = %q reveals the key", format, s)
		}
	}
}

func TestSigningKeySeed(t *testing.T) {
	k := GenerateSigningKey()
	k2, err := SigningKeyFromSeed(k.Seed())
	if err != nil {
		t.Fatal(err)
	}
	if k2.VerifyKey() != k.VerifyKey() {
		t.Error("key rebuilt from its seed differs")
	}
	for _, n := range []int{0, 31, 33, 64} {
		if _, err := SigningKeyFromSeed(make([]byte, n)); err == nil {
			t.Errorf("SigningKeyFromSeed(%d bytes) succeeded", n)
		}
	}
	if !(SigningKey{}).IsZero() || k.IsZero() {
		t.Error("IsZero is wrong")
	}
}
