package crypto

import (
	"encoding/base32"
	"strings"

	"github.com/parsec-go/parsec/internal/parsec"
)

// A recovery passphrase is a SecretKey written for people: the RFC 4648 base32 form of its
// 32 bytes (no padding, 52 characters), in 13 groups of 4 joined by dashes. It carries the
// key's 256 bits: no password stretching is needed, and none is done.

var passphraseEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewRecoveryPassphrase draws a new key and returns it with its passphrase.
func NewRecoveryPassphrase() (SecretKey, string) {
	k := GenerateSecretKey()
	return k, RecoveryPassphrase(k)
}

// RecoveryPassphrase writes k as a passphrase: "ABCD-EFGH-…".
func RecoveryPassphrase(k SecretKey) string {
	s := passphraseEncoding.EncodeToString(k[:])
	groups := make([]string, 0, (len(s)+3)/4)
	for len(s) > 4 {
		groups = append(groups, s[:4])
		s = s[4:]
	}
	return strings.Join(append(groups, s), "-")
}

// ParseRecoveryPassphrase reads a passphrase as a person may type it back: in any case, with
// or without dashes and spaces, 0 for O and 1 for I. Any other character, or a wrong
// length, is an error of kind parsec.Invalid.
func ParseRecoveryPassphrase(s string) (SecretKey, error) {
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ' || r == '\t':
		case r == '0':
			b.WriteByte('O')
		case r == '1':
			b.WriteByte('I')
		case r >= 'A' && r <= 'Z', r >= '2' && r <= '7':
			b.WriteRune(r)
		default:
			return SecretKey{}, parsec.Errorf(parsec.Invalid, "the recovery passphrase holds %q, which is not one of its letters (A to Z, 2 to 7)", r)
		}
	}
	raw, err := passphraseEncoding.DecodeString(b.String())
	if err != nil || len(raw) != SecretKeySize {
		return SecretKey{}, parsec.Errorf(parsec.Invalid, "the recovery passphrase has %d letters, not 52 (13 groups of 4)", b.Len())
	}
	return ParseSecretKey(raw)
}
