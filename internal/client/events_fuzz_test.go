package client

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// streamServer is a server, without the network, whose event stream is the bytes of the
// current fuzz input, and which knows no certificate.
type streamServer struct{ stream []byte }

func (s *streamServer) RoundTrip(r *http.Request) (*http.Response, error) {
	body := s.stream
	if r.Method == http.MethodPost {
		var err error
		if body, err = protocol.OK(protocol.CertificateGetRep{}); err != nil {
			return nil, err
		}
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)), Request: r}, nil
}

// FuzzEventStream reads arbitrary bytes as the event stream of a lying server, as Watch
// does. Reading must end with one clear error, never a panic or a hang: Unavailable when the
// stream ends or is malformed, Tampered only for a vlob event whose payload does not decode
// (it is where the client would act on the payload); and the ID to resume from is that of
// the last frame read that had one.
func FuzzEventStream(f *testing.F) {
	signer := crypto.GenerateSigningKey()
	dev := &device.Local{
		ServerURL: "http://parsec.invalid", OrganizationID: "Acme", RootVerifyKey: crypto.GenerateSigningKey().VerifyKey(),
		UserID: parsec.NewUserID(), DeviceID: parsec.NewDeviceID(), DeviceLabel: "laptop",
		HumanHandle:    parsec.HumanHandle{Email: "alice@example.com", Label: "Alice"},
		InitialProfile: parsec.ProfileAdmin, SigningKey: signer.Seed(), PrivateKey: crypto.GenerateUserKey().Bytes(),
		LocalKey: crypto.GenerateSecretKey(),
	}
	srv := &streamServer{}
	c, err := Open(f.Context(), f.TempDir(), dev, Options{HTTPClient: &http.Client{Transport: srv}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { c.Close() })

	realm, token := parsec.NewVlobID(), parsec.NewAccessToken()
	frames := []protocol.SSEEvent{
		{Name: protocol.EventOrganizationConfig, Data: codec.MustMarshal(protocol.OrganizationConfig{SSEKeepaliveSeconds: 30})},
		{Name: protocol.EventMissed},
		{ID: "11", Name: protocol.EventRealmCertificate, Data: codec.MustMarshal(protocol.EventCertificateData{Timestamp: 5, RealmID: &realm})},
		{ID: "12", Name: protocol.EventCommonCertificate, Data: codec.MustMarshal(protocol.EventCertificateData{Timestamp: 6})},
		{ID: "13", Name: protocol.EventVlob, Data: codec.MustMarshal(protocol.EventVlobData{RealmID: realm, VlobID: parsec.NewVlobID(), Version: 2, Blob: []byte("b")})},
		{ID: "14", Name: protocol.EventInvitation, Data: codec.MustMarshal(protocol.EventInvitationData{Token: token, Status: protocol.InvitationStatusPending})},
		{ID: "15", Name: protocol.EventGreetingAttemptReady, Data: codec.MustMarshal(protocol.EventGreetingAttemptData{Token: token, GreetingAttempt: parsec.NewGreetingAttemptID()})},
		{Name: protocol.EventKeepalive},
		{ID: "16", Name: protocol.EventPinged, Data: codec.MustMarshal(protocol.EventPingedData{Ping: "p"})},
	}
	var all bytes.Buffer
	for _, ev := range frames {
		var one bytes.Buffer
		protocol.WriteSSE(&one, ev)
		f.Add(one.Bytes())
		all.Write(one.Bytes())
	}
	f.Add(all.Bytes())
	f.Add([]byte("id: 20\nevent: vlob\ndata: oA==\n\n"))    // a vlob event without its fields
	f.Add([]byte("id: 21\nevent: vlob\ndata: !!\n\n"))      // not base64
	f.Add([]byte("id: 22\nevent: realm_certificate\n"))     // cut short
	f.Add([]byte("id: 1\r2\nevent: keepalive\ndata: \n\n")) // an ID no header can carry

	f.Fuzz(func(t *testing.T, stream []byte) {
		srv.stream = stream
		lastID := ""
		calls := 0
		var connected bool
		err := c.watchOnce(t.Context(), &lastID, func(Change) { calls++ }, &connected)

		// What the client must have done: read frame by frame, stop at the first vlob
		// event whose payload does not decode.
		wantKind, wantID, frames := parsec.Unavailable, "", 0
		r := protocol.NewSSEReader(bytes.NewReader(stream))
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			frames++
			if ev.ID != "" {
				wantID = ev.ID
			}
			if ev.Name == protocol.EventVlob && protocol.DecodeEvent(ev.Data, &protocol.EventVlobData{}) != nil {
				wantKind = parsec.Tampered
				break
			}
		}
		if err == nil || parsec.KindOf(err) != wantKind {
			t.Fatalf("stream %q: watchOnce = %v (kind %v), want kind %v", stream, err, parsec.KindOf(err), wantKind)
		}
		if lastID != wantID {
			t.Fatalf("stream %q: resumes from %q, want %q", stream, lastID, wantID)
		}
		if calls > frames {
			t.Fatalf("stream %q: %d changes from %d frames", stream, calls, frames)
		}
		if strings.IndexFunc(lastID, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) >= 0 {
			t.Fatalf("stream %q: resume ID %q cannot be sent in a Last-Event-ID header", stream, lastID)
		}
	})
}
