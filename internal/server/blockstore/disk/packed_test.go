package disk

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
)

const org = parsec.OrganizationID("Org-1")

func openStore(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// contentOf returns the content a test gives the block id at the given size: every
// block's bytes follow from its ID, so a block read back can be checked whole without
// remembering it, also after a crash.
func contentOf(id parsec.BlockID, size int) []byte {
	out := make([]byte, 0, size+sha256.Size)
	seed := sha256.Sum256(id[:])
	for len(out) < size {
		seed = sha256.Sum256(seed[:])
		out = append(out, seed[:]...)
	}
	return out[:size]
}

// wantBlock checks that (org, id) holds want, through Get and Open.
func wantBlock(t *testing.T, s *Store, id parsec.BlockID, want []byte) {
	t.Helper()
	got, err := s.Get(t.Context(), org, id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("get %s: %d bytes, want %d (%.16q…)", id, len(got), len(want), want)
	}
	rc, size, err := s.Open(t.Context(), org, id)
	if err != nil {
		t.Fatalf("open %s: %v", id, err)
	}
	defer rc.Close()
	got, err = io.ReadAll(rc)
	if err != nil || size != int64(len(want)) || !bytes.Equal(got, want) {
		t.Fatalf("open %s: size %d, %d bytes read (%v); want %d", id, size, len(got), err, len(want))
	}
}

// fileOf says whether the block has a file of its own.
func fileOf(t *testing.T, s *Store, id parsec.BlockID) bool {
	t.Helper()
	_, file := s.blockPath(org, id)
	_, err := os.Stat(file)
	return err == nil
}

// TestPackedOrFile: a batch mixing small and large blocks stores each where its size says
// (up to maxPacked bytes in the database, beyond in a file), and reads them all back.
func TestPackedOrFile(t *testing.T) {
	s := openStore(t, t.TempDir())
	sizes := []int{0, 1, 4 << 10, maxPacked - 1, maxPacked, maxPacked + 1, 512 << 10}
	var blocks []blockstore.Block
	for range 3 {
		for _, size := range sizes {
			id := parsec.NewBlockID()
			blocks = append(blocks, blockstore.Block{ID: id, Data: contentOf(id, size)})
		}
	}
	rand.Shuffle(len(blocks), func(i, j int) { blocks[i], blocks[j] = blocks[j], blocks[i] })
	if err := s.PutBatch(t.Context(), org, blocks); err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		wantBlock(t, s, b.ID, b.Data)
		if got, want := fileOf(t, s, b.ID), len(b.Data) > maxPacked; got != want {
			t.Errorf("block of %d bytes: in a file %v, want %v", len(b.Data), got, want)
		}
	}
}

// TestPutAgain: putting the same blocks again, by every means, is harmless.
func TestPutAgain(t *testing.T) {
	s := openStore(t, t.TempDir())
	var blocks []blockstore.Block
	for _, size := range []int{10, 4 << 10, maxPacked + 1} {
		id := parsec.NewBlockID()
		blocks = append(blocks, blockstore.Block{ID: id, Data: contentOf(id, size)})
	}
	for i := range 3 {
		if err := s.PutBatch(t.Context(), org, blocks); err != nil {
			t.Fatalf("put batch #%d: %v", i+1, err)
		}
		for _, b := range blocks {
			if err := s.Put(t.Context(), org, b.ID, b.Data); err != nil {
				t.Fatalf("put #%d: %v", i+1, err)
			}
			if err := s.PutStream(t.Context(), org, b.ID, bytes.NewReader(b.Data), int64(len(b.Data))); err != nil {
				t.Fatalf("put stream #%d: %v", i+1, err)
			}
		}
	}
	for _, b := range blocks {
		wantBlock(t, s, b.ID, b.Data)
	}
	var n int
	if err := s.small.reader.QueryRowContext(t.Context(), `SELECT count(*) FROM blocks`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d rows in the database of small blocks, want 2", n)
	}
}

// TestChangeOfSize overwrites one block with blocks of alternating sizes, by each way of
// putting, so that it moves between the database and a file: the last one put is always the
// one read, and a delete removes it from both places.
func TestChangeOfSize(t *testing.T) {
	s := openStore(t, t.TempDir())
	id := parsec.NewBlockID()
	puts := map[string]func(data []byte) error{
		"put":       func(data []byte) error { return s.Put(t.Context(), org, id, data) },
		"put batch": func(data []byte) error { return s.PutBatch(t.Context(), org, []blockstore.Block{{ID: id, Data: data}}) },
		"put stream": func(data []byte) error {
			return s.PutStream(t.Context(), org, id, bytes.NewReader(data), int64(len(data)))
		},
	}
	for _, how := range []string{"put", "put batch", "put stream"} {
		for i, size := range []int{100, maxPacked + 100, 200, maxPacked + 200, 300} {
			data := bytes.Repeat([]byte{byte(i)}, size)
			if err := puts[how](data); err != nil {
				t.Fatalf("%s of %d bytes: %v", how, size, err)
			}
			wantBlock(t, s, id, data)
		}
	}
	// Both places hold the block: an earlier large one is still in its file, hidden.
	if err := s.Put(t.Context(), org, id, largeBlock("large")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), org, id, []byte("small")); err != nil {
		t.Fatal(err)
	}
	wantBlock(t, s, id, []byte("small"))
	if err := s.Delete(t.Context(), org, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), org, id); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("get after delete: error %v, want kind %v", err, parsec.NotFound)
	}
	if fileOf(t, s, id) {
		t.Error("the hidden file of the block survived its deletion")
	}
	if err := s.Delete(t.Context(), org, id); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("second delete: error %v, want kind %v", err, parsec.NotFound)
	}
}

// TestOneFilePerBlockStore: a store written before small blocks were packed (one file per
// block, however small) is read, overwritten and deleted as it is, with no migration.
func TestOneFilePerBlockStore(t *testing.T) {
	dir := t.TempDir()
	old := make(map[parsec.BlockID][]byte)
	for _, size := range []int{0, 5, 4 << 10, 300 << 10} {
		id := parsec.BlockID(parsec.NewUserID()) // random, as block IDs were made then
		old[id] = contentOf(id, size)
		hex := id.String()
		file := filepath.Join(dir, string(org), hex[:2], hex)
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, old[id], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := openStore(t, dir)
	for id, data := range old {
		wantBlock(t, s, id, data)
	}
	ids := slices.Collect(maps.Keys(old))
	got, err := s.GetMany(t.Context(), org, ids)
	if err != nil {
		t.Fatalf("get the blocks together: %v", err)
	}
	for i, id := range ids {
		if !bytes.Equal(got[i], old[id]) {
			t.Errorf("get the blocks together: block of %d bytes read as %d bytes", len(old[id]), len(got[i]))
		}
	}
	for id, data := range old {
		if len(data) == 5 {
			if err := s.Put(t.Context(), org, id, []byte("new")); err != nil {
				t.Fatal(err)
			}
			wantBlock(t, s, id, []byte("new"))
		}
		if err := s.Delete(t.Context(), org, id); err != nil {
			t.Fatalf("delete a block of %d bytes: %v", len(data), err)
		}
		if _, err := s.Get(t.Context(), org, id); !parsec.IsKind(err, parsec.NotFound) {
			t.Errorf("get a deleted block of %d bytes: error %v, want kind %v", len(data), err, parsec.NotFound)
		}
	}
}

func TestRefusesTheDatabaseAsOrganization(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, o := range []parsec.OrganizationID{packedFile, packedFile + "-wal", packedFile + "-shm"} {
		if err := s.Put(t.Context(), o, parsec.NewBlockID(), largeBlock("x")); !parsec.IsKind(err, parsec.Invalid) {
			t.Errorf("put in organization %q: error %v, want kind %v", o, err, parsec.Invalid)
		}
	}
}

// TestConcurrentSizes puts and reads blocks of both kinds from many goroutines, some of them
// overwriting the same blocks with another size: a read always gets one whole version.
func TestConcurrentSizes(t *testing.T) {
	s := openStore(t, t.TempDir())
	shared := make([]parsec.BlockID, 8)
	for i := range shared {
		shared[i] = parsec.NewBlockID()
	}
	// Version v of a shared block: small if v is even, large if odd, bytes all v.
	version := func(v int) []byte {
		size := 1000
		if v%2 == 1 {
			size = maxPacked + 1000
		}
		return bytes.Repeat([]byte{byte(v)}, size)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 6 {
		wg.Go(func() {
			for round := range 10 {
				// Own blocks, mixed sizes, read back at once.
				var blocks []blockstore.Block
				for i := range 20 {
					id := parsec.NewBlockID()
					size := 100 * (i + 1)
					if i%5 == 0 {
						size += maxPacked
					}
					blocks = append(blocks, blockstore.Block{ID: id, Data: contentOf(id, size)})
				}
				v := 2*round + w%2
				blocks = append(blocks, blockstore.Block{ID: shared[(w+round)%len(shared)], Data: version(v)})
				if err := s.PutBatch(t.Context(), org, blocks); err != nil {
					errs <- err
					return
				}
				for _, b := range blocks[:20] {
					got, err := s.Get(t.Context(), org, b.ID)
					if err != nil || !bytes.Equal(got, b.Data) {
						errs <- fmt.Errorf("get %s right after its put: %d bytes, %v", b.ID, len(got), err)
						return
					}
				}
				for _, id := range shared {
					got, err := s.Get(t.Context(), org, id)
					if parsec.IsKind(err, parsec.NotFound) {
						continue
					}
					if err != nil || len(got) == 0 || !bytes.Equal(got, version(int(got[0]))) {
						errs <- fmt.Errorf("get shared %s: %d bytes, %v: not one whole version", id, len(got), err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestWALTornAtCrash copies the store's files as a crash could leave them, the log cut in
// the middle of the last transaction, and opens the copy: the batches committed before are
// whole, the cut one is absent or whole, and nothing else is there.
func TestWALTornAtCrash(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	batch := func(n int) []blockstore.Block {
		var blocks []blockstore.Block
		for i := range n {
			id := parsec.NewBlockID()
			blocks = append(blocks, blockstore.Block{ID: id, Data: contentOf(id, 1000+i*97)})
		}
		return blocks
	}
	first, last := batch(50), batch(50)
	if err := s.PutBatch(t.Context(), org, first); err != nil {
		t.Fatal(err)
	}
	wal := filepath.Join(dir, packedFile+"-wal")
	info, err := os.Stat(wal)
	if err != nil {
		t.Fatal(err)
	}
	committed := info.Size()
	if err := s.PutBatch(t.Context(), org, last); err != nil {
		t.Fatal(err)
	}
	info, err = os.Stat(wal)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size() <= committed {
		t.Fatalf("the log did not grow with the second batch (%d bytes, then %d): checkpointed?", committed, info.Size())
	}
	for _, cut := range []int64{committed, committed + 100, (committed + info.Size()) / 2, info.Size() - 1, info.Size()} {
		t.Run(fmt.Sprint(cut-committed), func(t *testing.T) {
			crashed := t.TempDir()
			for _, name := range []string{packedFile, packedFile + "-wal"} {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if name != packedFile {
					data = data[:cut]
				}
				if err := os.WriteFile(filepath.Join(crashed, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c := openStore(t, crashed)
			checkIntegrity(t, c)
			for _, b := range first {
				wantBlock(t, c, b.ID, b.Data)
			}
			var present int
			for _, b := range last {
				got, err := c.Get(t.Context(), org, b.ID)
				switch {
				case parsec.IsKind(err, parsec.NotFound):
				case err != nil || !bytes.Equal(got, b.Data):
					t.Fatalf("block of the cut batch: %d bytes, %v; want absent or whole", len(got), err)
				default:
					present++
				}
			}
			if present != 0 && present != len(last) {
				t.Errorf("%d of the %d blocks of the cut batch are there: want all or none", present, len(last))
			}
			if cut == info.Size() && present == 0 {
				t.Error("the whole log is there, but not the last batch")
			}
		})
	}
}

// checkIntegrity runs SQLite's own check of the database of small blocks.
func checkIntegrity(t *testing.T, s *Store) {
	t.Helper()
	var res string
	if err := s.small.reader.QueryRowContext(t.Context(), `PRAGMA integrity_check`).Scan(&res); err != nil {
		t.Fatal(err)
	}
	if res != "ok" {
		t.Fatalf("integrity check of the database of small blocks: %s", res)
	}
}

// crashChildEnv makes the test binary, run by TestKilledMidBatch, the process it kills.
const crashChildEnv = "PARSEC_TEST_DISK_CRASH_CHILD"

// TestKilledMidBatch kills a process (SIGKILL) that puts batches of small and large blocks,
// several times, at random moments, then opens the store: every block whose batch was
// acknowledged is there and whole, and every other block is absent or whole.
func TestKilledMidBatch(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	dir := t.TempDir()
	acked := make(map[parsec.BlockID]int)
	for run := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKilledMidBatch$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The child prints "ack <id> <size>" for each block of a batch PutBatch returned nil
		// for. It is killed after a random number of batches, most likely in the middle of
		// one (it never waits between two).
		sc := bufio.NewScanner(out)
		killAfter := 1 + rand.IntN(8)
		batches := 0
		for sc.Scan() {
			var hexID string
			var size int
			if line := sc.Text(); line == "batch" {
				if batches++; batches == killAfter {
					cmd.Process.Kill()
				}
				continue
			} else if _, err := fmt.Sscanf(line, "ack %s %d", &hexID, &size); err != nil {
				t.Fatalf("child printed %q", line)
			}
			id, err := hex.DecodeString(hexID)
			if err != nil {
				t.Fatal(err)
			}
			acked[parsec.BlockID(id)] = size
		}
		if err := cmd.Wait(); err == nil {
			t.Fatalf("run %d: the child ended before it was killed", run)
		}
	}
	s := openStore(t, dir)
	checkIntegrity(t, s)
	for id, size := range acked {
		wantBlock(t, s, id, contentOf(id, size))
	}
	// Whatever else is there (blocks of the batches cut short) is whole.
	rows, err := s.small.reader.QueryContext(t.Context(), `SELECT id, data FROM blocks`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	extra := 0
	for rows.Next() {
		var id, data []byte
		if err := rows.Scan(&id, &data); err != nil {
			t.Fatal(err)
		}
		if want := contentOf(parsec.BlockID(id), len(data)); !bytes.Equal(data, want) {
			t.Errorf("block %x in the database is not whole", id)
		}
		if _, ok := acked[parsec.BlockID(id)]; !ok {
			extra++
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged blocks, all there; %d more small blocks of unacknowledged batches, whole", len(acked), extra)
}

// crashChild puts batches in the store in dir until it is killed, printing what it was
// told is durable.
func crashChild(t *testing.T, dir string) {
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(os.Stdout)
	for {
		var blocks []blockstore.Block
		for i := range 200 {
			id := parsec.NewBlockID()
			size := 1 + rand.IntN(8<<10)
			if i%20 == 0 {
				size = maxPacked + 1 + rand.IntN(64<<10)
			}
			blocks = append(blocks, blockstore.Block{ID: id, Data: contentOf(id, size)})
		}
		if err := s.PutBatch(t.Context(), org, blocks); err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			fmt.Fprintln(w, "ack", b.ID, strconv.Itoa(len(b.Data)))
		}
		fmt.Fprintln(w, "batch")
		if err := w.Flush(); err != nil {
			os.Exit(0) // the parent is gone
		}
	}
}
