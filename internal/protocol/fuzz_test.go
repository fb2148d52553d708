package protocol

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
)

// requestTypes are the argument types of every command: whatever the envelope carries, the
// server decodes it into one of these.
func requestTypes() []any {
	return []any{
		new(PingReq),
		new(OrganizationBootstrapReq),
		new(CertificateGetReq),
		new(OrganizationConfigReq),
	}
}

func mustEncodeRequest(f testing.TB, cmd string, req any) []byte {
	b, err := EncodeRequest(cmd, req)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

func FuzzDecodeRequest(f *testing.F) {
	vlob := parsec.NewVlobID()
	f.Add(mustEncodeRequest(f, CmdPing, PingReq{Ping: "hello"}))
	f.Add(mustEncodeRequest(f, CmdCertificateGet, CertificateGetReq{CommonAfter: 42, RealmAfter: map[parsec.VlobID]parsec.DateTime{vlob: 7}}))
	f.Add(mustEncodeRequest(f, CmdOrganizationBootstrap, OrganizationBootstrapReq{
		BootstrapToken: parsec.NewAccessToken(), RootVerifyKey: bytes.Repeat([]byte{1}, 32),
		UserCertificate: []byte("user"), DeviceCertificate: []byte("device"),
	}))
	f.Add(mustEncodeRequest(f, CmdOrganizationConfig, OrganizationConfigReq{}))
	f.Add([]byte{})
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeRequest(body)
		if err != nil {
			return
		}
		if req.Cmd == "" {
			t.Fatal("DecodeRequest accepted a request without a command")
		}
		for _, v := range requestTypes() {
			_ = codec.Unmarshal(req.Req, v)
		}
		// A decoded envelope encodes back to a body that decodes to the same envelope.
		again, err := codec.Marshal(req)
		if err != nil {
			t.Fatalf("cannot re-encode a decoded request: %v", err)
		}
		req2, err := DecodeRequest(again)
		if err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		if req2.Cmd != req.Cmd || !bytes.Equal(req2.Req, req.Req) {
			t.Fatalf("request changed through a round trip: %+v then %+v", req, req2)
		}
	})
}

func FuzzDecodeReply(f *testing.F) {
	ok, err := OK(PingRep{Pong: "hello"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ok)
	f.Add(EncodeError(Errorf(StatusTimestampOutOfBallpark, "too far")))
	e := Errorf(StatusRequireGreaterTimestamp, "retry")
	e.Detail.StrictlyGreaterThan = 12345
	f.Add(EncodeError(e))
	cg, err := OK(CertificateGetRep{Common: [][]byte{[]byte("a"), []byte("b")}, Realms: map[parsec.VlobID][][]byte{parsec.NewVlobID(): {[]byte("c")}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(cg)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		reps := []any{nil, new(PingRep), new(OrganizationBootstrapRep), new(CertificateGetRep), new(OrganizationConfig)}
		for _, rep := range reps {
			err := DecodeReply(body, rep)
			var se *StatusError
			if errors.As(err, &se) && se.Status == StatusOK {
				t.Fatalf("an ok reply came back as a status error: %v", err)
			}
		}
	})
}

func FuzzParseLink(f *testing.F) {
	tok := parsec.AccessToken{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	for _, l := range []Link{
		{Server: ServerAddr{Host: "parsec.example.com"}, Org: "Acme", Action: ActionBootstrapOrganization, Token: tok},
		{Server: ServerAddr{Host: "127.0.0.1", Port: 6777, NoSSL: true}, Org: "Acme_2", Action: ActionClaimUser, Token: tok},
		{Server: ServerAddr{Host: "::1", Port: 443}, Org: "Société", Action: ActionClaimDevice, Token: tok},
		{Server: ServerAddr{Host: "example.org", prefix: "/parsec"}, Org: "x-y", Action: ActionClaimUser, Token: tok},
	} {
		f.Add(l.String())
		f.Add(l.HTTPRedirect())
	}
	f.Add("parsec3://host/Org?a=claim_user&p=AQIDBAUGBwgJCgsMDQ4PEA&no_ssl=true")
	f.Add("https://host:8443/prefix/redirect/Org?a=claim_device&p=AQIDBAUGBwgJCgsMDQ4PEA")
	f.Add("parsec3://[fe80::1%25eth0]/Org?a=claim_user&p=AQIDBAUGBwgJCgsMDQ4PEA")
	f.Add("http://host/%72edirect/Org?a=claim_user&p=AQIDBAUGBwgJCgsMDQ4PEA")
	f.Add("pArseC3://::/0?a=claim_device&p=0000000000000000000000")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLink(s)
		if err != nil {
			if !parsec.IsKind(err, parsec.Invalid) {
				t.Fatalf("ParseLink(%q): error without kind Invalid: %v", s, err)
			}
			return
		}
		// The parsec3:// form has no path prefix: compare everything else.
		l1, err := ParseLink(l.String())
		if err != nil {
			t.Fatalf("ParseLink(%q) = %+v, whose String() %q does not parse: %v", s, l, l.String(), err)
		}
		want := l
		want.Server.prefix = ""
		if diff := cmp.Diff(want, l1, cmp.AllowUnexported(ServerAddr{})); diff != "" {
			t.Fatalf("ParseLink(%q).String() = %q re-parses differently (-want +got):\n%s", s, l.String(), diff)
		}
		l2, err := ParseLink(l.HTTPRedirect())
		if err != nil {
			t.Fatalf("ParseLink(%q) = %+v, whose HTTPRedirect() %q does not parse: %v", s, l, l.HTTPRedirect(), err)
		}
		if diff := cmp.Diff(l, l2, cmp.AllowUnexported(ServerAddr{})); diff != "" {
			t.Fatalf("ParseLink(%q).HTTPRedirect() = %q re-parses differently (-want +got):\n%s", s, l.HTTPRedirect(), diff)
		}
	})
}

func FuzzSSEReader(f *testing.F) {
	var buf bytes.Buffer
	for _, ev := range []SSEEvent{
		{Name: EventOrganizationConfig, Data: codec.MustMarshal(OrganizationConfig{UserProfileOutsiderAllowed: true})},
		{ID: "1234", Name: EventCommonCertificate, Data: codec.MustMarshal(EventCertificateData{Timestamp: 99})},
		{Name: EventKeepalive},
		{Name: EventMissed},
	} {
		if err := WriteSSE(&buf, ev); err != nil {
			f.Fatal(err)
		}
	}
	f.Add(buf.Bytes())
	f.Add([]byte(": comment\n\nid: 5\nevent: x\ndata: AA\ndata: ==\n\n"))
	f.Add([]byte("event: x\r\ndata: AQID\r\n\r\n"))
	f.Add([]byte("event: truncated\ndata: AQ"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		r := NewSSEReader(bytes.NewReader(stream))
		for range len(stream) + 1 {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if strings.ContainsAny(ev.ID+ev.Name, "\n") {
				t.Fatalf("frame field with a newline: %+v", ev)
			}
			// Every frame read is written back as a frame that reads the same.
			if strings.ContainsAny(ev.ID+ev.Name, "\r") {
				continue
			}
			var out bytes.Buffer
			if err := WriteSSE(&out, ev); err != nil {
				t.Fatal(err)
			}
			again, err := NewSSEReader(&out).Next()
			if err != nil {
				t.Fatalf("frame %+v written as %q does not read back: %v", ev, out.String(), err)
			}
			if !sameEvent(ev, again) {
				t.Fatalf("frame %+v read back as %+v", ev, again)
			}
		}
		t.Fatal("the reader returned more frames than the stream has bytes")
	})
}

// sameEvent compares frames, nil and empty data being the same (an empty payload is written
// as an empty data field, which reads as no payload).
func sameEvent(a, b SSEEvent) bool {
	return a.ID == b.ID && a.Name == b.Name && bytes.Equal(a.Data, b.Data)
}
