package client

import (
	"context"
	"io"
	"slices"
	"testing"

	"github.com/parsec-go/parsec/internal/manifest"
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
	w.mu.Lock()
	m, err := w.resolve(p)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	fm := m.(*manifest.FileManifest)
	bad := *fm
	bad.Blocks = slices.Clone(fm.Blocks)
	bad.Blocks[0].Digest[0] ^= 1
	discard := func() (io.WriteCloser, error) { return nopCloser{io.Discard}, nil }
	return w.c.download(ctx, w.id, []download{{fm: &bad, create: discard}, {fm: fm, create: discard}}, nil)
}
