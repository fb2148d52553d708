package protocol

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

func TestSignRequest(t *testing.T) {
	key := crypto.GenerateSigningKey()
	dev := parsec.NewDeviceID()
	ts := parsec.DateTime(1_770_000_000_123_456)
	body := []byte("body")
	h := SignRequest(key, dev, "POST", "/authenticated/Acme", ts, body)
	if !strings.HasPrefix(h, AuthScheme+" "+dev.String()+".1770000000123456.") {
		t.Fatalf("SignRequest = %q: unexpected layout", h)
	}
	a, err := ParseDeviceAuth(h)
	if err != nil {
		t.Fatalf("ParseDeviceAuth(%q): %v", h, err)
	}
	if a.Device != dev || a.Timestamp != ts {
		t.Fatalf("ParseDeviceAuth = device %s time %v, want %s %v", a.Device, a.Timestamp, dev, ts)
	}
	if err := a.Verify(key.VerifyKey(), "POST", "/authenticated/Acme", body); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// The signature is checked before the body is read, then the body against the hash.
	if err := a.VerifyHeader(key.VerifyKey(), "POST", "/authenticated/Acme"); err != nil {
		t.Fatalf("VerifyHeader: %v", err)
	}
	if err := a.CheckBody([]byte("bodz"), APIMinor); err == nil {
		t.Fatal("CheckBody accepted another body")
	}
	other := crypto.GenerateSigningKey()
	tests := []struct {
		name         string
		a            DeviceAuth
		vk           crypto.VerifyKey
		method, path string
		body         []byte
	}{
		{"other key", a, other.VerifyKey(), "POST", "/authenticated/Acme", body},
		{"other method", a, key.VerifyKey(), "GET", "/authenticated/Acme", body},
		{"other path", a, key.VerifyKey(), "POST", "/authenticated/Acme/events", body},
		{"other body", a, key.VerifyKey(), "POST", "/authenticated/Acme", []byte("bodz")},
		{"no body", a, key.VerifyKey(), "POST", "/authenticated/Acme", nil},
		{"other timestamp", DeviceAuth{Device: dev, Timestamp: ts + 1, BodyHash: a.BodyHash, Signature: a.Signature}, key.VerifyKey(), "POST", "/authenticated/Acme", body},
		{"other body hash", DeviceAuth{Device: dev, Timestamp: ts, BodyHash: crypto.Sum([]byte("bodz")), Signature: a.Signature}, key.VerifyKey(), "POST", "/authenticated/Acme", []byte("bodz")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.a.Verify(tc.vk, tc.method, tc.path, tc.body); err == nil {
				t.Error("Verify accepted the signature")
			}
		})
	}
}

func TestParseDeviceAuthInvalid(t *testing.T) {
	dev := parsec.NewDeviceID().String()
	sig := base64.RawURLEncoding.EncodeToString(make([]byte, crypto.SignatureSize))
	hash := strings.Repeat("ab", 32)
	tests := []struct{ name, h string }{
		{"empty", ""},
		{"bearer scheme", "Bearer " + dev + ".1." + hash + "." + sig},
		{"lower-case scheme", strings.ToLower(AuthScheme) + " " + dev + ".1." + hash + "." + sig},
		{"no space", AuthScheme + dev + ".1." + hash + "." + sig},
		{"two parts", AuthScheme + " " + dev + ".1"},
		{"three parts (no body hash)", AuthScheme + " " + dev + ".1." + sig},
		{"five parts", AuthScheme + " " + dev + ".1." + hash + "." + sig + ".x"},
		{"body hash short", AuthScheme + " " + dev + ".1." + hash[:62] + "." + sig},
		{"body hash not hex", AuthScheme + " " + dev + ".1." + strings.Repeat("zz", 32) + "." + sig},
		{"body hash upper-case and long", AuthScheme + " " + dev + ".1." + hash + "AB." + sig},
		{"device not hex", AuthScheme + " " + strings.Repeat("z", 32) + ".1." + hash + "." + sig},
		{"device too short", AuthScheme + " " + dev[:30] + ".1." + hash + "." + sig},
		{"device in UUID form", AuthScheme + " " + dev[:8] + "-" + dev[8:12] + "-" + dev[12:16] + "-" + dev[16:20] + "-" + dev[20:] + ".1." + hash + "." + sig},
		{"timestamp not a number", AuthScheme + " " + dev + ".abc." + hash + "." + sig},
		{"timestamp zero", AuthScheme + " " + dev + ".0." + hash + "." + sig},
		{"timestamp negative", AuthScheme + " " + dev + ".-5." + hash + "." + sig},
		{"timestamp empty", AuthScheme + " " + dev + ".." + hash + "." + sig},
		{"signature not base64", AuthScheme + " " + dev + ".1." + hash + "." + strings.Repeat("!", 86)},
		{"signature padded", AuthScheme + " " + dev + ".1." + hash + "." + base64.URLEncoding.EncodeToString(make([]byte, crypto.SignatureSize))},
		{"signature short", AuthScheme + " " + dev + ".1." + hash + "." + base64.RawURLEncoding.EncodeToString(make([]byte, 10))},
		{"signature empty", AuthScheme + " " + dev + ".1." + hash + "."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if a, err := ParseDeviceAuth(tc.h); err == nil {
				t.Errorf("ParseDeviceAuth(%q) = %+v, want an error", tc.h, a)
			}
		})
	}
}

func TestInBallpark(t *testing.T) {
	now := parsec.DateTime(1_770_000_000_000_000)
	tests := []struct {
		name   string
		offset time.Duration // client time minus server time
		want   bool
	}{
		{"same time", 0, true},
		{"4 minutes ahead", 4 * time.Minute, true},
		{"just under 300 s ahead", 300*time.Second - time.Microsecond, true},
		{"300 s ahead", 300 * time.Second, false},
		{"6 minutes ahead", 6 * time.Minute, false},
		{"5 minutes behind", -5 * time.Minute, true},
		{"just under 320 s behind", -320*time.Second + time.Microsecond, true},
		{"320 s behind", -320 * time.Second, false},
		{"10 minutes behind", -10 * time.Minute, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := InBallpark(now.Add(tc.offset), now); got != tc.want {
				t.Errorf("InBallpark(now%+v, now) = %v, want %v", tc.offset, got, tc.want)
			}
		})
	}
}

func TestParseInvitedAuth(t *testing.T) {
	tok := parsec.NewAccessToken()
	got, err := ParseInvitedAuth("Bearer " + tok.String())
	if err != nil || got != tok {
		t.Fatalf("ParseInvitedAuth = %v, %v; want %v", got, err, tok)
	}
	for _, h := range []string{"", "Bearer", "Bearer ", "bearer " + tok.String(), "Basic " + tok.String(),
		"Bearer " + tok.String()[:30], "Bearer " + strings.Repeat("g", 32), "Bearer " + tok.String() + "00"} {
		t.Run(h, func(t *testing.T) {
			if got, err := ParseInvitedAuth(h); err == nil {
				t.Errorf("ParseInvitedAuth(%q) = %v, want an error", h, got)
			}
		})
	}
}

func TestParseAPIVersion(t *testing.T) {
	tests := []struct {
		in           string
		major, minor int
		ok           bool
	}{
		{"1.0", 1, 0, true},
		{" 1.7 ", 1, 7, true},
		{"3.99", 3, 99, true},
		{"", 0, 0, false},
		{"1", 0, 0, false},
		{"1.", 0, 0, false},
		{".1", 0, 0, false},
		{"1.0.0", 0, 0, false},
		{"a.b", 0, 0, false},
		{"-1.0", 0, 0, false},
		{"1.-1", 0, 0, false},
		{"v1.0", 0, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			major, minor, err := ParseAPIVersion(tc.in)
			if (err == nil) != tc.ok || major != tc.major || minor != tc.minor {
				t.Errorf("ParseAPIVersion(%q) = %d, %d, %v; want %d, %d, ok=%v", tc.in, major, minor, err, tc.major, tc.minor, tc.ok)
			}
		})
	}
	if major, minor, err := ParseAPIVersion(APIVersion); err != nil || major != APIMajor || minor != APIMinor {
		t.Errorf("APIVersion %q parses as %d.%d (%v), want %d.%d", APIVersion, major, minor, err, APIMajor, APIMinor)
	}
}
