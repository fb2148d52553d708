package client

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEmptyFolders(t *testing.T) {
	tests := []struct {
		name string
		tree tree
		want []string
	}{
		{"only the folders nothing lands in", tree{folders: []string{".", "a", "a/b", "c", "d", "d/e"}, files: []string{"a/b/f", "c/g"}}, []string{"d/e"}},
		{"an empty tree is its top", tree{folders: []string{"."}}, []string{"."}},
		{"a single file has none", tree{files: []string{"."}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.tree.emptyFolders()); diff != "" {
				t.Errorf("emptyFolders (-want +got):\n%s", diff)
			}
		})
	}
}
