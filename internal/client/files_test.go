package client

import (
	"testing"

	"github.com/google/go-cmp/cmp"
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
