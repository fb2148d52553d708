package disk

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/blockstore/blockstoretest"
	"github.com/parsec-go/parsec/internal/sqlitefile/sqlitefiletest"
)

func TestConformance(t *testing.T) {
	blockstoretest.Run(t, func(t *testing.T) blockstore.Store {
		s, err := Open(filepath.Join(t.TempDir(), "blocks"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpenCreatesPrivateDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "blocks")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("mode of %s: %v, want no access for group and others", dir, perm)
	}
}

// largeBlock returns a block just too large to be packed, starting with text.
func largeBlock(text string) []byte {
	return append([]byte(text), bytes.Repeat([]byte{'.'}, maxPacked+1-len(text))...)
}

func TestLayout(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	id, small := parsec.NewBlockID(), parsec.NewBlockID()
	data := largeBlock("ciphertext")
	if err := s.Put(t.Context(), "Société-1", id, data); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), "Société-1", small, []byte("small")); err != nil {
		t.Fatal(err)
	}
	hex := id.String()
	got, err := os.ReadFile(filepath.Join(dir, "Société-1", hex[:2], hex))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("file content %.20q…, want %.20q…", got, data)
	}
	hex = small.String()
	if _, err := os.Stat(filepath.Join(dir, "Société-1", hex[:2], hex)); !os.IsNotExist(err) {
		t.Errorf("a small block has a file of its own (stat: %v)", err)
	}
	sqlitefiletest.WantDurable(t, t.Context(), s.small.writer, filepath.Join(dir, packedFile))
	hex = id.String()
	entries, err := os.ReadDir(filepath.Join(dir, "Société-1", hex[:2]))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after one put, want 1 (temporary file left behind?)", len(entries))
	}
}

// TestLeftoverTemporaryFile simulates a crash in the middle of a write: the temporary file
// is there, the block is not. The store must never return the partial block, and must
// clean the file up once it is old enough not to be a write in progress.
func TestLeftoverTemporaryFile(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const org = parsec.OrganizationID("Org-1")
	id := parsec.NewBlockID()
	hex := id.String()
	blockDir := filepath.Join(dir, string(org), hex[:2])
	if err := os.MkdirAll(blockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(blockDir, tempPrefix+hex+"-crashed")
	fresh := filepath.Join(blockDir, tempPrefix+hex+"-inprogress")
	for _, name := range []string{stale, fresh} {
		if err := os.WriteFile(name, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleAfter)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}

	// Ignored while it is there.
	if _, err := s.Get(t.Context(), org, id); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("get with only a temporary file: error %v, want kind %v", err, parsec.NotFound)
	}
	if err := s.Delete(t.Context(), org, id); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("delete with only a temporary file: error %v, want kind %v", err, parsec.NotFound)
	}
	s.Close()

	// Cleaned up on the next start, unless it may belong to a write in progress.
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale temporary file still there after Open (stat: %v)", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("recent temporary file removed by Open: %v", err)
	}

	// A later write of the block is unaffected.
	if err := s.Put(t.Context(), org, id, []byte("complete")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(t.Context(), org, id); err != nil || string(got) != "complete" {
		t.Errorf("get: %q, %v; want %q", got, err, "complete")
	}
}

// tempFiles lists the temporary files under dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), tempPrefix) {
			out = append(out, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPutBatchLeavesNoTemporaryFile(t *testing.T) {
	for _, fsyncEach := range []bool{false, true} {
		t.Run(fmt.Sprintf("fsyncEach=%v", fsyncEach), func(t *testing.T) {
			defer func(v bool) { testOnlyFsyncEach = v }(testOnlyFsyncEach)
			testOnlyFsyncEach = fsyncEach
			dir := t.TempDir()
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			blocks := make([]blockstore.Block, 100)
			for i := range blocks {
				blocks[i] = blockstore.Block{ID: parsec.NewBlockID(), Data: largeBlock(fmt.Sprint("block ", i))}
			}
			if err := s.PutBatch(t.Context(), "Org-1", blocks); err != nil {
				t.Fatal(err)
			}
			for _, b := range blocks {
				hex := b.ID.String()
				got, err := os.ReadFile(filepath.Join(dir, "Org-1", hex[:2], hex))
				if err != nil || !bytes.Equal(got, b.Data) {
					t.Fatalf("block %s: %q, %v; want %q", hex, got, err, b.Data)
				}
			}
			if tmp := tempFiles(t, dir); len(tmp) != 0 {
				t.Errorf("temporary files left behind: %v", tmp)
			}
		})
	}
}

// TestPutBatchFailure makes one block of a batch impossible to write (its directory is a
// file): the batch fails, none of its blocks appears, blocks stored before are unchanged
// and no temporary file is left.
func TestPutBatchFailure(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const org = parsec.OrganizationID("Org-1")
	// The doomed block's directory (named by its ID's first byte) is made unwritable; the
	// block stored before lies elsewhere: its ID is random, as an earlier build made it
	// (the blocks made here follow each other and share their first byte).
	doomed := parsec.NewBlockID()
	existing := parsec.BlockID(parsec.NewUserID())
	for existing.String()[:2] == doomed.String()[:2] {
		existing = parsec.BlockID(parsec.NewUserID())
	}
	if err := s.Put(t.Context(), org, existing, []byte("before")); err != nil {
		t.Fatal(err)
	}
	blocks := make([]blockstore.Block, 200)
	for i := range blocks {
		// Small and large: the small ones are stored after the large ones, so not at all.
		size := 1000
		if i%2 == 0 {
			size = maxPacked + 1
		}
		// Random IDs (as earlier builds made them), spread over the directories: those
		// made here would all share the doomed block's.
		blocks[i] = blockstore.Block{ID: parsec.BlockID(parsec.NewUserID()), Data: bytes.Repeat([]byte{byte(i)}, size)}
	}
	blocks = append(blocks, blockstore.Block{ID: existing, Data: largeBlock("after")})
	blocks = append(blocks[:100], append([]blockstore.Block{{ID: doomed, Data: largeBlock("x")}}, blocks[100:]...)...)
	blocker := filepath.Join(dir, string(org), doomed.String()[:2])
	os.RemoveAll(blocker)
	if err := os.MkdirAll(filepath.Dir(blocker), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBatch(t.Context(), org, blocks); err == nil {
		t.Fatal("put batch succeeded with a block that cannot be written")
	}
	for _, b := range blocks {
		switch _, err := s.Get(t.Context(), org, b.ID); {
		case b.ID == existing:
		case b.ID.String()[:2] == doomed.String()[:2]:
			if err == nil {
				t.Errorf("block %s of the failed batch, in the blocked directory, is readable", b.ID)
			}
		case !parsec.IsKind(err, parsec.NotFound):
			t.Errorf("block %s of the failed batch: error %v, want kind %v", b.ID, err, parsec.NotFound)
		}
	}
	if got, err := s.Get(t.Context(), org, existing); err != nil || string(got) != "before" {
		t.Errorf("block stored before the failed batch: %q, %v; want %q", got, err, "before")
	}
	if tmp := tempFiles(t, dir); len(tmp) != 0 {
		t.Errorf("temporary files left behind: %v", tmp)
	}
}

func BenchmarkPut512KiB(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 512<<10)
	rand.Read(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := s.Put(b.Context(), "Org-1", parsec.NewBlockID(), data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet512KiB(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 512<<10)
	rand.Read(data)
	id := parsec.NewBlockID()
	if err := s.Put(b.Context(), "Org-1", id, data); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		got, err := s.Get(b.Context(), "Org-1", id)
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != len(data) {
			b.Fatalf("got %d bytes, want %d", len(got), len(data))
		}
	}
}

// BenchmarkPutBatch measures PutBatch as block_create uses it: batches of small blocks
// (many files) and of 512 KiB blocks (throughput), with one syncfs per batch or an fsync
// per file; and Put of each block of a batch, for comparison.
func BenchmarkPutBatch(b *testing.B) {
	for _, size := range []struct {
		name        string
		block, many int
	}{
		{"4KiBx1000", 4 << 10, 1000},
		{"512KiBx16", 512 << 10, 16},
	} {
		data := make([]byte, size.block)
		rand.Read(data)
		for _, mode := range []string{"syncfs", "fsync", "put"} {
			b.Run(size.name+"/"+mode, func(b *testing.B) {
				if mode == "syncfs" && !haveSyncfs {
					b.Skip("no syncfs on this system")
				}
				defer func(v bool) { testOnlyFsyncEach = v }(testOnlyFsyncEach)
				testOnlyFsyncEach = mode == "fsync"
				s, err := Open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				b.SetBytes(int64(size.block * size.many))
				blocks := make([]blockstore.Block, size.many)
				// A first batch creates the store's directories: measure the steady state.
				for i := range blocks {
					blocks[i] = blockstore.Block{ID: parsec.NewBlockID(), Data: data}
				}
				if err := s.PutBatch(b.Context(), "Org-1", blocks); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					for i := range blocks {
						blocks[i] = blockstore.Block{ID: parsec.NewBlockID(), Data: data}
					}
					if mode == "put" {
						for _, bl := range blocks {
							if err := s.Put(b.Context(), "Org-1", bl.ID, bl.Data); err != nil {
								b.Fatal(err)
							}
						}
						continue
					}
					if err := s.PutBatch(b.Context(), "Org-1", blocks); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(size.many*b.N)/b.Elapsed().Seconds(), "blocks/s")
			})
		}
	}
}

// cpuTime is the processor time (user and system) the process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPutBatchSmall compares, for blocks of several sizes, the database of small
// blocks ("packed") with one file per block ("files"), in batches as block_create makes
// them (up to 1000 blocks, about 4 MiB). It reports blocks/s and the processor time per
// block (cpu-µs/block), which the noise of a shared machine disturbs less than the time.
// This is how maxPacked was chosen.
func BenchmarkPutBatchSmall(b *testing.B) {
	for _, size := range []int{1 << 10, 4 << 10, 16 << 10, 64 << 10, 128 << 10, 256 << 10} {
		many := min(1000, (4<<20)/size)
		data := make([]byte, size)
		rand.Read(data)
		for _, mode := range []string{"packed", "files"} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, mode), func(b *testing.B) {
				maxSmall := 1 << 30
				if mode == "files" {
					maxSmall = -1
				}
				s, err := open(b.TempDir(), maxSmall)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				b.SetBytes(int64(size * many))
				blocks := make([]blockstore.Block, many)
				newBatch := func() {
					for i := range blocks {
						blocks[i] = blockstore.Block{ID: parsec.NewBlockID(), Data: data}
					}
				}
				// A first batch creates the directories and the tables: measure the steady state.
				newBatch()
				if err := s.PutBatch(b.Context(), "Org-1", blocks); err != nil {
					b.Fatal(err)
				}
				cpu := cpuTime(b)
				for b.Loop() {
					newBatch()
					if err := s.PutBatch(b.Context(), "Org-1", blocks); err != nil {
						b.Fatal(err)
					}
				}
				cpu = cpuTime(b) - cpu
				b.ReportMetric(float64(many*b.N)/b.Elapsed().Seconds(), "blocks/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(many*b.N), "cpu-µs/block")
			})
		}
	}
}

// BenchmarkGetSmall reads 4 KiB blocks, packed or one file per block, from 8 goroutines as
// block_read does, and reports the processor time per block.
func BenchmarkGetSmall(b *testing.B) {
	for _, mode := range []string{"packed", "files"} {
		b.Run(mode, func(b *testing.B) {
			maxSmall := maxPacked
			if mode == "files" {
				maxSmall = -1
			}
			s, err := open(b.TempDir(), maxSmall)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			data := make([]byte, 4<<10)
			rand.Read(data)
			blocks := make([]blockstore.Block, 1000)
			for i := range blocks {
				blocks[i] = blockstore.Block{ID: parsec.NewBlockID(), Data: data}
			}
			if err := s.PutBatch(b.Context(), "Org-1", blocks); err != nil {
				b.Fatal(err)
			}
			cpu := cpuTime(b)
			for b.Loop() {
				err := parallel(b.Context(), len(blocks), 8, func(i int) error {
					_, err := s.Get(b.Context(), "Org-1", blocks[i].ID)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			cpu = cpuTime(b) - cpu
			b.ReportMetric(float64(len(blocks)*b.N)/b.Elapsed().Seconds(), "blocks/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(len(blocks)*b.N), "cpu-µs/block")
		})
	}
}

// BenchmarkPutBatchSmallGrown puts batches of 1000 blocks of 4 KiB into a database that
// already holds 60,000: the index no longer fits SQLite's default page cache.
func BenchmarkPutBatchSmallGrown(b *testing.B) {
	s, err := Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 4<<10+40) // a 4 KiB block with its encryption overhead
	rand.Read(data)
	blocks := make([]blockstore.Block, 1000)
	put := func() {
		for i := range blocks {
			blocks[i] = blockstore.Block{ID: parsec.NewBlockID(), Data: data}
		}
		if err := s.PutBatch(b.Context(), "Org-1", blocks); err != nil {
			b.Fatal(err)
		}
	}
	for range 60 {
		put()
	}
	b.SetBytes(int64(len(data) * len(blocks)))
	cpu := cpuTime(b)
	for b.Loop() {
		put()
	}
	cpu = cpuTime(b) - cpu
	b.ReportMetric(float64(len(blocks)*b.N)/b.Elapsed().Seconds(), "blocks/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(blocks)*b.N), "cpu-µs/block")
}
