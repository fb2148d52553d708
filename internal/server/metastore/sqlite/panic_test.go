package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// A transaction whose function panics after a full-size lookup: the panic must go on
// (to net/http's recovery, say) and the writer be usable again, not wait for ever.
func TestPanicAfterKeptLookup(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ids := make([]parsec.VlobID, lookupChunk)
	for i := range ids {
		ids[i] = parsec.NewVlobID()
	}
	ctx, cancel := context.WithCancel(context.Background()) // a request's: alive while its handler runs
	defer cancel()
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		s.Update(ctx, func(tx metastore.Tx) error {
			if _, err := tx.LastVlobVersions("org", parsec.NewVlobID(), ids); err != nil {
				return err
			}
			panic("a bug")
		})
	}()
	select {
	case r := <-recovered:
		t.Logf("panic went on: %v", r)
	case <-time.After(5 * time.Second):
		t.Fatal("the panic is stuck in run's deferred Keep after 5 s (the writer's one connection is held by the abandoned transaction)")
	}
}
