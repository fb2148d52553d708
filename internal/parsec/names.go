package parsec

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// OrganizationID names an organization: 1 to 32 bytes of letters, digits, '_' or '-'
// (after NFC normalization). It appears in URL paths.
type OrganizationID string

var orgIDPattern = regexp.MustCompile(`^[\p{L}\p{N}_\-]{1,32}$`)

func ParseOrganizationID(s string) (OrganizationID, error) {
	n := norm.NFC.String(s)
	if len(n) == 0 || len(n) > 32 || !orgIDPattern.MatchString(n) {
		return "", Errorf(Invalid, "invalid organization name %q: use 1 to 32 letters, digits, '_' or '-'", s)
	}
	return OrganizationID(n), nil
}

func (o OrganizationID) String() string { return string(o) }

// RedactedDomain is the email domain reserved for redacted human handles.
const RedactedDomain = "redacted.invalid"

// ParseEmail checks an email address: ASCII only, a local part and a domain, at most 254
// characters. It returns the address in lower case, so that comparisons are exact.
func ParseEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Errorf(Invalid, "invalid email: empty")
	}
	if len(s) > 254 {
		return "", Errorf(Invalid, "invalid email %q: longer than 254 characters", s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] <= ' ' {
			return "", Errorf(Invalid, "invalid email %q: only ASCII letters without spaces are allowed (use punycode for international domains)", s)
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", Errorf(Invalid, "invalid email %q", s)
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || !strings.Contains(s[at+1:], ".") && s[at+1:] != "localhost" {
		return "", Errorf(Invalid, "invalid email %q", s)
	}
	lower := strings.ToLower(s)
	if strings.HasSuffix(lower, "@"+RedactedDomain) {
		return "", Errorf(Invalid, "invalid email %q: the domain %s is reserved", s, RedactedDomain)
	}
	return lower, nil
}

// HumanHandle is how a person appears to others: an email and a name. Two handles are the
// same person when their emails are equal.
type HumanHandle struct {
	Email string `cbor:"email" json:"email"`
	Label string `cbor:"label" json:"name"`
}

// NewHumanHandle validates and normalizes an email and a name.
func NewHumanHandle(email, label string) (HumanHandle, error) {
	e, err := ParseEmail(email)
	if err != nil {
		return HumanHandle{}, err
	}
	l, err := ParseName(label)
	if err != nil {
		return HumanHandle{}, err
	}
	return HumanHandle{Email: e, Label: l}, nil
}

// Validate checks a handle decoded from the wire.
func (h HumanHandle) Validate() error {
	n, err := NewHumanHandle(h.Email, h.Label)
	if err != nil {
		return err
	}
	if n != h {
		return Errorf(Invalid, "human handle %q is not in normal form", h.String())
	}
	return nil
}

func (h HumanHandle) String() string { return h.Label + " <" + h.Email + ">" }

// ParseName checks a person's name: NFC normalized, 1 to 254 bytes, none of < > @ , : ; \ " [ ].
func ParseName(s string) (string, error) {
	n := norm.NFC.String(strings.TrimSpace(s))
	if n == "" {
		return "", Errorf(Invalid, "invalid name: empty")
	}
	if len(n) >= 255 {
		return "", Errorf(Invalid, "invalid name %q: longer than 254 bytes", s)
	}
	if strings.ContainsAny(n, "<>@,:;\\\"[]") || !printable(n) {
		return "", Errorf(Invalid, "invalid name %q: must not contain < > @ , : ; \\ \" [ ] or control characters", s)
	}
	return n, nil
}

// ParseDeviceLabel checks a device label: NFC normalized, 1 to 255 bytes, printable.
func ParseDeviceLabel(s string) (string, error) {
	n := norm.NFC.String(strings.TrimSpace(s))
	if n == "" {
		return "", Errorf(Invalid, "invalid device label: empty")
	}
	if len(n) > 255 {
		return "", Errorf(Invalid, "invalid device label %q: longer than 255 bytes", s)
	}
	if !printable(n) {
		return "", Errorf(Invalid, "invalid device label %q: contains control characters", s)
	}
	return n, nil
}

// ValidDeviceLabel reports whether a label decoded from the wire is in normal form.
func ValidDeviceLabel(s string) bool {
	n, err := ParseDeviceLabel(s)
	return err == nil && n == s
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// RedactedHandle is the placeholder shown to External users instead of another user's identity.
func RedactedHandle(id UserID) HumanHandle {
	return HumanHandle{Email: id.String() + "@" + RedactedDomain, Label: id.String()}
}

// RedactedDeviceLabel is the placeholder shown to External users instead of a device label.
func RedactedDeviceLabel(id DeviceID) string { return id.String() }

// FormatSize renders a size for people: 512 B, 1.5 KiB, 3.0 MiB…
func FormatSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(1024), 0
	for m := n / 1024; m >= 1024; m /= 1024 {
		div *= 1024
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
