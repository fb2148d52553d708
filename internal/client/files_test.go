package client

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/manifest"
)

func TestEmptyFolders(t *testing.T) {
	folder := func(rel string) treeItem { return treeItem{rel: rel, folder: true} }
	file := func(rel string) treeItem { return treeItem{rel: rel} }
	tests := []struct {
		name  string
		items []treeItem // in walk order
		want  []string
	}{
		{"only the folders nothing lands in", []treeItem{folder("."), folder("a"), folder("a/b"), file("a/b/f"), folder("c"), file("c/g"), folder("d"), folder("d/e")}, []string{"d/e"}},
		{"an empty folder between others", []treeItem{folder("."), folder("a"), folder("b"), file("b/f")}, []string{"a"}},
		{"an empty tree is its top", []treeItem{folder(".")}, []string{"."}},
		{"a single file has none", []treeItem{file(".")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e emptyFolders
			for _, it := range tc.items {
				e.see(it)
			}
			if diff := cmp.Diff(tc.want, e.done()); diff != "" {
				t.Errorf("emptyFolders (-want +got):\n%s", diff)
			}
		})
	}
}

// An entry listed keeps its file's manifest as listed: a change not sent yet, which later
// writes edit in place, is copied.
func TestEntryKeepsTheManifestListed(t *testing.T) {
	local := &manifest.FileManifest{Size: 1}
	e := toEntry("f", "/f", &entry{base: &manifest.FileManifest{Size: 1}, local: local})
	local.Size, local.Blocks = 2, []manifest.BlockAccess{{Size: 2}}
	if e.file.Size != 1 || len(e.file.Blocks) != 0 {
		t.Errorf("the listed manifest changed with the entry's edit: size %d, %d blocks", e.file.Size, len(e.file.Blocks))
	}
}
