package client

import (
	"context"
	"io"
	"slices"
	"testing"

	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Resident counts the entries of the workspace pinned in memory (the others are in the local
// cache, and the last read in recent).
func (w *Workspace) Resident() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.entries)
}

// SetWriteChunk makes WriteFiles save every n files, for the test (not parallel).
func SetWriteChunk(t *testing.T, n int) {
	old := writeChunk
	writeChunk = n
	t.Cleanup(func() { writeChunk = old })
}

// SetSendChunk makes a write that sends its files as it goes send them every n files, for
// the test (not parallel).
func SetSendChunk(t *testing.T, n int) {
	old := sendChunk
	sendChunk = n
	t.Cleanup(func() { sendChunk = old })
}

// UploadParts is uploadParts with a place that records nothing: it calls placed with the
// number of files of each part.
func (w *Workspace) UploadParts(ctx context.Context, files []FileSource, size int, placed func(n int) error) (int, error) {
	return w.uploadParts(ctx, files, size, nil, func(fs []FileSource, _ []*manifest.FileManifest, _ bool) error { return placed(len(fs)) })
}

// SetListChunk makes walks read folders n entries at a time, for the test (not parallel).
func SetListChunk(t *testing.T, n int) {
	old := listChunk
	listChunk = n
	t.Cleanup(func() { listChunk = old })
}

// MkdirCancelled makes folder p in memory, then saves it with a context already ended: a
// change whose saving fails.
func (w *Workspace) MkdirCancelled(p string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	names, err := splitPath(p)
	if err != nil {
		return err
	}
	changed, _, err := w.mkdirAll(names, true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return w.save(ctx, changed, nil)
}

// SetDownloadChunk makes Download read a tree n files at a time, for the test (not
// parallel).
func SetDownloadChunk(t *testing.T, n int) {
	old := downloadChunk
	downloadChunk = n
	t.Cleanup(func() { downloadChunk = old })
}

// ReadMisdescribed reads the file at p twice in one download: first as a manifest that
// gives its first block another digest (as a member could write one), then as it is.
func (w *Workspace) ReadMisdescribed(ctx context.Context, p string) error {
	fm, err := w.fileAt(p)
	if err != nil {
		return err
	}
	bad := *fm
	bad.Blocks = slices.Clone(fm.Blocks)
	bad.Blocks[0].Digest[0] ^= 1
	discard := func() (io.WriteCloser, error) { return nopCloser{io.Discard}, nil }
	return w.c.download(ctx, w.id, []download{{fm: &bad, create: discard}, {fm: fm, create: discard}}, nil)
}

// ReadBlockTwiceDescribed reads, through a FileReader (as the mount does), the file at p
// (of two blocks at least) as a manifest that names its last block first too, with
// another digest in one of the two places (the first one when spoilFirst).
func (w *Workspace) ReadBlockTwiceDescribed(ctx context.Context, p string, spoilFirst bool) error {
	fm, err := w.fileAt(p)
	if err != nil {
		return err
	}
	bad := *fm
	bad.Blocks = slices.Clone(fm.Blocks)
	last := len(bad.Blocks) - 1
	bad.Blocks[0] = bad.Blocks[last]
	bad.Blocks[0].Offset = 0
	if spoilFirst {
		bad.Blocks[0].Digest[0] ^= 1
	} else {
		bad.Blocks[last].Digest[0] ^= 1
	}
	r := &FileReader{w: w, fm: &bad}
	_, err = r.ReadAt(ctx, make([]byte, fm.Size), 0)
	return err
}

// SpansOf returns the span size of the file at p and the sizes of its blocks.
func (w *Workspace) SpansOf(p string) (uint64, []uint64, error) {
	fm, err := w.fileAt(p)
	if err != nil {
		return 0, nil, err
	}
	sizes := make([]uint64, len(fm.Blocks))
	for i, b := range fm.Blocks {
		sizes[i] = b.Size
	}
	return fm.BlockSize, sizes, nil
}

func (w *Workspace) fileAt(p string) (*manifest.FileManifest, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, err := w.resolve(p)
	if err != nil {
		return nil, err
	}
	return m.(*manifest.FileManifest), nil
}

// RenameUnchecked names a workspace as a member's device that means harm could: without
// the checks of RenameWorkspace.
func (c *Client) RenameUnchecked(ctx context.Context, id parsec.VlobID, name string) error {
	return c.rename(ctx, id, name, false)
}

// CreateUserWithDeviceID is CreateUser, the claimer's device given the ID id (as a greeter
// meaning harm may choose it).
func (g *Greeting) CreateUserWithDeviceID(ctx context.Context, handle parsec.HumanHandle, label string, profile parsec.UserProfile, id parsec.DeviceID) (parsec.UserID, error) {
	return g.createUser(ctx, handle, label, profile, id)
}

// Held is an entry as this device holds it now, named by a folder or not: its folder and,
// for a folder, its entries.
type Held struct {
	Parent   parsec.VlobID
	Folder   bool
	Children map[string]parsec.VlobID
}

// HeldEntries lists every entry of the workspace this device holds (the local cache's, and
// those pinned in memory), removed ones included.
func (w *Workspace) HeldEntries(ctx context.Context) (map[parsec.VlobID]Held, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[parsec.VlobID]Held{}
	add := func(id parsec.VlobID, e *entry) {
		if e == nil || e.current() == nil {
			return
		}
		h := Held{Parent: e.current().Head().Parent}
		if f, ok := e.current().(*manifest.FolderManifest); ok {
			h.Folder, h.Children = true, f.Children
		}
		out[id] = h
	}
	err := w.c.cache.EachVlob(ctx, w.id, func(v localdb.Vlob) error {
		add(v.ID, w.decodeEntry(v))
		return nil
	})
	for id, e := range w.entries {
		add(id, e)
	}
	return out, err
}
