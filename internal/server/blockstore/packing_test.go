package blockstore_test

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/blockstore/blockstoretest"
	"github.com/parsec-go/parsec/internal/server/blockstore/disk"
)

// memSmall is a blockstore.Small in memory whose Update fails while fail is set.
type memSmall struct {
	mu     sync.Mutex
	blocks map[string][]byte // org + "/" + ID
	fail   bool
}

func newMemSmall() *memSmall { return &memSmall{blocks: map[string][]byte{}} }

func key(org parsec.OrganizationID, id parsec.BlockID) string { return string(org) + "/" + id.String() }

func (m *memSmall) Get(_ context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blocks[key(org, id)]
	return b, ok, nil
}

func (m *memSmall) GetMany(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) (map[parsec.BlockID][]byte, error) {
	out := map[parsec.BlockID][]byte{}
	for _, id := range ids {
		if b, ok, _ := m.Get(ctx, org, id); ok {
			out[id] = b
		}
	}
	return out, nil
}

func (m *memSmall) AnyOf(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) (bool, error) {
	got, _ := m.GetMany(ctx, org, ids)
	return len(got) > 0, nil
}

func (m *memSmall) Update(_ context.Context, org parsec.OrganizationID, put []blockstore.Block, gone []parsec.BlockID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("the database is gone")
	}
	next := maps.Clone(m.blocks)
	for _, b := range put {
		next[key(org, b.ID)] = append([]byte{}, b.Data...)
	}
	for _, id := range gone {
		delete(next, key(org, id))
	}
	m.blocks = next
	return nil
}

func (m *memSmall) Close() error { return nil }

func (m *memSmall) failing(fail bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = fail
}

// packing returns a Packing of blocks up to 100 bytes in memory, the others in a disk store.
func packing(t *testing.T) (*blockstore.Packing, *memSmall) {
	t.Helper()
	large, err := disk.Open(filepath.Join(t.TempDir(), "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	small := newMemSmall()
	p := blockstore.NewPacking(small, large, 100, 4)
	t.Cleanup(func() { p.Close() })
	return p, small
}

func TestPackingConformance(t *testing.T) {
	blockstoretest.Run(t, func(t *testing.T) blockstore.Store {
		p, _ := packing(t)
		return p
	})
}

// When the Small fails, a small block is refused with an error naming the block, and a
// large block written over a small one is refused too, the small one still read: a Put that
// fails leaves the block as it was or as it was to be, never a mix.
func TestPackingSmallFails(t *testing.T) {
	p, small := packing(t)
	ctx := t.Context()
	const org = parsec.OrganizationID("Acme")
	id := parsec.NewBlockID()
	old := []byte("small and old")
	if err := p.Put(ctx, org, id, old); err != nil {
		t.Fatal(err)
	}
	small.failing(true)
	err := p.Put(ctx, org, parsec.NewBlockID(), []byte("small"))
	if err == nil || !strings.Contains(err.Error(), "the database is gone") || !strings.Contains(err.Error(), `of organization "Acme"`) {
		t.Errorf("put a small block while the Small fails: %v", err)
	}
	large := []byte(strings.Repeat("large ", 50))
	if err := p.Put(ctx, org, id, large); err == nil {
		t.Error("a large block over a small one was acknowledged though its row could not be removed")
	}
	if got, err := p.Get(ctx, org, id); err != nil || string(got) != string(old) {
		t.Errorf("after the failed put: %q, %v; want the previous block", got, err)
	}
	err = p.PutBatch(ctx, org, []blockstore.Block{{ID: parsec.NewBlockID(), Data: large}, {ID: parsec.NewBlockID(), Data: []byte("s")}})
	if err == nil || !strings.Contains(err.Error(), "put 2 blocks") {
		t.Errorf("a batch while the Small fails: %v", err)
	}

	small.failing(false)
	if err := p.Put(ctx, org, id, large); err != nil {
		t.Fatal(err)
	}
	got, err := p.GetMany(ctx, org, []parsec.BlockID{id, id})
	if err != nil || string(got[0]) != string(large) || string(got[1]) != string(large) {
		t.Errorf("after the large put: %d and %d bytes, %v; want the large block twice", len(got[0]), len(got[1]), err)
	}
	if found, _ := small.AnyOf(ctx, org, []parsec.BlockID{id}); found {
		t.Error("the small block's row is still there under the large one")
	}
}
