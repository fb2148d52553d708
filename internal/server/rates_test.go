package server

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// A device makes at most RequestsPerDeviceMinute requests (RPCs and event streams) within a
// minute from its first; the refusal says why; other devices are counted apart; a minute
// after the first request, the device may go on.
func TestRequestsPerDeviceMinute(t *testing.T) {
	const max = 5
	w := newWorld(t, "alice:admin bob:member", func(c *Config) { c.Limits.RequestsPerDeviceMinute = max })
	alice, bob := w.user("alice"), w.user("bob")
	start := w.clock.Now().Add(time.Minute) // the windows of the requests that made the world are over
	w.clock.Set(start)
	body := encodeRequest(t, protocol.CmdPing, protocol.PingReq{Ping: "x"})
	for range max - 1 {
		wantOK(t, w.do(t, w.signedRequest(t, alice, body, w.clock.Now())))
	}
	w.openEvents(t, alice, "")
	r := w.do(t, w.signedRequest(t, alice, body, w.clock.Now()))
	wantCode(t, r, protocol.HTTPTooManyRequests)
	if want := "too many requests per minute from this device (at most 5)"; !strings.Contains(string(r.body), want) {
		t.Errorf("refusal %q does not say %q", r.body, want)
	}
	wantCode(t, w.do(t, w.eventsRequest(t, w.org, alice, w.clock.Now())), protocol.HTTPTooManyRequests)
	wantOK(t, w.do(t, w.signedRequest(t, bob, body, w.clock.Now())))

	w.clock.Set(start.Add(time.Minute - time.Microsecond))
	wantCode(t, w.do(t, w.signedRequest(t, alice, body, w.clock.Now())), protocol.HTTPTooManyRequests)
	w.clock.Set(start.Add(time.Minute))
	wantOK(t, w.do(t, w.signedRequest(t, alice, body, w.clock.Now())))
}

// sharedRates is a store that counts requests like one shared by several server processes
// (the PostgreSQL store does it in a table).
type sharedRates struct {
	metastore.Store

	mu      sync.Mutex
	windows map[string]*rateWindow
}

func (s *sharedRates) CountRequest(_ context.Context, key string, window time.Duration, now parsec.DateTime) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windows[key]
	if w == nil || w.end <= now {
		w = &rateWindow{end: now.Add(window)}
		s.windows[key] = w
	}
	w.count++
	return int64(w.count), nil
}

// Two servers on a store that counts requests: a device's requests to both count against one
// limit.
func TestRequestsPerDeviceMinuteAcrossServers(t *testing.T) {
	const max = 4
	var cfg Config
	w := newWorld(t, "alice:admin", func(c *Config) {
		c.Limits.RequestsPerDeviceMinute = max
		c.Store = &sharedRates{Store: c.Store, windows: map[string]*rateWindow{}}
		cfg = *c
	})
	cfg.Bus = events.New(w.clock)
	defer cfg.Bus.Close()
	other := secondServer(t, cfg)
	w.clock.Set(w.clock.Now().Add(time.Minute))

	alice := w.user("alice")
	body := encodeRequest(t, protocol.CmdPing, protocol.PingReq{Ping: "x"})
	for range max / 2 {
		wantOK(t, w.do(t, w.signedRequest(t, alice, body, w.clock.Now())))
		wantOK(t, w.do(t, sendTo(w.signedRequest(t, alice, body, w.clock.Now()), other)))
	}
	wantCode(t, w.do(t, w.signedRequest(t, alice, body, w.clock.Now())), protocol.HTTPTooManyRequests)
	wantCode(t, w.do(t, sendTo(w.signedRequest(t, alice, body, w.clock.Now()), other)), protocol.HTTPTooManyRequests)
}

// The limiter in memory forgets the windows that ended.
func TestRateLimiterForgets(t *testing.T) {
	l := newRateLimiter(1, time.Minute, "requests", nil)
	now := testStart
	for _, key := range []string{"a", "b", "c"} {
		if err := l.allow(t.Context(), key, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.allow(t.Context(), "a", now.Add(time.Second)); err == nil {
		t.Error("a second request of a in its window was allowed")
	}
	if err := l.allow(t.Context(), "a", now.Add(time.Minute)); err != nil {
		t.Errorf("a, once its window ended: %v", err)
	}
	if len(l.counts) != 1 {
		t.Errorf("%d windows remembered, want 1 (a's)", len(l.counts))
	}
}
