package client

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

func TestAncestors(t *testing.T) {
	// a, b and c are folders whose parents loop: c's is b, b's is a, a's is c. d is in c.
	a, b, c, d := parsec.VlobID{0xa1}, parsec.VlobID{0xb1}, parsec.VlobID{0xc1}, parsec.VlobID{0xd1}
	w := mergeWorkspace(t, mergeTime)
	w.entries[fileID] = &entry{base: file(1, docsID, "v1", baseTime)}
	lost := parsec.VlobID{0x60}
	w.entries[lost] = &entry{local: &manifest.FolderManifest{Header: manifest.Header{ID: lost, Parent: unknownID}}}
	for id, parent := range map[parsec.VlobID]parsec.VlobID{a: c, b: a, c: b, d: c} {
		w.entries[id] = &entry{base: &manifest.FolderManifest{Header: manifest.Header{ID: id, Parent: parent, Version: 1}}}
	}
	tests := []struct {
		name    string
		id      parsec.VlobID
		want    []parsec.VlobID
		wantErr string
	}{
		{name: "the root", id: rootID},
		{name: "a folder of the root", id: docsID, want: []parsec.VlobID{rootID}},
		{name: "a file in a folder", id: fileID, want: []parsec.VlobID{docsID, rootID}},
		{name: "a parent not synced yet", id: lost, want: []parsec.VlobID{unknownID}},
		{name: "an entry not synced yet", id: unknownID},
		{
			name: "parents that loop", id: c, want: []parsec.VlobID{b, a},
			wantErr: "the parents of c100000 loop: c100000 → b100000 → a100000 → c100000",
		},
		{
			name: "a loop above", id: d, want: []parsec.VlobID{c, b, a},
			wantErr: "the parents of d100000 loop: d100000 → c100000 → b100000 → a100000 → c100000",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := w.ancestors(tc.id)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ancestors (-want +got):\n%s", diff)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("ancestors: %v", err)
			case tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr || parsec.KindOf(err) != parsec.Invalid):
				t.Errorf("ancestors: error %v, want %q (invalid)", err, tc.wantErr)
			}
		})
	}
}

// TestPendingInOrderWithParentLoop: a folder whose parents loop is still pushed, after the
// files.
func TestPendingInOrderWithParentLoop(t *testing.T) {
	a, b := parsec.VlobID{0xa1}, parsec.VlobID{0xb1}
	w := mergeWorkspace(t, mergeTime)
	w.entries[fileID] = &entry{local: file(0, docsID, "new", localTime)}
	w.entries[a] = &entry{local: &manifest.FolderManifest{Header: manifest.Header{ID: a, Parent: b}}}
	w.entries[b] = &entry{local: &manifest.FolderManifest{Header: manifest.Header{ID: b, Parent: a}}}
	w.edit(docsID)
	w.edit(rootID)
	got, err := w.pendingInOrder()
	if err != nil {
		t.Fatal(err)
	}
	// a and b count one folder above them each, like docs.
	want := []parsec.VlobID{fileID, docsID, a, b, rootID}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pendingInOrder (-want +got):\n%s", diff)
	}
}
