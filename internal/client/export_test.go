package client

import "testing"

// Resident counts the entries of the workspace held in memory (the others are in the local
// cache only).
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
