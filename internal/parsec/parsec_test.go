package parsec

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestParseOrganizationID(t *testing.T) {
	for _, ok := range []string{"Acme", "a", "Société-1", "my_org-2", strings.Repeat("x", 32), "e\u0301t\u00e9"} {
		if _, err := ParseOrganizationID(ok); err != nil {
			t.Errorf("ParseOrganizationID(%q) = %v, want ok", ok, err)
		}
	}
	for _, bad := range []string{"", "a b", "a/b", "..", "a.b", strings.Repeat("x", 33), strings.Repeat("é", 17), "a\x00"} {
		if _, err := ParseOrganizationID(bad); KindOf(err) != Invalid {
			t.Errorf("ParseOrganizationID(%q) = %v, want kind Invalid", bad, err)
		}
	}
	// NFC normalization: the decomposed and composed forms are the same organization.
	a, _ := ParseOrganizationID("e\u0301")
	b, _ := ParseOrganizationID("\u00e9")
	if a != b {
		t.Errorf("NFC: %q != %q", a, b)
	}
}

func TestParseEmail(t *testing.T) {
	cases := map[string]string{
		"alice@example.com":     "alice@example.com",
		" Alice@Example.COM ":   "alice@example.com",
		"a.b+c@sub.example.org": "a.b+c@sub.example.org",
		"root@localhost":        "root@localhost",
	}
	for in, want := range cases {
		got, err := ParseEmail(in)
		if err != nil || got != want {
			t.Errorf("ParseEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "alice", "alice@", "@example.com", "alice@example", "al ice@example.com",
		"Alice <alice@example.com>", "élise@example.com", "x@" + RedactedDomain, strings.Repeat("a", 250) + "@b.co"} {
		if _, err := ParseEmail(bad); KindOf(err) != Invalid {
			t.Errorf("ParseEmail(%q) = %v, want kind Invalid", bad, err)
		}
	}
}

func TestHumanHandleAndLabels(t *testing.T) {
	h, err := NewHumanHandle("Bob@Example.com", "  Bob Marley ")
	if err != nil || h != (HumanHandle{Email: "bob@example.com", Label: "Bob Marley"}) {
		t.Fatalf("NewHumanHandle = %+v, %v", h, err)
	}
	if h.String() != "Bob Marley <bob@example.com>" {
		t.Errorf("String() = %q", h.String())
	}
	if err := h.Validate(); err != nil {
		t.Errorf("Validate of a normal handle: %v", err)
	}
	if err := (HumanHandle{Email: "Bob@example.com", Label: "Bob"}).Validate(); err == nil {
		t.Error("a handle not in normal form validated")
	}
	for _, bad := range []string{"", "a<b", "a@b", "a,b", "a;b", "a\"b", "a[b]", "a\nb", strings.Repeat("x", 255)} {
		if _, err := ParseName(bad); KindOf(err) != Invalid {
			t.Errorf("ParseName(%q) = %v, want Invalid", bad, err)
		}
	}
	for _, bad := range []string{"", " ", "a\tb", strings.Repeat("x", 256)} {
		if _, err := ParseDeviceLabel(bad); KindOf(err) != Invalid {
			t.Errorf("ParseDeviceLabel(%q) = %v, want Invalid", bad, err)
		}
	}
	if !ValidDeviceLabel("Alice's laptop") || ValidDeviceLabel(" padded ") {
		t.Error("ValidDeviceLabel")
	}
	id := NewUserID()
	if r := RedactedHandle(id); r.Email != id.String()+"@redacted.invalid" || r.Label != id.String() {
		t.Errorf("RedactedHandle = %+v", r)
	}
}

func TestIDs(t *testing.T) {
	a, b := NewUserID(), NewUserID()
	if a == b || a.IsZero() {
		t.Fatal("NewUserID not random")
	}
	if a[6]>>4 != 4 || a[8]>>6 != 2 {
		t.Errorf("not a UUID v4: %x", a)
	}
	got, err := ParseUserID(a.String())
	if err != nil || got != a {
		t.Errorf("ParseUserID(String()) = %v, %v", got, err)
	}
	dashed := fmt.Sprintf("%x-%x-%x-%x-%x", a[0:4], a[4:6], a[6:8], a[8:10], a[10:])
	if got, err := ParseUserID(dashed); err != nil || got != a {
		t.Errorf("ParseUserID(dashed) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("g", 32), a.String() + "00"} {
		if _, err := ParseDeviceID(bad); KindOf(err) != Invalid {
			t.Errorf("ParseDeviceID(%q) = %v, want Invalid", bad, err)
		}
	}
	var u UserID
	if err := u.UnmarshalBinary([]byte{1, 2, 3}); KindOf(err) != Invalid {
		t.Errorf("UnmarshalBinary of 3 bytes = %v", err)
	}
	if ShortID(a) != a.String()[:7] {
		t.Errorf("ShortID = %q", ShortID(a))
	}
}

// TestSequentialIDs: vlob and block IDs follow each other in byte order (what keeps the
// databases' pages together), are unique, and their short forms tell them apart.
func TestSequentialIDs(t *testing.T) {
	const n = 10000
	ids := make([][16]byte, n)
	shorts := map[string]bool{}
	for i := range ids {
		if i%2 == 0 {
			ids[i] = NewVlobID()
		} else {
			ids[i] = NewBlockID()
		}
		if v := ids[i][6] >> 4; v != 8 || ids[i][8]>>6 != 2 {
			t.Fatalf("ID %x: version %d, variant %d; want 8 and 2", ids[i], v, ids[i][8]>>6)
		}
		shorts[ShortID(VlobID(ids[i]))] = true
	}
	ascending := 0
	for i := 1; i < n; i++ {
		if ids[i] == ids[i-1] {
			t.Fatalf("ID %x made twice", ids[i])
		}
		if bytes.Compare(ids[i-1][:], ids[i][:]) < 0 {
			ascending++
		}
	}
	// The sequence may wrap around once (from a random start among 2^48).
	if ascending < n-2 {
		t.Errorf("%d of %d IDs follow the one before, want all", ascending, n-1)
	}
	if len(shorts) < n-5 {
		t.Errorf("%d distinct short forms among %d IDs", len(shorts), n)
	}
	if s := ShortID(VlobID(ids[0])); s == VlobID(ids[1]).String()[:7] || len(s) != 7 {
		t.Errorf("ShortID = %q, the first digits the next ID shares", s)
	}
}

// TestIDsLog: identifiers log as they print with the JSON handler too (the server's
// --log-format json wrote them as arrays of 16 numbers).
func TestIDsLog(t *testing.T) {
	for _, tc := range []struct {
		name string
		id   fmt.Stringer
	}{
		{"user", NewUserID()},
		{"device", NewDeviceID()},
		{"vlob", NewVlobID()},
		{"block", NewBlockID()},
		{"greeting attempt", NewGreetingAttemptID()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "id", tc.id)
			if want := `"id":"` + tc.id.String() + `"`; !strings.Contains(buf.String(), want) {
				t.Errorf("logged %s, want it to hold %s", buf.String(), want)
			}
		})
	}
}

func TestDateTime(t *testing.T) {
	now := time.Date(2026, 11, 21, 17, 54, 42, 123456789, time.UTC)
	d := FromTime(now)
	if d.Time() != now.Truncate(time.Microsecond) {
		t.Errorf("Time() = %v", d.Time())
	}
	if d.String() != "2026-11-21T17:54:42.123456Z" {
		t.Errorf("String() = %q", d.String())
	}
	back, err := ParseDateTime(d.String())
	if err != nil || back != d {
		t.Errorf("ParseDateTime(String()) = %v, %v", back, err)
	}
	if _, err := ParseDateTime("yesterday"); KindOf(err) != Invalid {
		t.Errorf("ParseDateTime(yesterday) = %v", err)
	}
	if d.Add(time.Second).Sub(d) != time.Second {
		t.Error("Add/Sub")
	}
}

func TestProfilesAndRoles(t *testing.T) {
	for in, want := range map[string]UserProfile{"admin": ProfileAdmin, "Member": ProfileStandard, "EXTERNAL": ProfileOutsider, "outsider": ProfileOutsider} {
		if got, err := ParseProfile(in); err != nil || got != want {
			t.Errorf("ParseProfile(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseProfile("boss"); KindOf(err) != Invalid {
		t.Error("ParseProfile(boss) accepted")
	}
	if ProfileStandard.Label() != "Member" || ProfileOutsider.Label() != "External" || ProfileAdmin.Label() != "Administrator" {
		t.Error("profile labels")
	}
	if !(RoleOwner.Rank() > RoleManager.Rank() && RoleManager.Rank() > RoleContributor.Rank() && RoleContributor.Rank() > RoleReader.Rank() && RoleReader.Rank() > RoleNone.Rank()) {
		t.Error("role ranks")
	}
	if RoleReader.CanWrite() || !RoleContributor.CanWrite() {
		t.Error("CanWrite")
	}
	if _, err := ParseRole("god"); KindOf(err) != Invalid {
		t.Error("ParseRole(god) accepted")
	}
}

func TestErrors(t *testing.T) {
	cause := errors.New("disk on fire")
	err := Errorf(NotFound, "device %q: %w", "abc", cause)
	if KindOf(err) != NotFound || !errors.Is(err, cause) || err.Error() != `device "abc": disk on fire` {
		t.Errorf("Errorf = %v (kind %v)", err, KindOf(err))
	}
	wrapped := fmt.Errorf("context: %w", err)
	if KindOf(wrapped) != NotFound || !IsKind(wrapped, NotFound) {
		t.Error("kind lost through wrapping")
	}
	if KindOf(errors.New("plain")) != Other || IsKind(nil, Other) {
		t.Error("plain errors")
	}
}

func TestWrap(t *testing.T) {
	cause := errors.New("disk on fire")
	base := Errorf(Unavailable, "server down: %w", cause)
	tests := []struct {
		name     string
		err      error
		wantKind Kind
		wantMsg  string
	}{
		{"keeps the kind", base, Unavailable, "saved but not sent: server down: disk on fire"},
		{"twice", Wrap(base, "inner"), Unavailable, "saved but not sent: inner: server down: disk on fire"},
		{"plain error", cause, Other, "saved but not sent: disk on fire"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Wrap(tc.err, "saved but %s", "not sent")
			if KindOf(err) != tc.wantKind || err.Error() != tc.wantMsg || !errors.Is(err, cause) {
				t.Errorf("Wrap = %q (kind %v), want %q (kind %v), with the cause in the chain", err, KindOf(err), tc.wantMsg, tc.wantKind)
			}
		})
	}
	if Wrap(nil, "context") != nil {
		t.Error("Wrap(nil) is not nil")
	}
}
