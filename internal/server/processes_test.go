package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/events"
)

// observingBus is an in-process bus shared by several servers that calls the observers of
// every server before each delivery, as the PostgreSQL bus of each process does.
type observingBus struct {
	*events.Memory

	mu        sync.Mutex
	observers []func(context.Context, *events.Event)
}

func (b *observingBus) Observe(f func(context.Context, *events.Event)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.observers = append(b.observers, f)
}

func (b *observingBus) Publish(ev events.Event) uint64 {
	b.mu.Lock()
	observers := b.observers
	b.mu.Unlock()
	for _, f := range observers {
		f(context.Background(), &ev)
	}
	return b.Memory.Publish(ev)
}

func (b *observingBus) PublishBatch(evs []events.Event) []uint64 {
	ids := make([]uint64, len(evs))
	for i, ev := range evs {
		ids[i] = b.Publish(ev)
	}
	return ids
}

// secondServer starts another server with the configuration of a world's, as another
// process on the same stores would be, and returns its URL.
func secondServer(t *testing.T, cfg Config) string {
	other, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(other)
	t.Cleanup(func() { other.Stopping(); hs.Close() })
	return hs.URL
}

// sendTo makes req go to the server at base.
func sendTo(req *http.Request, base string) *http.Request {
	u, _ := url.Parse(base)
	req.URL.Host, req.Host = u.Host, u.Host
	return req
}

// A user promoted through another server process receives the administrators' events on
// the stream it opened before, as a Member, through this one.
func TestProfileChangedByAnotherProcess(t *testing.T) {
	var cfg Config
	w := newWorld(t, "alice:admin bob:member", func(c *Config) {
		bus := &observingBus{Memory: events.New(c.Clock)}
		t.Cleanup(bus.Close)
		c.Bus = bus
		cfg = *c
	})
	other := secondServer(t, cfg)
	alice, bob := w.user("alice"), w.user("bob")

	s := w.openEvents(t, bob, "")
	s.wantConfig(t, defaultConfig)
	cert := updateCert(alice, bob.user, parsec.ProfileAdmin, w.tick())
	body := encodeRequest(t, protocol.CmdUserUpdate, protocol.UserUpdateReq{UserUpdateCertificate: cert})
	wantOK(t, w.do(t, sendTo(w.signedRequest(t, alice, body, w.clock.Now()), other)))
	s.nextEvent(t, protocol.EventCommonCertificate)
	w.srv.publish("Acme", protocol.EventPinged, protocol.EventPingedData{Ping: "for admins"}, events.Audience{Admins: true})
	_, ev := s.nextEvent(t, protocol.EventPinged)
	var ping protocol.EventPingedData
	if err := protocol.DecodeEvent(ev.Data, &ping); err != nil || ping.Ping != "for admins" {
		t.Fatalf("pinged %+v (%v), want the one for admins", ping, err)
	}
}
