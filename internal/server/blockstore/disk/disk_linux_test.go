package disk

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/testenv/pagecache"
)

// A large block leaves the page cache once durable, whichever way it was put, and comes
// back to it, whole, when it is opened to be sent (before it is read); its content is unchanged.
func TestBlocksLeaveThePageCache(t *testing.T) {
	for _, fsyncEach := range []bool{false, true} {
		t.Run(fmt.Sprintf("fsyncEach=%v", fsyncEach), func(t *testing.T) {
			defer func(v bool) { testOnlyFsyncEach = v }(testOnlyFsyncEach)
			testOnlyFsyncEach = fsyncEach
			dir := pagecache.Dir(t)
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			const size = 1 << 20
			block := func() []byte {
				b := make([]byte, size)
				rand.Read(b)
				return b
			}
			var blocks []blockstore.Block
			for range 4 {
				blocks = append(blocks, blockstore.Block{ID: parsec.NewBlockID(), Data: block()})
			}
			if err := s.PutBatch(t.Context(), "Org-1", blocks[:3]); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(t.Context(), "Org-1", blocks[3].ID, blocks[3].Data); err != nil {
				t.Fatal(err)
			}
			streamed := blockstore.Block{ID: parsec.NewBlockID(), Data: block()}
			if err := s.PutStream(t.Context(), "Org-1", streamed.ID, bytes.NewReader(streamed.Data), size); err != nil {
				t.Fatal(err)
			}
			blocks = append(blocks, streamed)
			for i, b := range blocks {
				hex := b.ID.String()
				name := filepath.Join(dir, "Org-1", hex[:2], hex)
				if in := pagecache.Resident(t, name, size); in != 0 {
					t.Errorf("block %d: %d bytes in the page cache once put, want none", i, in)
				}
				r, n, err := s.Open(t.Context(), "Org-1", b.ID)
				if err != nil || n != size {
					t.Fatalf("block %d: open: %d bytes, %v", i, n, err)
				}
				// Read ahead in the background: the pages count once read.
				in := 0
				for wait := time.Now().Add(10 * time.Second); in != size && time.Now().Before(wait); {
					time.Sleep(time.Millisecond)
					in = pagecache.Resident(t, name, size)
				}
				if in != size {
					t.Errorf("block %d: %d bytes in the page cache once opened, want all %d", i, in, size)
				}
				got, err := io.ReadAll(r)
				r.Close()
				if err != nil || !bytes.Equal(got, b.Data) {
					t.Errorf("block %d: read %d bytes (%v), not what was put", i, len(got), err)
				}
			}
		})
	}
}
