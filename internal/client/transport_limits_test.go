package client

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// A server that accepts a request and never answers does not hold the client: the request
// ends once nothing moved for stallTimeout, with a clear error.
func TestCallStalledServer(t *testing.T) {
	old := stallTimeout
	stallTimeout = 200 * time.Millisecond
	t.Cleanup(func() { stallTimeout = old })
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(release) }) // runs before Close
	addr, err := protocol.ParseServerAddr(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTransport(nil, addr, "Acme")
	done := make(chan error, 1)
	go func() {
		done <- tr.call(t.Context(), protocol.RouteAnonymous, protocol.CmdPing, protocol.PingReq{}, &protocol.PingRep{}, nil)
	}()
	select {
	case err := <-done:
		if parsec.KindOf(err) != parsec.Unavailable || !strings.Contains(err.Error(), "nothing received or sent") {
			t.Fatalf("call to a silent server: %v, want Unavailable, nothing received or sent", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call still waits for a silent server after 10 s")
	}
}

// The default HTTP client has connection, TLS and response header timeouts.
func TestDefaultHTTPClientTimeouts(t *testing.T) {
	tr := newTransport(nil, protocol.ServerAddr{}, "Acme").http.Transport.(*http.Transport)
	if tr.TLSHandshakeTimeout <= 0 || tr.ResponseHeaderTimeout <= 0 || tr.DialContext == nil {
		t.Fatalf("default HTTP client without timeouts: %+v", tr)
	}
}

// Signed requests never share a timestamp, even when the clock stands still.
func TestSignedTimestampsUnique(t *testing.T) {
	tr := newTransport(nil, protocol.ServerAddr{}, "Acme")
	clock := &parsec.FixedClock{T: 1000}
	if a, b := tr.now(clock), tr.now(clock); a != 1000 || b != 1001 {
		t.Fatalf("timestamps %v, %v; want 1000, 1001", a, b)
	}
}

// A request the server takes for a replay (another process of the device sent the same
// one, signed at the same microsecond) is signed again, for a later time, and sent once
// more; a second refusal is the caller's error.
func TestCallSignedAgainAfterReplay(t *testing.T) {
	var refusals atomic.Int32
	refusals.Store(1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refusals.Add(-1) >= 0 {
			w.WriteHeader(protocol.HTTPReplayed)
			return
		}
		out, err := protocol.OK(protocol.PingRep{Pong: "pong"})
		if err != nil {
			t.Error(err)
		}
		w.Header().Set("Content-Type", protocol.ContentType)
		w.Write(out)
	}))
	t.Cleanup(hs.Close)
	addr, err := protocol.ParseServerAddr(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	tr := newTransport(nil, addr, "Acme")
	clock := &parsec.FixedClock{T: 1000}
	var signed []parsec.DateTime
	authorize := func(string, []byte) string {
		signed = append(signed, tr.now(clock))
		return "signed"
	}
	var rep protocol.PingRep
	if err := tr.call(t.Context(), protocol.RouteAuthenticated, protocol.CmdPing, protocol.PingReq{}, &rep, authorize); err != nil || rep.Pong != "pong" {
		t.Fatalf("call refused once as a replay: %v, %+v", err, rep)
	}
	if len(signed) != 2 || signed[1] <= signed[0] {
		t.Errorf("signed at %v, want twice, the second later", signed)
	}
	refusals.Store(2)
	signed = nil
	err = tr.call(t.Context(), protocol.RouteAuthenticated, protocol.CmdPing, protocol.PingReq{}, &rep, authorize)
	if !strings.Contains(fmt.Sprint(err), "replay of an earlier one") || len(signed) != 2 {
		t.Errorf("call refused twice: %v after %d signatures, want the refusal after 2", err, len(signed))
	}
}
