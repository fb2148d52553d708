package protocol

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/parsec"
)

var testToken = parsec.AccessToken{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}

var testTokenParam = base64.RawURLEncoding.EncodeToString(testToken[:])

func TestParseLink(t *testing.T) {
	p := testTokenParam
	tests := []struct {
		name string
		in   string
		want Link
	}{
		{"parsec3", "parsec3://parsec.example.com/Acme?a=bootstrap_organization&p=" + p,
			Link{Server: ServerAddr{Host: "parsec.example.com"}, Org: "Acme", Action: ActionBootstrapOrganization, Token: testToken}},
		{"parsec3 no_ssl and port", "parsec3://127.0.0.1:6777/Acme?a=claim_user&p=" + p + "&no_ssl=true",
			Link{Server: ServerAddr{Host: "127.0.0.1", Port: 6777, NoSSL: true}, Org: "Acme", Action: ActionClaimUser, Token: testToken}},
		{"parsec3 IPv6", "parsec3://[::1]:443/Acme?a=claim_device&p=" + p,
			Link{Server: ServerAddr{Host: "::1", Port: 443}, Org: "Acme", Action: ActionClaimDevice, Token: testToken}},
		{"surrounding spaces", "  parsec3://h/Acme?a=claim_user&p=" + p + "\n",
			Link{Server: ServerAddr{Host: "h"}, Org: "Acme", Action: ActionClaimUser, Token: testToken}},
		{"https redirect", "https://parsec.example.com/redirect/Acme?a=claim_user&p=" + p,
			Link{Server: ServerAddr{Host: "parsec.example.com"}, Org: "Acme", Action: ActionClaimUser, Token: testToken}},
		{"http redirect with port", "http://localhost:8080/redirect/Acme?a=claim_user&p=" + p,
			Link{Server: ServerAddr{Host: "localhost", Port: 8080, NoSSL: true}, Org: "Acme", Action: ActionClaimUser, Token: testToken}},
		{"https redirect behind a prefix", "https://example.com/parsec/redirect/Acme?a=claim_device&p=" + p,
			Link{Server: ServerAddr{Host: "example.com", prefix: "/parsec"}, Org: "Acme", Action: ActionClaimDevice, Token: testToken}},
		{"escaped unicode organization", "parsec3://h/Soci%C3%A9t%C3%A9?a=claim_user&p=" + p,
			Link{Server: ServerAddr{Host: "h"}, Org: "Société", Action: ActionClaimUser, Token: testToken}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseLink(tc.in)
			if err != nil {
				t.Fatalf("ParseLink(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(ServerAddr{})); diff != "" {
				t.Errorf("ParseLink(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestParseLinkInvalid(t *testing.T) {
	p := testTokenParam
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"not a URL", "::nope"},
		{"unknown scheme", "ftp://h/Acme?a=claim_user&p=" + p},
		{"no host", "parsec3:///Acme?a=claim_user&p=" + p},
		{"opaque", "parsec3:Acme?a=claim_user&p=" + p},
		{"user info", "parsec3://bob@h/Acme?a=claim_user&p=" + p},
		{"port zero", "parsec3://h:0/Acme?a=claim_user&p=" + p},
		{"port too big", "parsec3://h:65536/Acme?a=claim_user&p=" + p},
		{"IPv6 zone", "parsec3://[fe80::1%25eth0]/Acme?a=claim_user&p=" + p},
		{"not IPv6", "parsec3://::/Acme?a=claim_user&p=" + p},
		{"no organization", "parsec3://h/?a=claim_user&p=" + p},
		{"path with two parts", "parsec3://h/Acme/x?a=claim_user&p=" + p},
		{"escaped slash in organization", "parsec3://h/Ac%2Fme?a=claim_user&p=" + p},
		{"bad organization", "parsec3://h/Ac$me?a=claim_user&p=" + p},
		{"organization too long", "parsec3://h/" + strings.Repeat("a", 33) + "?a=claim_user&p=" + p},
		{"no action", "parsec3://h/Acme?p=" + p},
		{"unknown action", "parsec3://h/Acme?a=claim_everything&p=" + p},
		{"no token", "parsec3://h/Acme?a=claim_user"},
		{"short token", "parsec3://h/Acme?a=claim_user&p=AQID"},
		{"long token", "parsec3://h/Acme?a=claim_user&p=" + p + "AQID"},
		{"token not base64url", "parsec3://h/Acme?a=claim_user&p=" + strings.Repeat("*", 22)},
		{"http without redirect", "https://h/Acme?a=claim_user&p=" + p},
		{"http escaped redirect", "https://h/%72edirect/Acme?a=claim_user&p=" + p},
		{"http redirect without organization", "https://h/redirect/?a=claim_user&p=" + p},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := ParseLink(tc.in)
			if err == nil {
				t.Fatalf("ParseLink(%q) = %+v, want an error", tc.in, l)
			}
			if !parsec.IsKind(err, parsec.Invalid) {
				t.Errorf("ParseLink(%q): error %v has kind %v, want %v", tc.in, err, parsec.KindOf(err), parsec.Invalid)
			}
		})
	}
}

func TestLinkForms(t *testing.T) {
	tests := []struct {
		name               string
		link               Link
		wantString, wantHT string
	}{
		{"https default port",
			Link{Server: ServerAddr{Host: "example.com"}, Org: "Acme", Action: ActionClaimUser, Token: testToken},
			"parsec3://example.com/Acme?a=claim_user&p=" + testTokenParam,
			"https://example.com/redirect/Acme?a=claim_user&p=" + testTokenParam},
		{"http with port",
			Link{Server: ServerAddr{Host: "127.0.0.1", Port: 6777, NoSSL: true}, Org: "Acme", Action: ActionBootstrapOrganization, Token: testToken},
			"parsec3://127.0.0.1:6777/Acme?a=bootstrap_organization&p=" + testTokenParam + "&no_ssl=true",
			"http://127.0.0.1:6777/redirect/Acme?a=bootstrap_organization&p=" + testTokenParam},
		{"IPv6 behind a prefix",
			Link{Server: ServerAddr{Host: "::1", prefix: "/p"}, Org: "Acme", Action: ActionClaimDevice, Token: testToken},
			"parsec3://[::1]/Acme?a=claim_device&p=" + testTokenParam,
			"https://[::1]/p/redirect/Acme?a=claim_device&p=" + testTokenParam},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.link.String(); got != tc.wantString {
				t.Errorf("String() = %q, want %q", got, tc.wantString)
			}
			if got := tc.link.HTTPRedirect(); got != tc.wantHT {
				t.Errorf("HTTPRedirect() = %q, want %q", got, tc.wantHT)
			}
			back, err := ParseLink(tc.link.HTTPRedirect())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.link, back, cmp.AllowUnexported(ServerAddr{})); diff != "" {
				t.Errorf("HTTPRedirect round trip (-want +got):\n%s", diff)
			}
			back, err = ParseLink(tc.link.String())
			if err != nil {
				t.Fatal(err)
			}
			want := tc.link
			want.Server.prefix = "" // the parsec3:// form has no path
			if diff := cmp.Diff(want, back, cmp.AllowUnexported(ServerAddr{})); diff != "" {
				t.Errorf("String round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseServerAddr(t *testing.T) {
	tests := []struct {
		in                string
		want              ServerAddr
		wantHTTP, wantStr string
	}{
		{"parsec3://example.com", ServerAddr{Host: "example.com"}, "https://example.com", "parsec3://example.com"},
		{"parsec3://example.com:444?no_ssl=true", ServerAddr{Host: "example.com", Port: 444, NoSSL: true},
			"http://example.com:444", "parsec3://example.com:444?no_ssl=true"},
		{"http://127.0.0.1:6777", ServerAddr{Host: "127.0.0.1", Port: 6777, NoSSL: true}, "http://127.0.0.1:6777", "parsec3://127.0.0.1:6777?no_ssl=true"},
		{"https://example.com/parsec/", ServerAddr{Host: "example.com", prefix: "/parsec"}, "https://example.com/parsec", "parsec3://example.com"},
		{"http://[::1]:80", ServerAddr{Host: "::1", Port: 80, NoSSL: true}, "http://[::1]:80", "parsec3://[::1]:80?no_ssl=true"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseServerAddr(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(ServerAddr{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if s := got.HTTPURL(); s != tc.wantHTTP {
				t.Errorf("HTTPURL() = %q, want %q", s, tc.wantHTTP)
			}
			if s := got.String(); s != tc.wantStr {
				t.Errorf("String() = %q, want %q", s, tc.wantStr)
			}
		})
	}
	for _, in := range []string{"", "example.com", "ftp://example.com", "http://", "https://u:p@example.com", "http://example.com:99999", "parsec3://[fe80::1%25lo]"} {
		t.Run("invalid "+in, func(t *testing.T) {
			if a, err := ParseServerAddr(in); err == nil {
				t.Errorf("ParseServerAddr(%q) = %+v, want an error", in, a)
			}
		})
	}
}
