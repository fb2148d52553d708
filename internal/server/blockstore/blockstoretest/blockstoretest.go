package blockstoretest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
)

// Run runs the conformance suite, one subtest per behaviour. open returns a store to test
// (a fresh one or a shared one); Run closes each store it opens.
func Run(t *testing.T, open func(t *testing.T) blockstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blockstore.Store)
	}{
		{"PutGet", testPutGet},
		{"Overwrite", testOverwrite},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"OrganizationsIsolated", testOrganizationsIsolated},
		{"UnicodeOrganization", testUnicodeOrganization},
		{"PutStream", testPutStream},
		{"PutStreamWrongSize", testPutStreamWrongSize},
		{"PutBatch", testPutBatch},
		{"PutBatchOverwrite", testPutBatchOverwrite},
		{"PutBatchDuplicate", testPutBatchDuplicate},
		{"PutBatchConcurrent", testPutBatchConcurrent},
		{"GetMany", testGetMany},
		{"Cancelled", testCancelled},
		{"Concurrent", testConcurrent},
		{"Closed", testClosed},
		{"RefusesEscapingOrganizations", testRefusesEscapingOrganizations},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			closed := false
			t.Cleanup(func() {
				if !closed {
					if err := s.Close(); err != nil {
						t.Errorf("close: %v", err)
					}
				}
			})
			if tc.name == "Closed" {
				closed = true
			}
			tc.fn(t, s)
		})
	}
}

const org = parsec.OrganizationID("Org-1")

// randomBytes returns n random bytes: blocks are ciphertext, so random data is what a
// store really sees.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// sameBytes compares blocks without printing megabytes when they differ.
func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: got %d bytes, want %d; first difference at offset %d", what, len(got), len(want), i)
}

func mustPut(t *testing.T, s blockstore.Store, o parsec.OrganizationID, id parsec.BlockID, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), o, id, data); err != nil {
		t.Fatalf("put %s: %v", id, err)
	}
}

// checkBlock checks that (o, id) holds want, through both Get and Open.
func checkBlock(t *testing.T, s blockstore.Store, o parsec.OrganizationID, id parsec.BlockID, want []byte) {
	t.Helper()
	got, err := s.Get(t.Context(), o, id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	sameBytes(t, "get", got, want)

	rc, size, err := s.Open(t.Context(), o, id)
	if err != nil {
		t.Fatalf("open %s: %v", id, err)
	}
	defer rc.Close()
	if size != int64(len(want)) {
		t.Errorf("open %s: size %d, want %d", id, size, len(want))
	}
	got, err = io.ReadAll(rc)
	if err != nil {
		t.Fatalf("open %s: read: %v", id, err)
	}
	sameBytes(t, "open", got, want)
	if err := rc.Close(); err != nil {
		t.Errorf("open %s: close: %v", id, err)
	}
}

// checkMissing checks that (o, id) holds nothing, through both Get and Open.
func checkMissing(t *testing.T, s blockstore.Store, o parsec.OrganizationID, id parsec.BlockID) {
	t.Helper()
	if data, err := s.Get(t.Context(), o, id); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("get %s: got %d bytes and error %v, want kind %v", id, len(data), err, parsec.NotFound)
	}
	rc, _, err := s.Open(t.Context(), o, id)
	if err == nil {
		rc.Close()
	}
	if !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("open %s: error %v, want kind %v", id, err, parsec.NotFound)
	}
}

func testPutGet(t *testing.T, s blockstore.Store) {
	for _, tc := range []struct {
		name string
		size int
	}{
		{"Empty", 0},
		{"OneByte", 1},
		{"512KiB", 512 << 10},
		{"4MiB", 4 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := parsec.NewBlockID()
			data := randomBytes(tc.size)
			mustPut(t, s, org, id, data)
			checkBlock(t, s, org, id, data)
		})
	}
}

func testOverwrite(t *testing.T, s blockstore.Store) {
	id := parsec.NewBlockID()
	first, second := randomBytes(1000), randomBytes(10)
	mustPut(t, s, org, id, first)
	mustPut(t, s, org, id, second)
	checkBlock(t, s, org, id, second)
	mustPut(t, s, org, id, second) // identical again: harmless
	checkBlock(t, s, org, id, second)
}

func testMissing(t *testing.T, s blockstore.Store) {
	id := parsec.NewBlockID()
	checkMissing(t, s, org, id)
	if err := s.Delete(t.Context(), org, id); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("delete: error %v, want kind %v", err, parsec.NotFound)
	}
	checkMissing(t, s, "Never-Seen-Org", id)
}

func testDelete(t *testing.T, s blockstore.Store) {
	id, other := parsec.NewBlockID(), parsec.NewBlockID()
	mustPut(t, s, org, id, []byte("doomed"))
	mustPut(t, s, org, other, []byte("kept"))
	if err := s.Delete(t.Context(), org, id); err != nil {
		t.Fatalf("delete: %v", err)
	}
	checkMissing(t, s, org, id)
	checkBlock(t, s, org, other, []byte("kept"))
	if err := s.Delete(t.Context(), org, id); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("second delete: error %v, want kind %v", err, parsec.NotFound)
	}
	// A deleted block can be put again.
	mustPut(t, s, org, id, []byte("back"))
	checkBlock(t, s, org, id, []byte("back"))
}

func testOrganizationsIsolated(t *testing.T, s blockstore.Store) {
	const a, b = parsec.OrganizationID("Org-A"), parsec.OrganizationID("Org-B")
	id, onlyA := parsec.NewBlockID(), parsec.NewBlockID()
	mustPut(t, s, a, id, []byte("block of A"))
	mustPut(t, s, b, id, []byte("block of B"))
	mustPut(t, s, a, onlyA, []byte("only in A"))
	checkBlock(t, s, a, id, []byte("block of A"))
	checkBlock(t, s, b, id, []byte("block of B"))
	checkMissing(t, s, b, onlyA)
	if err := s.Delete(t.Context(), b, onlyA); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("delete A's block in B: error %v, want kind %v", err, parsec.NotFound)
	}
	if err := s.Delete(t.Context(), a, id); err != nil {
		t.Fatalf("delete in A: %v", err)
	}
	checkMissing(t, s, a, id)
	checkBlock(t, s, b, id, []byte("block of B"))
}

func testUnicodeOrganization(t *testing.T, s blockstore.Store) {
	for _, o := range []parsec.OrganizationID{"Société-1", "日本語_組織", "Ωmega-Ω"} {
		t.Run(string(o), func(t *testing.T) {
			id := parsec.NewBlockID()
			data := randomBytes(100)
			mustPut(t, s, o, id, data)
			checkBlock(t, s, o, id, data)
			if err := s.Delete(t.Context(), o, id); err != nil {
				t.Fatalf("delete: %v", err)
			}
			checkMissing(t, s, o, id)
		})
	}
}

func testPutStream(t *testing.T, s blockstore.Store) {
	for _, size := range []int{0, 1, 512 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			id := parsec.NewBlockID()
			data := randomBytes(size)
			// One byte per read: the store must not assume a reader fills its buffer.
			r := iotest.OneByteReader(bytes.NewReader(data))
			if size > 4096 {
				r = iotest.HalfReader(bytes.NewReader(data))
			}
			if err := s.PutStream(t.Context(), org, id, r, int64(size)); err != nil {
				t.Fatalf("put stream: %v", err)
			}
			checkBlock(t, s, org, id, data)
		})
	}
}

// failingReader yields some bytes, then an error.
type failingReader struct{ r io.Reader }

var errBroken = errors.New("connection broken")

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errBroken
	}
	return n, err
}

func testPutStreamWrongSize(t *testing.T, s blockstore.Store) {
	data := randomBytes(64 << 10)
	for _, tc := range []struct {
		name string
		r    func() io.Reader
		size int64
	}{
		{"Short", func() io.Reader { return bytes.NewReader(data[:len(data)-1]) }, int64(len(data))},
		{"Long", func() io.Reader { return bytes.NewReader(data) }, int64(len(data) - 1)},
		{"OneByteTooMany", func() io.Reader { return strings.NewReader("x") }, 0},
		{"ReaderFails", func() io.Reader { return &failingReader{bytes.NewReader(data[:1000])} }, int64(len(data))},
		{"Negative", func() io.Reader { return bytes.NewReader(nil) }, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A new block: nothing must appear.
			id := parsec.NewBlockID()
			if err := s.PutStream(t.Context(), org, id, tc.r(), tc.size); err == nil {
				t.Fatal("put stream succeeded")
			}
			checkMissing(t, s, org, id)

			// An existing block: it must stay as it was.
			old := []byte("previous version")
			mustPut(t, s, org, id, old)
			if err := s.PutStream(t.Context(), org, id, tc.r(), tc.size); err == nil {
				t.Fatal("put stream over an existing block succeeded")
			}
			checkBlock(t, s, org, id, old)
		})
	}
}

func testCancelled(t *testing.T, s blockstore.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	id, existing := parsec.NewBlockID(), parsec.NewBlockID()
	mustPut(t, s, org, existing, []byte("here"))

	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: error %v, want one wrapping %v", op, err, context.Canceled)
		}
	}
	check("put", s.Put(ctx, org, id, []byte("data")))
	check("put stream", s.PutStream(ctx, org, id, strings.NewReader("data"), 4))
	check("put batch", s.PutBatch(ctx, org, []blockstore.Block{{ID: id, Data: []byte("data")}}))
	check("put empty batch", s.PutBatch(ctx, org, nil))
	_, err := s.Get(ctx, org, existing)
	check("get", err)
	rc, _, err := s.Open(ctx, org, existing)
	if err == nil {
		rc.Close()
	}
	check("open", err)
	check("delete", s.Delete(ctx, org, existing))

	checkMissing(t, s, org, id)
	checkBlock(t, s, org, existing, []byte("here"))
}

// testConcurrent puts and reads many blocks from several goroutines at once, including
// several writers of the same block.
func testConcurrent(t *testing.T, s blockstore.Store) {
	const workers, perWorker = 8, 16
	shared := parsec.NewBlockID()
	sharedData := randomBytes(4096)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			o := parsec.OrganizationID(fmt.Sprintf("Org-%d", w%3))
			for range perWorker {
				id := parsec.NewBlockID()
				data := randomBytes(1024 + w)
				if err := s.Put(t.Context(), o, id, data); err != nil {
					t.Errorf("put: %v", err)
					return
				}
				if err := s.Put(t.Context(), org, shared, sharedData); err != nil {
					t.Errorf("put shared: %v", err)
					return
				}
				got, err := s.Get(t.Context(), o, id)
				if err != nil {
					t.Errorf("get: %v", err)
					return
				}
				sameBytes(t, "get", got, data)
				got, err = s.Get(t.Context(), org, shared)
				if err != nil {
					t.Errorf("get shared: %v", err)
					return
				}
				sameBytes(t, "get shared", got, sharedData)
			}
		})
	}
	wg.Wait()
}

func testClosed(t *testing.T, s blockstore.Store) {
	id := parsec.NewBlockID()
	mustPut(t, s, org, id, []byte("x"))
	rc, _, err := s.Open(t.Context(), org, id)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer rc.Close()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := s.Get(t.Context(), org, id); !parsec.IsKind(err, parsec.Unavailable) {
		t.Errorf("get after close: error %v, want kind %v", err, parsec.Unavailable)
	}
	if err := s.Put(t.Context(), org, parsec.NewBlockID(), nil); !parsec.IsKind(err, parsec.Unavailable) {
		t.Errorf("put after close: error %v, want kind %v", err, parsec.Unavailable)
	}
	if err := s.PutBatch(t.Context(), org, []blockstore.Block{{ID: parsec.NewBlockID()}}); !parsec.IsKind(err, parsec.Unavailable) {
		t.Errorf("put batch after close: error %v, want kind %v", err, parsec.Unavailable)
	}
	if err := s.PutBatch(t.Context(), org, nil); !parsec.IsKind(err, parsec.Unavailable) {
		t.Errorf("put an empty batch after close: error %v, want kind %v", err, parsec.Unavailable)
	}
	if got, err := io.ReadAll(rc); err != nil || string(got) != "x" {
		t.Errorf("read a reader opened before close: got %q, %v; want %q", got, err, "x")
	}
}

// randomBlocks returns n blocks with new IDs and random data of the given sizes, in turn.
func randomBlocks(n int, sizes ...int) []blockstore.Block {
	out := make([]blockstore.Block, n)
	for i := range out {
		out[i] = blockstore.Block{ID: parsec.NewBlockID(), Data: randomBytes(sizes[i%len(sizes)])}
	}
	return out
}

func mustPutBatch(t *testing.T, s blockstore.Store, o parsec.OrganizationID, blocks []blockstore.Block) {
	t.Helper()
	if err := s.PutBatch(t.Context(), o, blocks); err != nil {
		t.Fatalf("put a batch of %d blocks: %v", len(blocks), err)
	}
}

func testPutBatch(t *testing.T, s blockstore.Store) {
	for _, tc := range []struct {
		name  string
		n     int
		sizes []int
	}{
		{"None", 0, []int{1}},
		{"One", 1, []int{100}},
		{"EmptyBlocks", 3, []int{0}},
		{"ManySmall", 600, []int{4096, 1, 0, 300}},
		{"Large", 16, []int{512 << 10, 4 << 20}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blocks := randomBlocks(tc.n, tc.sizes...)
			mustPutBatch(t, s, org, blocks)
			for _, b := range blocks {
				checkBlock(t, s, org, b.ID, b.Data)
			}
		})
	}
	t.Run("OrganizationsIsolated", func(t *testing.T) {
		a := randomBlocks(5, 10)
		b := make([]blockstore.Block, len(a))
		for i := range a {
			b[i] = blockstore.Block{ID: a[i].ID, Data: randomBytes(20)}
		}
		mustPutBatch(t, s, "Org-A", a)
		mustPutBatch(t, s, "Org-B", b)
		for i := range a {
			checkBlock(t, s, "Org-A", a[i].ID, a[i].Data)
			checkBlock(t, s, "Org-B", b[i].ID, b[i].Data)
			checkMissing(t, s, "Org-C", a[i].ID)
		}
	})
}

// testPutBatchOverwrite puts a batch mixing new blocks and blocks already stored, by Put
// or by an earlier batch: all end up with the batch's data.
func testPutBatchOverwrite(t *testing.T, s blockstore.Store) {
	old := randomBlocks(10, 1000)
	mustPutBatch(t, s, org, old[:5])
	for _, b := range old[5:] {
		mustPut(t, s, org, b.ID, b.Data)
	}
	batch := randomBlocks(10, 10)
	for i := range old {
		batch = append(batch, blockstore.Block{ID: old[i].ID, Data: randomBytes(10 + i)})
	}
	mustPutBatch(t, s, org, batch)
	for _, b := range batch {
		checkBlock(t, s, org, b.ID, b.Data)
	}
	mustPutBatch(t, s, org, batch) // identical again: harmless
	for _, b := range batch {
		checkBlock(t, s, org, b.ID, b.Data)
	}
}

// testPutBatchDuplicate puts a batch naming a block twice: refused, nothing stored.
func testPutBatchDuplicate(t *testing.T, s blockstore.Store) {
	existing := blockstore.Block{ID: parsec.NewBlockID(), Data: []byte("before")}
	mustPut(t, s, org, existing.ID, existing.Data)
	fresh := randomBlocks(3, 10)
	batch := append(slices.Clone(fresh), blockstore.Block{ID: existing.ID, Data: []byte("after")}, blockstore.Block{ID: fresh[1].ID, Data: []byte("again")})
	if err := s.PutBatch(t.Context(), org, batch); !parsec.IsKind(err, parsec.Invalid) {
		t.Fatalf("put a batch with a block twice: error %v, want kind %v", err, parsec.Invalid)
	}
	for _, b := range fresh {
		checkMissing(t, s, org, b.ID)
	}
	checkBlock(t, s, org, existing.ID, existing.Data)
}

// testPutBatchConcurrent runs batches from several goroutines at once, some of them
// writing the same shared blocks (with the same data) and reading them.
func testPutBatchConcurrent(t *testing.T, s blockstore.Store) {
	const workers, batches = 6, 4
	shared := randomBlocks(20, 2000)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			o := parsec.OrganizationID(fmt.Sprintf("Org-%d", w%3))
			for range batches {
				own := randomBlocks(50, 100+w, 4096)
				if err := s.PutBatch(t.Context(), o, own); err != nil {
					t.Errorf("put batch: %v", err)
					return
				}
				if err := s.PutBatch(t.Context(), org, shared); err != nil {
					t.Errorf("put shared batch: %v", err)
					return
				}
				for _, b := range append(own, shared[w]) {
					bo := o
					if b.ID == shared[w].ID {
						bo = org
					}
					got, err := s.Get(t.Context(), bo, b.ID)
					if err != nil {
						t.Errorf("get: %v", err)
						return
					}
					sameBytes(t, "get", got, b.Data)
				}
			}
		})
	}
	wg.Wait()
}

// testRefusesEscapingOrganizations: organization IDs are checked before they reach the
// store, but a store never trusts them to name a place: one that could leave its folder or
// prefix, or that is not text, is refused by every operation.
func testRefusesEscapingOrganizations(t *testing.T, s blockstore.Store) {
	id := parsec.NewBlockID()
	for _, org := range []parsec.OrganizationID{"", ".", "..", "../x", "a/b", `a\b`, "/", "a\x00b", "a\nb", "\xff", "../../etc", parsec.OrganizationID(strings.Repeat("a", 256))} {
		if err := s.Put(t.Context(), org, id, []byte("x")); !parsec.IsKind(err, parsec.Invalid) {
			t.Errorf("put in organization %q: error %v, want kind %v", org, err, parsec.Invalid)
		}
		if _, err := s.Get(t.Context(), org, id); !parsec.IsKind(err, parsec.Invalid) {
			t.Errorf("get in organization %q: error %v, want kind %v", org, err, parsec.Invalid)
		}
		if _, _, err := s.Open(t.Context(), org, id); !parsec.IsKind(err, parsec.Invalid) {
			t.Errorf("open in organization %q: error %v, want kind %v", org, err, parsec.Invalid)
		}
		if err := s.PutStream(t.Context(), org, id, bytes.NewReader([]byte("x")), 1); !parsec.IsKind(err, parsec.Invalid) {
			t.Errorf("put stream in organization %q: error %v, want kind %v", org, err, parsec.Invalid)
		}
		if err := s.Delete(t.Context(), org, id); !parsec.IsKind(err, parsec.Invalid) {
			t.Errorf("delete in organization %q: error %v, want kind %v", org, err, parsec.Invalid)
		}
		if err := s.PutBatch(t.Context(), org, []blockstore.Block{{ID: id, Data: []byte("x")}}); !parsec.IsKind(err, parsec.Invalid) {
			t.Errorf("put batch in organization %q: error %v, want kind %v", org, err, parsec.Invalid)
		}
	}
}

// storeOnly hides every method of a store but those of blockstore.Store (GetMany).
type storeOnly struct{ blockstore.Store }

// testGetMany reads blocks of every size together, in the order asked (one twice, one
// put in another organization), with the store's GetMany if it has one and with Gets: a
// missing block fails the read with NotFound, as does one of another organization.
func testGetMany(t *testing.T, s blockstore.Store) {
	blocks := randomBlocks(250, 0, 1, 100, 4096, 65536, 65537, 300<<10)
	mustPutBatch(t, s, org, blocks[:200])
	for _, b := range blocks[200:] {
		mustPut(t, s, org, b.ID, b.Data)
	}
	elsewhere := randomBlocks(1, 10)[0]
	mustPut(t, s, "Org-2", elsewhere.ID, elsewhere.Data)
	order := mrand.Perm(len(blocks))
	order = append(order, order[7])
	ids := make([]parsec.BlockID, len(order))
	for i, j := range order {
		ids[i] = blocks[j].ID
	}
	for _, store := range []blockstore.Store{s, storeOnly{s}} {
		name := fmt.Sprintf("%T", store)
		got, err := blockstore.GetMany(t.Context(), store, org, ids, 4)
		if err != nil {
			t.Fatalf("%s: get %d blocks: %v", name, len(ids), err)
		}
		if len(got) != len(ids) {
			t.Fatalf("%s: %d blocks for %d asked", name, len(got), len(ids))
		}
		for i, j := range order {
			sameBytes(t, fmt.Sprintf("%s: block %d (%d bytes)", name, i, len(blocks[j].Data)), got[i], blocks[j].Data)
		}
		for _, missing := range []parsec.BlockID{parsec.NewBlockID(), elsewhere.ID} {
			_, err := blockstore.GetMany(t.Context(), store, org, append(slices.Clone(ids[:10]), missing), 4)
			if !parsec.IsKind(err, parsec.NotFound) {
				t.Errorf("%s: get blocks, one missing: %v, want an error of kind %v", name, err, parsec.NotFound)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := blockstore.GetMany(ctx, store, org, ids[:3], 4); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: get blocks with a context done: %v, want it cancelled", name, err)
		}
	}
}
