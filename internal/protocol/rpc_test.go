package protocol

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
)

func TestRequestRoundTrip(t *testing.T) {
	realm := parsec.NewVlobID()
	want := CertificateGetReq{CommonAfter: 42, RealmAfter: map[parsec.VlobID]parsec.DateTime{realm: 7}}
	body, err := EncodeRequest(CmdCertificateGet, want)
	if err != nil {
		t.Fatal(err)
	}
	req, err := DecodeRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if req.Cmd != CmdCertificateGet {
		t.Errorf("Cmd = %q, want %q", req.Cmd, CmdCertificateGet)
	}
	var got CertificateGetReq
	if err := codec.Unmarshal(req.Req, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("arguments (-want +got):\n%s", diff)
	}
}

func TestDecodeRequestInvalid(t *testing.T) {
	ping := codec.MustMarshal(PingReq{Ping: "x"})
	tests := []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"not CBOR", []byte("hello")},
		{"not a map", codec.MustMarshal([]string{"ping"})},
		{"no command", codec.MustMarshal(map[string]any{"req": codec.RawMessage(ping)})},
		{"empty command", codec.MustMarshal(Request{Cmd: "", Req: ping})},
		{"command not a string", codec.MustMarshal(map[string]any{"cmd": 5, "req": codec.RawMessage(ping)})},
		{"unknown field", codec.MustMarshal(map[string]any{"cmd": "ping", "req": codec.RawMessage(ping), "x": 1})},
		{"trailing bytes", append(codec.MustMarshal(Request{Cmd: "ping", Req: ping}), 0)},
		{"duplicate key", []byte{0xa2, 0x63, 'c', 'm', 'd', 0x61, 'a', 0x63, 'c', 'm', 'd', 0x61, 'b'}},
		{"indefinite length", []byte{0xbf, 0x63, 'c', 'm', 'd', 0x64, 'p', 'i', 'n', 'g', 0xff}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if req, err := DecodeRequest(tc.body); err == nil {
				t.Errorf("DecodeRequest(%x) = %+v, want an error", tc.body, req)
			}
		})
	}
}

func TestReplies(t *testing.T) {
	ok, err := OK(PingRep{Pong: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	var pong PingRep
	if err := DecodeReply(ok, &pong); err != nil || pong.Pong != "hi" {
		t.Fatalf("DecodeReply(ok) = %+v, %v", pong, err)
	}
	if err := DecodeReply(ok, nil); err != nil {
		t.Fatalf("DecodeReply(ok, nil) = %v", err)
	}

	e := Errorf(StatusTimestampOutOfBallpark, "too far: %d", 3)
	e.Detail = ErrorDetail{ServerTimestamp: 10, ClientTimestamp: 20}
	err = DecodeReply(EncodeError(e), &pong)
	var se *StatusError
	if !errors.As(err, &se) {
		t.Fatalf("DecodeReply(error) = %v, want a *StatusError", err)
	}
	if diff := cmp.Diff(e, se); diff != "" {
		t.Errorf("status error (-want +got):\n%s", diff)
	}
	if k := parsec.KindOf(err); k != parsec.Skew {
		t.Errorf("kind = %v, want %v", k, parsec.Skew)
	}

	// An unknown status is an error of kind Other, with a readable message.
	unknown := codec.MustMarshal(Reply{Status: "from_the_future"})
	err = DecodeReply(unknown, nil)
	if !errors.As(err, &se) || se.Status != "from_the_future" || parsec.KindOf(err) != parsec.Other || err.Error() == "" {
		t.Errorf("DecodeReply(unknown status) = %v", err)
	}

	for name, body := range map[string][]byte{
		"garbage":       []byte("nope"),
		"bad reply":     codec.MustMarshal(Reply{Status: StatusOK, Rep: codec.MustMarshal("a string")}),
		"empty":         nil,
		"status number": codec.MustMarshal(map[string]any{"status": 1}),
	} {
		t.Run(name, func(t *testing.T) {
			if err := DecodeReply(body, &pong); !parsec.IsKind(err, parsec.Tampered) {
				t.Errorf("DecodeReply(%x) = %v, want kind %v", body, err, parsec.Tampered)
			}
		})
	}
}

func TestStatusKind(t *testing.T) {
	tests := map[Status]parsec.Kind{
		StatusOK:                     parsec.Other,
		StatusInvalidCertificate:     parsec.Invalid,
		StatusTimestampOutOfBallpark: parsec.Skew,
		StatusInvalidBootstrapToken:  parsec.Permission,
		StatusAlreadyBootstrapped:    parsec.Exists,
		StatusUserNotFound:           parsec.NotFound,
		StatusUserRevoked:            parsec.Revoked,
		StatusInvitationCancelled:    parsec.Gone,
		StatusInvitationCompleted:    parsec.Gone,
		"something_new":              parsec.Other,
	}
	for status, want := range tests {
		if got := StatusKind(status); got != want {
			t.Errorf("StatusKind(%q) = %v, want %v", status, got, want)
		}
	}
}
