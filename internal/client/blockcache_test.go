package client_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/testenv"
)

// keptBlocks is the folder where u's device keeps the blocks it read (EnableBlockCache),
// one folder per workspace.
func keptBlocks(u *testenv.User) string {
	return filepath.Join(u.ConfigDir, "data", u.Device.DeviceID.String(), "blocks")
}

// Blocks read are kept on the device: read again without the server, checked again (a
// damaged one is read from the server anew), and never beyond the size limit.
func TestBlockCache(t *testing.T) {
	p := newPeople(t)
	_, aw, bw, _ := shared(t, p)
	big := bytes.Repeat([]byte("block cache "), 300_000) // 3.6 MB: several blocks
	write(t, aw, map[string][]byte{"/big.bin": big, "/other.bin": bytes.Repeat([]byte("x"), 2<<20)})
	syncWS(t, aw)
	syncWS(t, bw)
	p.bc.EnableBlockCache(8 << 20)
	dir := keptBlocks(p.bob)
	cached := func() (n int, size int64, files []string) {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				info, _ := d.Info()
				n, size, files = n+1, size+info.Size(), append(files, path)
			}
			return nil
		})
		return
	}
	if got := read(t, bw, "/big.bin"); !bytes.Equal(got, big) {
		t.Fatal("big.bin read back differs")
	}
	n, size, files := cached()
	if n == 0 || size < int64(len(big)) {
		t.Fatalf("%d blocks, %d bytes cached, want all of big.bin", n, size)
	}

	// The server no longer gives blocks: what was kept still reads.
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdBlockRead {
			return []byte("not a reply")
		}
		return reply
	}
	if got := read(t, bw, "/big.bin"); !bytes.Equal(got, big) {
		t.Error("big.bin read from the cache differs")
	}
	p.srv.Lie = nil

	// A damaged block is not used: read from the server again, and kept again.
	os.WriteFile(files[0], []byte("damaged block"), 0o600)
	if got := read(t, bw, "/big.bin"); !bytes.Equal(got, big) {
		t.Error("big.bin read with a damaged cached block differs")
	}
	if data, err := os.ReadFile(files[0]); err != nil || bytes.Equal(data, []byte("damaged block")) {
		t.Errorf("the damaged block was not replaced: %v", err)
	}

	// Over the limit, the least recently used go.
	p.bc.EnableBlockCache(4 << 20)
	read(t, bw, "/other.bin")
	if _, size, _ := cached(); size > 4<<20 {
		t.Errorf("%d bytes cached, over the 4 MiB limit", size)
	}
}

// A server that answers a block asked for with another block of the same file, one the
// device kept, is lying: the read fails as tampering (the client crashed on the piece left
// without its block).
func TestCachedBlockSentForAnother(t *testing.T) {
	p := newPeople(t)
	_, aw, bw, _ := shared(t, p)
	two := bytes.Repeat([]byte("two blocks "), 60_000) // 660 kB: two blocks
	write(t, aw, map[string][]byte{"/two.bin": two})
	syncWS(t, aw)
	syncWS(t, bw)
	p.bc.EnableBlockCache(8 << 20)
	var first protocol.BlockReadRep
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdBlockRead {
			if err := protocol.DecodeReply(reply, &first); err != nil {
				t.Error(err)
			}
		}
		return reply
	}
	if got := read(t, bw, "/two.bin"); !bytes.Equal(got, two) {
		t.Fatal("two.bin read back differs")
	}
	if len(first.Blocks) != 2 {
		t.Fatalf("the first read asked for %d blocks, want 2", len(first.Blocks))
	}
	kept, dropped := first.Blocks[0], first.Blocks[1]
	dir := keptBlocks(p.bob)
	matches, _ := filepath.Glob(filepath.Join(dir, "*", dropped.BlockID.String()))
	if len(matches) != 1 {
		t.Fatalf("block %s kept as %v, want one file", dropped.BlockID, matches)
	}
	if err := os.Remove(matches[0]); err != nil {
		t.Fatal(err)
	}
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd != protocol.CmdBlockRead {
			return reply
		}
		lie, err := protocol.OK(protocol.BlockReadRep{Blocks: []protocol.BlockItem{kept}, NeededRealmCertificateTimestamp: first.NeededRealmCertificateTimestamp})
		if err != nil {
			t.Error(err)
		}
		return lie
	}
	wantKind(t, "a kept block sent for the one asked", bw.ReadFile(t.Context(), "/two.bin", io.Discard), parsec.Tampered)
}

// A block kept on the device, read again after the workspace's key was rotated, is checked
// against the new key once (checkNoLaterKey): its file then records that key, so that the
// reads after it check nothing more (every read from the cache paid the check again).
func TestBlockCacheRecordsLaterCheck(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, aw, bw, _ := shared(t, p)
	content := bytes.Repeat([]byte("kept, then checked against key 2 "), 1000)
	write(t, bw, map[string][]byte{"/f": content})
	syncWS(t, bw)
	syncWS(t, aw)
	p.ac.EnableBlockCache(8 << 20)
	if got := read(t, aw, "/f"); !bytes.Equal(got, content) {
		t.Fatal("/f read back differs")
	}
	files, _ := filepath.Glob(filepath.Join(keptBlocks(p.alice), id.String(), "*"))
	if len(files) != 1 {
		t.Fatalf("kept %v, want one block", files)
	}
	header := func() (index, checked uint64) {
		data, err := os.ReadFile(files[0])
		if err != nil || len(data) < 16 {
			t.Fatalf("kept block: %d bytes, %v", len(data), err)
		}
		return binary.BigEndian.Uint64(data) &^ (1 << 63), binary.BigEndian.Uint64(data[8:])
	}
	if index, checked := header(); index != 1 || checked != 1 {
		t.Fatalf("kept as key %d checked up to %d, want 1 and 1", index, checked)
	}
	if _, rotated, err := p.ac.UnshareWorkspace(ctx, id, p.mallory.Device.UserID); err != nil || !rotated {
		t.Fatalf("unshare: rotated %v, %v", rotated, err)
	}
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdBlockRead {
			return []byte("not a reply")
		}
		return reply
	}
	if got := read(t, aw, "/f"); !bytes.Equal(got, content) {
		t.Fatal("/f read from the cache after the rotation differs")
	}
	if index, checked := header(); index != 1 || checked != 2 {
		t.Errorf("after a read checked against key 2, kept as key %d checked up to %d, want 1 and 2", index, checked)
	}
	if got := read(t, aw, "/f"); !bytes.Equal(got, content) {
		t.Fatal("/f read from the cache again differs")
	}
}
