package server

import (
	"context"
	"sync"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// sharedSignatures is a store that remembers signatures like one shared by several server
// processes (the PostgreSQL store does it in a table).
type sharedSignatures struct {
	metastore.Store

	mu   sync.Mutex
	seen map[string]parsec.DateTime // expiry by signature hash
}

func (s *sharedSignatures) RecordSignature(_ context.Context, hash []byte, expires, now parsec.DateTime) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.seen[string(hash)]; ok && e >= now {
		return false, nil
	}
	s.seen[string(hash)] = expires
	return true, nil
}

// Two servers on a store that records signatures: a request accepted by one is a replay
// for the other.
func TestReplayedToAnotherServer(t *testing.T) {
	var cfg Config
	w := newWorld(t, "alice:admin", func(c *Config) {
		c.Store = &sharedSignatures{Store: c.Store, seen: map[string]parsec.DateTime{}}
		cfg = *c
	})
	cfg.Bus = events.New(w.clock)
	defer cfg.Bus.Close()
	other := secondServer(t, cfg)

	alice := w.user("alice")
	body := encodeRequest(t, protocol.CmdPing, protocol.PingReq{Ping: "x"})
	first := w.signedRequest(t, alice, body, w.clock.Now())
	wantOK(t, w.do(t, first))
	again := sendTo(w.rpcRequest(t, alice.path(), body), other)
	again.Header.Set(protocol.HeaderAuthorization, first.Header.Get(protocol.HeaderAuthorization))
	wantCode(t, w.do(t, again), protocol.HTTPReplayed)
	// The other server accepts a new signature, which the first then refuses.
	fresh := sendTo(w.signedRequest(t, alice, body, w.clock.Now()), other)
	wantOK(t, w.do(t, fresh))
	back := w.rpcRequest(t, alice.path(), body)
	back.Header.Set(protocol.HeaderAuthorization, fresh.Header.Get(protocol.HeaderAuthorization))
	wantCode(t, w.do(t, back), protocol.HTTPReplayed)
}
