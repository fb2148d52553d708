package client

import (
	"net/http"
	"net/http/httptest"
	"strings"
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
