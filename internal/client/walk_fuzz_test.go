package client

import (
	"fmt"
	"testing"

	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// FuzzFolderWalk builds a folder tree as members could write it (any folder naming any
// other, parents that need not match, cycles) and walks it: the walk must end, enter each
// folder at most once, and not panic.
func FuzzFolderWalk(f *testing.F) {
	f.Add([]byte{0, 1, 1, 2, 2, 0})       // a cycle through the root
	f.Add([]byte{0, 1, 1, 2, 2, 1})       // a cycle below the root
	f.Add([]byte{0, 1, 0, 2, 1, 3, 2, 3}) // a folder listed twice
	f.Fuzz(func(t *testing.T, edges []byte) {
		const n = 8
		ids := make([]parsec.VlobID, n)
		for i := range ids {
			ids[i][0], ids[i][15] = 1, byte(i+1)
		}
		w := &Workspace{c: &Client{}, id: ids[0], entries: map[parsec.VlobID]*entry{}}
		folders := make([]*manifest.FolderManifest, n)
		for i := range folders {
			folders[i] = &manifest.FolderManifest{Header: manifest.Header{ID: ids[i], Parent: ids[0]}, Children: map[string]parsec.VlobID{}}
			w.entries[ids[i]] = &entry{base: folders[i]}
		}
		for i := 0; i+1 < len(edges); i += 2 {
			from, to := int(edges[i])%n, int(edges[i+1])%n
			folders[from].Children[fmt.Sprint("e", i)] = ids[to]
			if edges[i]&0x80 == 0 && to != 0 {
				folders[to].Parent = ids[from]
			}
		}
		entries, err := w.walkTree("/", folders[0])
		if err != nil {
			return
		}
		if max := n * len(edges); len(entries) > max {
			t.Fatalf("walk listed %d entries for %d edges", len(entries), len(edges)/2)
		}
	})
}
