package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// switchedStore is a metadata store that can be cut off, as a database server that stops.
type switchedStore struct {
	metastore.Store
	down atomic.Pointer[error] // the failure while it is down; nil while it runs
}

func (s *switchedStore) run(ctx context.Context, fn func(context.Context, func(metastore.Tx) error) error, f func(metastore.Tx) error) error {
	if err := s.down.Load(); err != nil {
		return *err
	}
	return fn(ctx, f)
}

func (s *switchedStore) Update(ctx context.Context, f func(metastore.Tx) error) error {
	return s.run(ctx, s.Store.Update, f)
}

func (s *switchedStore) View(ctx context.Context, f func(metastore.Tx) error) error {
	return s.run(ctx, s.Store.View, f)
}

// While the metadata store cannot be reached (errors of kind Unavailable), RPCs get the
// status store_unavailable, event streams and administration requests a 503, all saying that
// the metadata store is unavailable; /healthz names it; the metrics count the failures. Other
// failures of the store stay internal errors (500). Once the store is back, everything works.
func TestMetadataStoreUnavailable(t *testing.T) {
	var store *switchedStore
	w := newWorld(t, "alice:admin", func(c *Config) {
		store = &switchedStore{Store: c.Store}
		c.Store = store
	})
	alice := w.user("alice")
	ping := encodeRequest(t, protocol.CmdPing, protocol.PingReq{Ping: "x"})
	metadataErrors := func() string {
		m := w.adminRequest(t, http.MethodGet, "/metrics", "Bearer "+testAdminToken, "")
		for _, l := range strings.Split(string(m.body), "\n") {
			if v, ok := strings.CutPrefix(l, `parsec_store_errors_total{store="metadata"} `); ok {
				return v
			}
		}
		return ""
	}

	unavailable := parsec.Errorf(parsec.Unavailable, "metadata database unavailable: connection refused")
	store.down.Store(&unavailable)
	for name, r := range map[string]response{
		"authenticated": w.do(t, w.signedRequest(t, alice, ping, w.clock.Now())),
		"anonymous":     w.do(t, w.rpcRequest(t, protocol.RouteAnonymous+string(w.org), ping)),
	} {
		err := decodeReply(t, r, &protocol.PingRep{})
		wantStatus(t, err, protocol.StatusStoreUnavailable)
		if se, _ := protocol.StatusOf(err); se == nil || !strings.Contains(se.Message, "metadata store") {
			t.Errorf("%s: refusal %v does not name the metadata store", name, err)
		}
	}
	for name, r := range map[string]response{
		"events": w.do(t, w.eventsRequest(t, w.org, alice, w.clock.Now())),
		"admin":  w.adminRequest(t, http.MethodGet, "/administration/organizations/"+string(w.org), "Bearer "+testAdminToken, ""),
		"health": w.do(t, w.newRequest(t, http.MethodGet, "/healthz", nil)),
	} {
		if r.code != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "metadata store") {
			t.Errorf("%s: %d %q, want 503 naming the metadata store", name, r.code, r.body)
		}
	}
	if got := metadataErrors(); got != "4" {
		t.Errorf("%s metadata store errors counted, want 4 (two RPCs, the stream, the administration request)", got)
	}

	other := errors.New("disk on fire")
	store.down.Store(&other)
	wantCode(t, w.do(t, w.signedRequest(t, alice, ping, w.clock.Now())), http.StatusInternalServerError)

	store.down.Store(nil)
	wantOK(t, w.do(t, w.signedRequest(t, alice, ping, w.clock.Now())))
	if r := w.do(t, w.newRequest(t, http.MethodGet, "/healthz", nil)); r.code != http.StatusOK {
		t.Errorf("healthz once the store is back: %d %q", r.code, r.body)
	}
}
