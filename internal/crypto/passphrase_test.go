package crypto

import (
	"bytes"
	"encoding/base32"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
)

func TestRecoveryPassphrase(t *testing.T) {
	// A published vector: RFC 4648 §10, base32("foobar") = "MZXW6YTBOI"; here the 32 bytes
	// "foobar" followed by zeros.
	var k SecretKey
	copy(k[:], "foobar")
	p := RecoveryPassphrase(k)
	if !strings.HasPrefix(p, "MZXW-6YTB-OI") || len(strings.Split(p, "-")) != 13 {
		t.Fatalf("passphrase %q", p)
	}
	if want := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(k[:]); strings.ReplaceAll(p, "-", "") != want {
		t.Fatalf("passphrase %q is not base32 %q", p, want)
	}
	// Typed back loosely: lower case, spaces, 0 for O and 1 for I.
	loose := strings.ToLower(strings.NewReplacer("-", " ", "O", "0", "I", "1").Replace(p))
	got, err := ParseRecoveryPassphrase(loose)
	if err != nil || got != k {
		t.Fatalf("parse %q = %v, %v", loose, got, err)
	}
	for _, bad := range []string{"", p[:len(p)-2], p + "AB", strings.Replace(p, "M", "@", 1)} {
		if _, err := ParseRecoveryPassphrase(bad); !parsec.IsKind(err, parsec.Invalid) {
			t.Errorf("parse %q: %v, want Invalid", bad, err)
		}
	}
}

// Property: every key comes back from its passphrase, and two draws differ.
func TestRecoveryPassphraseRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		k, p := NewRecoveryPassphrase()
		if seen[p] {
			t.Fatal("the same passphrase twice")
		}
		seen[p] = true
		got, err := ParseRecoveryPassphrase(p)
		if err != nil || !bytes.Equal(got[:], k[:]) {
			t.Fatalf("%q: %v", p, err)
		}
	}
}
