package server

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// replayCache remembers the signatures of the authenticated requests accepted within the
// ballpark window, so that a captured request sent again as is, while its timestamp is
// still acceptable, is refused. Its memory is bounded: beyond max signatures, the oldest
// is forgotten and every request as old as it or older is refused (its replay could no
// longer be told apart). A client with a sane clock signs its requests just before sending
// them, so this floor stays far behind them unless max requests arrive within moments.
//
// The cache lives in this process, unless the store is shared by several server processes
// (a metastore.SignatureRecorder, such as PostgreSQL): the signatures are then recorded in
// the store, as each process would otherwise accept a request replayed to another.
type replayCache struct {
	max    int // negative: nothing is remembered (replays are not refused)
	shared metastore.SignatureRecorder

	mu    sync.Mutex
	seen  map[[crypto.SignatureSize]byte]bool
	order signatureHeap
	floor parsec.DateTime
}

// newReplayCache returns a cache of max signatures, or one recorded in store if it is a
// metastore.SignatureRecorder.
func newReplayCache(max int, store metastore.Store) *replayCache {
	shared, _ := store.(metastore.SignatureRecorder)
	return &replayCache{max: max, shared: shared, seen: map[[crypto.SignatureSize]byte]bool{}}
}

// errReplayed and errTooOld are the refusals of check.
var (
	errReplayed = fail(protocol.HTTPReplayed, "request replayed: this signed request was already received")
	errTooOld   = fail(protocol.HTTPReplayed, "request too old to be told apart from a replay: send it again")
)

// check records the signature of a request of timestamp ts, received at now, or refuses it
// as a replay. The timestamp is in the ballpark already.
func (c *replayCache) check(ctx context.Context, sig []byte, ts, now parsec.DateTime) error {
	if c.max < 0 {
		return nil
	}
	if c.shared != nil {
		hash := sha256.Sum256(sig)
		fresh, err := c.shared.RecordSignature(ctx, hash[:], ts.Add(protocol.BallparkLateSeconds*time.Second), now)
		switch {
		case err != nil:
			return err
		case !fresh:
			return errReplayed
		}
		return nil
	}
	var key [crypto.SignatureSize]byte
	copy(key[:], sig)
	c.mu.Lock()
	defer c.mu.Unlock()
	// Signatures whose timestamps left the ballpark are refused by the ballpark check.
	expired := now.Add(-protocol.BallparkLateSeconds * time.Second)
	for len(c.order) > 0 && c.order[0].ts <= expired {
		delete(c.seen, heap.Pop(&c.order).(signed).sig)
	}
	switch {
	case ts <= c.floor:
		return errTooOld
	case c.seen[key]:
		return errReplayed
	}
	c.seen[key] = true
	heap.Push(&c.order, signed{ts: ts, sig: key})
	if len(c.order) > c.max {
		old := heap.Pop(&c.order).(signed)
		delete(c.seen, old.sig)
		c.floor = max(c.floor, old.ts)
		if old.sig == key {
			return errTooOld
		}
	}
	return nil
}

type signed struct {
	ts  parsec.DateTime
	sig [crypto.SignatureSize]byte
}

// signatureHeap orders signatures oldest first.
type signatureHeap []signed

func (h signatureHeap) Len() int           { return len(h) }
func (h signatureHeap) Less(i, j int) bool { return h[i].ts < h[j].ts }
func (h signatureHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *signatureHeap) Push(x any)        { *h = append(*h, x.(signed)) }
func (h *signatureHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
