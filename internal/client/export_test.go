package client

import (
	"context"
	"testing"
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
