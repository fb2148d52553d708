package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/events"
)

// Fuzz targets of the server's handshake: what an unauthenticated peer controls before any
// command runs (the Authorization, Api-Version and Content-Type headers of an RPC, and the
// Last-Event-ID of an event stream).

// fuzzDeviceKey and fuzzDevice are the device of the fuzz worlds' first user: fixed, so
// that seeds carry genuine signatures and committed corpora stay meaningful.
var (
	fuzzDeviceKey, _ = crypto.SigningKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	fuzzDevice       = parsec.DeviceID{7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}
)

// fuzzWorld is a server whose organization Acme is bootstrapped, on first use, by alice
// with the fixed device: the world's helpers take the *testing.T of a fuzz input, which the
// set-up of a fuzz target does not have.
type fuzzWorld struct {
	*world
	once  sync.Once
	alice *member
}

func newFuzzWorld(f *testing.F, opts ...func(*Config)) *fuzzWorld {
	return &fuzzWorld{world: startServer(f, opts...)}
}

func (w *fuzzWorld) init(t *testing.T) {
	w.once.Do(func() {
		link := w.createOrg(t, w.org)
		k := newBootstrapKit(t, "alice", w.clock.Now())
		k.deviceKey, k.device.DeviceID, k.device.VerifyKey = fuzzDeviceKey, fuzzDevice, fuzzDeviceKey.VerifyKey()
		req := k.request(link.Token)
		wantStatus(t, w.anonymous(t, w.org, protocol.CmdOrganizationBootstrap, req, nil), protocol.StatusOK)
		w.alice = k.member(w.org, req)
	})
	if w.alice == nil {
		t.Fatal("the fuzz world's organization could not be bootstrapped")
	}
}

// FuzzRPCHandshake sends a ping with arbitrary Authorization, Api-Version and Content-Type
// headers to the authenticated route. The server must answer with the handshake status of
// the first check that fails, in the documented order (422 version, 415 content type, 401
// malformed authorization, then 403 or 498), never 500, and run the command (200) only
// for the genuine signature of that request.
func FuzzRPCHandshake(f *testing.F) {
	w := newFuzzWorld(f)
	path := protocol.RouteAuthenticated + "Acme"
	body, err := protocol.EncodeRequest(protocol.CmdPing, protocol.PingReq{Ping: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	genuine := protocol.SignRequest(fuzzDeviceKey, fuzzDevice, http.MethodPost, path, testStart, body)
	want, err := protocol.ParseDeviceAuth(genuine)
	if err != nil {
		f.Fatal(err)
	}
	ct := protocol.ContentType
	for _, seed := range [][3]string{
		{genuine, protocol.APIVersion, ct},
		{genuine, "2.7", ct + "; charset=binary"},
		{genuine, "1.0", ct},
		{genuine, protocol.APIVersion, "application/json"},
		{protocol.SignRequest(fuzzDeviceKey, fuzzDevice, http.MethodPost, path, testStart+parsec.DateTime(time.Hour/time.Microsecond), body), protocol.APIVersion, ct},
		{protocol.SignRequest(fuzzDeviceKey, parsec.NewDeviceID(), http.MethodPost, path, testStart, body), protocol.APIVersion, ct},
		{protocol.SignRequest(fuzzDeviceKey, fuzzDevice, http.MethodGet, path, testStart, body), protocol.APIVersion, ct},
		{strings.Replace(genuine, ".", "..", 1), protocol.APIVersion, ct},
		{"Bearer " + parsec.NewAccessToken().String(), protocol.APIVersion, ct},
		{"", "", ""},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}

	accepted := map[string]bool{} // genuine headers the server ran: a second time is a replay
	f.Fuzz(func(t *testing.T, auth, version, contentType string) {
		w.init(t)
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set(protocol.HeaderAuthorization, auth)
		req.Header.Set(protocol.HeaderAPIVersion, version)
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		w.srv.ServeHTTP(rec, req)

		parsed, authErr := protocol.ParseDeviceAuth(auth)
		major, _, versionErr := protocol.ParseAPIVersion(version)
		mt, _, ctErr := mime.ParseMediaType(contentType)
		var code int
		switch {
		case versionErr != nil || major != protocol.APIMajor:
			code = protocol.HTTPUnsupportedVersion
		case ctErr != nil || mt != protocol.ContentType:
			code = protocol.HTTPUnsupportedType
		case authErr != nil:
			code = protocol.HTTPUnauthorized
		case genuineAuth(parsed, want) && accepted[parsed.Header()]:
			code = protocol.HTTPReplayed
		case genuineAuth(parsed, want):
			code = http.StatusOK
			accepted[parsed.Header()] = true
		}
		switch {
		case code != 0 && rec.Code != code:
			t.Fatalf("Authorization %q, Api-Version %q, Content-Type %q: HTTP %d %q, want %d", auth, version, contentType, rec.Code, rec.Body, code)
		case code == 0 && rec.Code != protocol.HTTPForbidden && rec.Code != protocol.HTTPClockSkew:
			t.Fatalf("Authorization %q (a signature not of this request): HTTP %d %q, want %d or %d", auth, rec.Code, rec.Body, protocol.HTTPForbidden, protocol.HTTPClockSkew)
		case code == http.StatusOK:
			var rep protocol.PingRep
			if err := protocol.DecodeReply(rec.Body.Bytes(), &rep); err != nil || rep.Pong != "fuzz" {
				t.Fatalf("genuine request: reply %+v, %v", rep, err)
			}
		}
	})
}

// FuzzLastEventID opens alice's event stream with an arbitrary Last-Event-ID. The stream
// must open (an ID is never a reason to refuse), start with the organization's
// configuration, then say missed_events exactly when the ID is not one the bus can resume
// from, then deliver the events published afterwards.
func FuzzLastEventID(f *testing.F) {
	const retain = 16
	var bus *events.Memory
	w := newFuzzWorld(f, func(c *Config) {
		bus = events.New(c.Clock, events.Retain(retain))
		c.Bus = bus
	})
	f.Cleanup(bus.Close)
	start := uint64(testStart) // the bus numbers events from its clock's time
	for _, id := range []uint64{start + 1, start + 2, start + 3, start + 1000, start, 1, 0} {
		f.Add(protocol.FormatEventID(id))
	}
	for _, s := range []string{"", " 42 ", "-1", "18446744073709551616", "abc", "\u0085" + protocol.FormatEventID(start+2)} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, lastEventID string) {
		w.init(t)
		// The last ID the bus assigned; every event is the organization's, so the bus
		// retains the last min(retain, count) of them.
		last := bus.Publish(events.Event{Org: w.org, Name: protocol.EventPinged, Audience: events.Audience{Users: []parsec.UserID{parsec.NewUserID()}}})
		ctx, cancel := context.WithTimeout(t.Context(), streamTimeout)
		defer cancel()
		req := w.eventsRequest(t, w.org, w.alice, w.clock.Now()).WithContext(ctx)
		req.Header.Set(protocol.HeaderLastEventID, lastEventID)
		resp, err := w.hs.Client().Do(req)
		if err != nil {
			var ue interface{ Timeout() bool }
			if errors.As(err, &ue) && ue.Timeout() {
				t.Fatalf("Last-Event-ID %q: %v", lastEventID, err)
			}
			return // a header value the HTTP client refuses to send
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("Last-Event-ID %q: HTTP %d %q, want 200", lastEventID, resp.StatusCode, b)
		}
		r := protocol.NewSSEReader(resp.Body)
		next := func() protocol.SSEEvent {
			ev, err := r.Next()
			if err != nil {
				t.Fatalf("Last-Event-ID %q: %v", lastEventID, err)
			}
			return ev
		}
		if ev := next(); ev.Name != protocol.EventOrganizationConfig {
			t.Fatalf("Last-Event-ID %q: first frame %+v", lastEventID, ev)
		}
		// What the server reads: the header trimmed of spaces and tabs, absent when empty.
		sent := strings.Trim(lastEventID, " \t")
		id, err := protocol.ParseEventID(sent)
		id = max(id, 1)
		known := sent == "" || err == nil && id <= last && id > last-min(retain, last-start)
		// A mark published now: the stream shows it after what the ID made it replay.
		mark := bus.Publish(events.Event{Org: w.org, Name: protocol.EventPinged, Audience: everyone()})
		missed := false
		for {
			ev := next()
			if ev.Name == protocol.EventMissed {
				missed = true
				continue
			}
			if ev.ID == protocol.FormatEventID(mark) {
				break
			}
		}
		if missed == known {
			t.Fatalf("Last-Event-ID %q (last assigned %d): missed_events %v, want %v", lastEventID, last, missed, !known)
		}
	})
}

// genuineAuth reports whether an Authorization header says what the genuine one does:
// the same device, time, body hash and signature (a signature kept with another body hash
// is not the device's).
func genuineAuth(a, genuine protocol.DeviceAuth) bool {
	return a.Device == genuine.Device && a.Timestamp == genuine.Timestamp && a.BodyHash == genuine.BodyHash && bytes.Equal(a.Signature, genuine.Signature)
}
