package client

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// The merge tests run on a workspace held in memory, over an empty local cache: the merge
// functions do not talk to the server. Its IDs are fixed, so that the order in which the merge
// visits entries (by ID) is the same on every run.
var (
	rootID    = parsec.VlobID{0x10}
	docsID    = parsec.VlobID{0x20} // /docs, holding the file as "report.txt"
	otherID   = parsec.VlobID{0x30} // /other
	fileID    = parsec.VlobID{0x40} // the file being merged
	unknownID = parsec.VlobID{0x50} // a folder this device has not received
	ourDevice = parsec.DeviceID{0x01}
	theirs    = parsec.DeviceID{0x02}
)

// label names the IDs above in test output.
func label(id parsec.VlobID) string {
	switch id {
	case rootID:
		return "/"
	case docsID:
		return "docs"
	case otherID:
		return "other"
	case fileID:
		return "file"
	case unknownID:
		return "unknown"
	}
	return "new"
}

type children = map[string]parsec.VlobID

func TestMergeChildren(t *testing.T) {
	a, b, c, d := parsec.VlobID{0xa}, parsec.VlobID{0xb}, parsec.VlobID{0xc}, parsec.VlobID{0xd}
	tests := []struct {
		name                string
		base, local, remote children
		changed             parsec.VlobID // changed here, not sent yet
		elsewhere           parsec.VlobID // in another folder here
		want                children
	}{
		{
			name: "unchanged",
			base: children{"a": a}, local: children{"a": a}, remote: children{"a": a},
			want: children{"a": a},
		},
		{
			name: "added locally",
			base: children{"a": a}, local: children{"a": a, "b": b}, remote: children{"a": a},
			want: children{"a": a, "b": b},
		},
		{
			name: "added remotely",
			base: children{"a": a}, local: children{"a": a}, remote: children{"a": a, "c": c},
			want: children{"a": a, "c": c},
		},
		{
			name: "added on both sides",
			base: children{"a": a}, local: children{"a": a, "b": b}, remote: children{"a": a, "c": c},
			want: children{"a": a, "b": b, "c": c},
		},
		{
			name: "no base: both sides count as additions",
			base: nil, local: children{"b": b}, remote: children{"c": c},
			want: children{"b": b, "c": c},
		},
		{
			name: "added on both with the same ID and name",
			base: children{}, local: children{"b": b}, remote: children{"b": b},
			want: children{"b": b},
		},
		{
			name: "added on both with the same ID under different names: the remote name wins",
			base: children{}, local: children{"mine": b}, remote: children{"theirs": b},
			want: children{"theirs": b},
		},
		{
			name: "added on both with different IDs under the same name: the local one is renamed",
			base: children{}, local: children{"r.txt": b}, remote: children{"r.txt": c},
			want: children{"r.txt": c, "r (name conflict 1).txt": b},
		},
		{
			name: "name clash without an extension",
			base: children{}, local: children{"Makefile": b}, remote: children{"Makefile": c},
			want: children{"Makefile": c, "Makefile (name conflict 1)": b},
		},
		{
			name: "name clash when the first conflict name is taken",
			base: children{}, local: children{"r.txt": b}, remote: children{"r.txt": c, "r (name conflict 1).txt": d},
			want: children{"r.txt": c, "r (name conflict 1).txt": d, "r (name conflict 2).txt": b},
		},
		{
			name: "removed locally, untouched remotely",
			base: children{"a": a, "b": b}, local: children{"a": a}, remote: children{"a": a, "b": b},
			want: children{"a": a},
		},
		{
			name: "removed remotely, untouched locally",
			base: children{"a": a, "b": b}, local: children{"a": a, "b": b}, remote: children{"a": a},
			want: children{"a": a},
		},
		{
			name: "removed remotely, changed locally: kept",
			base: children{"a": a, "b": b}, local: children{"a": a, "b": b}, remote: children{"a": a}, changed: b,
			want: children{"a": a, "b": b},
		},
		{
			name: "removed remotely, changed locally, its name taken meanwhile",
			base: children{"b": b}, local: children{"b": b}, remote: children{"b": c}, changed: b,
			want: children{"b": c, "b (name conflict 1)": b},
		},
		{
			name: "removed on both sides",
			base: children{"a": a, "b": b}, local: children{"a": a}, remote: children{"a": a},
			want: children{"a": a},
		},
		{
			name: "removed locally, renamed remotely: kept under the new name",
			base: children{"a": a, "b": b}, local: children{"a": a}, remote: children{"a": a, "b2": b},
			want: children{"a": a, "b2": b},
		},
		{
			name: "removed remotely, renamed locally: kept under the new name",
			base: children{"a": a, "b": b}, local: children{"a": a, "b2": b}, remote: children{"a": a},
			want: children{"a": a, "b2": b},
		},
		{
			name: "renamed locally only",
			base: children{"b": b}, local: children{"b2": b}, remote: children{"b": b},
			want: children{"b2": b},
		},
		{
			name: "renamed remotely only",
			base: children{"b": b}, local: children{"b": b}, remote: children{"b3": b},
			want: children{"b3": b},
		},
		{
			name: "renamed on both sides: the remote name wins",
			base: children{"b": b}, local: children{"b2": b}, remote: children{"b3": b},
			want: children{"b3": b},
		},
		{
			name: "names swapped locally",
			base: children{"a": a, "b": b}, local: children{"a": b, "b": a}, remote: children{"a": a, "b": b},
			want: children{"a": b, "b": a},
		},
		{
			name: "renamed locally onto a name added remotely: the local one is renamed",
			base: children{"a": a}, local: children{"n": a}, remote: children{"a": a, "n": c},
			want: children{"n": c, "n (name conflict 1)": a},
		},
		{
			name: "added locally under a name a remote rename took: the local one is renamed",
			base: children{"a": a}, local: children{"a": a, "n": b}, remote: children{"n": a},
			want: children{"n": a, "n (name conflict 1)": b},
		},
		{
			name: "renamed locally, moved to another folder remotely: moved",
			base: children{"a": a, "b": b}, local: children{"n": a, "b": b}, remote: children{"b": b},
			elsewhere: a,
			want:      children{"b": b},
		},
		{
			name: "renamed remotely, moved to another folder locally: moved",
			base: children{"a": a, "b": b}, local: children{"b": b}, remote: children{"n": a, "b": b},
			elsewhere: a,
			want:      children{"b": b},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mergeChildren(tc.base, tc.local, tc.remote, func(id parsec.VlobID) bool { return id == tc.changed },
				func(id parsec.VlobID) bool { return id == tc.elsewhere })
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("mergeChildren (-want +got):\n%s", diff)
			}
		})
	}
}

// mergeWorkspace returns a workspace in memory holding /docs/report.txt (fileID) and
// /other, all synced, whose clock says now.
func mergeWorkspace(t *testing.T, now parsec.DateTime) *Workspace {
	t.Helper()
	cache, err := localdb.Open(t.Context(), filepath.Join(t.TempDir(), "cache.db"), crypto.GenerateSecretKey())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	folder := func(id parsec.VlobID, parent parsec.VlobID, ch children) *entry {
		return &entry{base: &manifest.FolderManifest{Header: manifest.Header{ID: id, Parent: parent, Version: 1, Author: theirs}, Children: ch}}
	}
	return &Workspace{
		c:  &Client{clock: &parsec.FixedClock{T: now}, dev: &device.Local{DeviceID: ourDevice}, cache: cache},
		id: rootID,
		entries: map[parsec.VlobID]*entry{
			rootID:  folder(rootID, rootID, children{"docs": docsID, "other": otherID}),
			docsID:  folder(docsID, rootID, children{"report.txt": fileID}),
			otherID: folder(otherID, rootID, children{}),
		},
	}
}

// file is a version of fileID in parent holding content, in one block whose ID is the
// content itself (the tests' contents fit in 16 bytes), so that viewFile can show it.
func file(version uint64, parent parsec.VlobID, content string, updated parsec.DateTime) *manifest.FileManifest {
	var block parsec.BlockID
	copy(block[:], content)
	return &manifest.FileManifest{
		Header:    manifest.Header{ID: fileID, Parent: parent, Version: version, Author: theirs, Updated: updated},
		Size:      uint64(len(content)),
		BlockSize: manifest.DefaultBlockSize,
		Blocks:    []manifest.BlockAccess{{ID: block, Size: uint64(len(content)), Digest: crypto.Sum([]byte(content))}},
	}
}

// fileView is what a test says of a file manifest: where it is, what it holds.
type fileView struct {
	Parent  string
	Content string
	Created parsec.DateTime
	Updated parsec.DateTime
}

func viewFile(f *manifest.FileManifest) *fileView {
	v := &fileView{Parent: label(f.Parent), Created: f.Created, Updated: f.Updated}
	for _, b := range f.Blocks {
		v.Content += string(bytes.TrimRight(b.ID[:], "\x00"))
	}
	return v
}

func view(parent parsec.VlobID, content string, created, updated parsec.DateTime) *fileView {
	return &fileView{Parent: label(parent), Content: content, Created: created, Updated: updated}
}

// Times of the versions in TestMergeFile.
const (
	baseTime   parsec.DateTime = 10
	remoteTime parsec.DateTime = 20
	localTime  parsec.DateTime = 30
	mergeTime  parsec.DateTime = 100
)

func TestMergeFile(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *Workspace) // changes to the workspace before the merge
		base  *manifest.FileManifest
		local *manifest.FileManifest
		// remote is version 2 of the file (the base, when there is one, being version 1).
		remote *manifest.FileManifest

		wantLocal *fileView            // what is left to push for the file; nil: nothing
		wantCopy  map[string]*fileView // conflict copies, by folder and name
		// wantChanged lists the entries to save, by label ("new" for a conflict copy).
		wantChanged []string
	}{
		{
			name:        "remote edited, local content unchanged",
			base:        file(1, docsID, "v1", baseTime),
			local:       file(1, docsID, "v1", localTime),
			remote:      file(2, docsID, "remote", remoteTime),
			wantChanged: []string{"file"},
		},
		{
			name:        "remote edited, local moved: the move is kept on the remote content",
			base:        file(1, docsID, "v1", baseTime),
			local:       file(1, otherID, "v1", baseTime),
			remote:      file(2, docsID, "remote", remoteTime),
			wantLocal:   view(otherID, "remote", 0, remoteTime),
			wantChanged: []string{"file"},
		},
		{
			name:        "local edited, remote content unchanged",
			base:        file(1, docsID, "v1", baseTime),
			local:       file(1, docsID, "local", localTime),
			remote:      file(2, docsID, "v1", remoteTime),
			wantLocal:   view(docsID, "local", 0, localTime),
			wantChanged: []string{"file"},
		},
		{
			name:        "local edited, remote moved: the local content moves with it",
			base:        file(1, docsID, "v1", baseTime),
			local:       file(1, docsID, "local", localTime),
			remote:      file(2, otherID, "v1", remoteTime),
			wantLocal:   view(otherID, "local", 0, localTime),
			wantChanged: []string{"file"},
		},
		{
			name:        "both edited to the same content: nothing left to push",
			base:        file(1, docsID, "v1", baseTime),
			local:       file(1, docsID, "same", localTime),
			remote:      file(2, docsID, "same", remoteTime),
			wantChanged: []string{"file"},
		},
		{
			name:        "both moved, content unchanged: the remote move wins",
			base:        file(1, docsID, "v1", baseTime),
			local:       file(1, otherID, "v1", baseTime),
			remote:      file(2, rootID, "v1", remoteTime),
			wantChanged: []string{"file"},
		},
		{
			name:   "both edited: the remote keeps the entry, the local content goes to a copy beside it",
			base:   file(1, docsID, "v1", baseTime),
			local:  file(1, docsID, "local", localTime),
			remote: file(2, docsID, "remote", remoteTime),
			wantCopy: map[string]*fileView{
				"docs/report (sync conflict 1).txt": view(docsID, "local", mergeTime, localTime),
			},
			wantChanged: []string{"file", "new", "docs"},
		},
		{
			name: "both edited, first copy name taken",
			setup: func(w *Workspace) {
				w.entries[docsID].base.(*manifest.FolderManifest).Children["report (sync conflict 1).txt"] = unknownID
			},
			base:   file(1, docsID, "v1", baseTime),
			local:  file(1, docsID, "local", localTime),
			remote: file(2, docsID, "remote", remoteTime),
			wantCopy: map[string]*fileView{
				"docs/report (sync conflict 2).txt": view(docsID, "local", mergeTime, localTime),
			},
			wantChanged: []string{"file", "new", "docs"},
		},
		{
			// Dropping the move here left the entry in the folder it was moved to, its
			// parent saying another (TestMovedAndWrittenWhileWrittenElsewhere).
			name: "both edited, local moved: the move is kept on the remote content, the copy goes beside it",
			setup: func(w *Workspace) {
				// The move here: /docs no longer names the file, /other does.
				w.entries[docsID].local = &manifest.FolderManifest{Header: manifest.Header{ID: docsID, Parent: rootID, Version: 1}, Children: children{}}
				w.entries[otherID].local = &manifest.FolderManifest{Header: manifest.Header{ID: otherID, Parent: rootID, Version: 1}, Children: children{"report.txt": fileID}}
			},
			base:      file(1, docsID, "v1", baseTime),
			local:     file(1, otherID, "local", localTime),
			remote:    file(2, docsID, "remote", remoteTime),
			wantLocal: view(otherID, "remote", 0, remoteTime),
			wantCopy: map[string]*fileView{
				"other/report (sync conflict 1).txt": view(otherID, "local", mergeTime, localTime),
			},
			wantChanged: []string{"file", "new", "other"},
		},
		{
			name: "both edited, remote moved and renamed: the copy is named after the remote",
			setup: func(w *Workspace) {
				// The folders were merged first (pull does folders before files).
				w.entries[docsID].base.(*manifest.FolderManifest).Children = children{}
				w.entries[otherID].base.(*manifest.FolderManifest).Children = children{"moved.md": fileID}
			},
			base:   file(1, docsID, "v1", baseTime),
			local:  file(1, docsID, "local", localTime),
			remote: file(2, otherID, "remote", remoteTime),
			wantCopy: map[string]*fileView{
				"other/moved (sync conflict 1).md": view(otherID, "local", mergeTime, localTime),
			},
			wantChanged: []string{"file", "new", "other"},
		},
		{
			name:   "both edited, the remote parent is not a known folder: the copy goes to the root",
			base:   file(1, docsID, "v1", baseTime),
			local:  file(1, docsID, "local", localTime),
			remote: file(2, unknownID, "remote", remoteTime),
			wantCopy: map[string]*fileView{
				"/file " + parsec.ShortID(fileID) + " (sync conflict 1)": view(rootID, "local", mergeTime, localTime),
			},
			wantChanged: []string{"file", "new", "/"},
		},
		{
			name:   "no base, different contents: a conflict",
			local:  file(0, docsID, "local", localTime),
			remote: file(2, docsID, "remote", remoteTime),
			wantCopy: map[string]*fileView{
				"docs/report (sync conflict 1).txt": view(docsID, "local", mergeTime, localTime),
			},
			wantChanged: []string{"file", "new", "docs"},
		},
		{
			name:        "no base, same content: nothing left to push",
			local:       file(0, docsID, "same", localTime),
			remote:      file(2, docsID, "same", remoteTime),
			wantChanged: []string{"file"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := mergeWorkspace(t, mergeTime)
			if tc.setup != nil {
				tc.setup(w)
			}
			e := &entry{local: tc.local}
			if tc.base != nil {
				e.base = tc.base
			}
			w.entries[fileID] = e
			changed := w.mergeFile(e, tc.local, tc.remote)

			if e.base != manifest.Manifest(tc.remote) {
				t.Errorf("the base is %+v, want the remote version", e.base)
			}
			var local *fileView
			if e.local != nil {
				local = viewFile(e.local.(*manifest.FileManifest))
				if v := e.local.Head().Version; v != tc.remote.Version {
					t.Errorf("the local version is based on version %d, want %d", v, tc.remote.Version)
				}
			}
			if diff := cmp.Diff(tc.wantLocal, local); diff != "" {
				t.Errorf("left to push (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantCopy, conflictCopies(w)); diff != "" {
				t.Errorf("conflict copies (-want +got):\n%s", diff)
			}
			var labels []string
			for _, id := range changed {
				labels = append(labels, label(id))
			}
			slices.Sort(labels)
			want := slices.Sorted(slices.Values(tc.wantChanged))
			if diff := cmp.Diff(want, labels); diff != "" {
				t.Errorf("changed entries (-want +got):\n%s", diff)
			}
		})
	}
}

// conflictCopies finds the entries that were never synced in w's folders, by folder and name.
func conflictCopies(w *Workspace) map[string]*fileView {
	var out map[string]*fileView
	for id, e := range w.entries {
		f, ok := e.current().(*manifest.FolderManifest)
		if !ok {
			continue
		}
		for name, child := range f.Children {
			ce := w.entries[child]
			if ce == nil || ce.base != nil {
				continue
			}
			if out == nil {
				out = map[string]*fileView{}
			}
			p := label(id) + "/" + name
			if id == rootID {
				p = "/" + name
			}
			out[p] = viewFile(ce.current().(*manifest.FileManifest))
		}
	}
	return out
}

// folderView is what a test says of a folder manifest.
type folderView struct {
	Parent   string
	Children children
	Updated  parsec.DateTime
}

func TestMergeFolder(t *testing.T) {
	a, b, c := parsec.VlobID{0xa}, parsec.VlobID{0xb}, parsec.VlobID{0xc}
	docs := func(version uint64, parent parsec.VlobID, ch children, updated parsec.DateTime) *manifest.FolderManifest {
		return &manifest.FolderManifest{Header: manifest.Header{ID: docsID, Parent: parent, Version: version, Author: theirs, Updated: updated}, Children: ch}
	}
	tests := []struct {
		name                string
		base, local, remote *manifest.FolderManifest
		wantLocal           *folderView // what is left to push; nil: nothing
	}{
		{
			name:   "same change on both sides: nothing left to push",
			base:   docs(1, rootID, children{"a": a}, baseTime),
			local:  docs(1, rootID, children{"a": a, "b": b}, localTime),
			remote: docs(2, rootID, children{"a": a, "b": b}, remoteTime),
		},
		{
			name:      "children added on both sides: the local ones are left to push",
			base:      docs(1, rootID, children{"a": a}, baseTime),
			local:     docs(1, rootID, children{"a": a, "b": b}, localTime),
			remote:    docs(2, rootID, children{"a": a, "c": c}, remoteTime),
			wantLocal: &folderView{Parent: "/", Children: children{"a": a, "b": b, "c": c}, Updated: localTime},
		},
		{
			name:      "the later update time is kept",
			base:      docs(1, rootID, children{"a": a}, baseTime),
			local:     docs(1, rootID, children{"a": a, "b": b}, remoteTime),
			remote:    docs(2, rootID, children{"a": a, "c": c}, localTime),
			wantLocal: &folderView{Parent: "/", Children: children{"a": a, "b": b, "c": c}, Updated: localTime},
		},
		{
			name:      "moved locally only: the move is kept",
			base:      docs(1, rootID, children{"a": a}, baseTime),
			local:     docs(1, otherID, children{"a": a}, baseTime),
			remote:    docs(2, rootID, children{"a": a, "c": c}, remoteTime),
			wantLocal: &folderView{Parent: "other", Children: children{"a": a, "c": c}, Updated: remoteTime},
		},
		{
			name:   "moved on both sides: the remote move wins",
			base:   docs(1, rootID, children{"a": a}, baseTime),
			local:  docs(1, otherID, children{"a": a}, localTime),
			remote: docs(2, unknownID, children{"a": a}, remoteTime),
		},
		{
			name:      "no base: both sides count as additions, the remote parent wins",
			local:     docs(0, otherID, children{"b": b}, localTime),
			remote:    docs(2, rootID, children{"c": c}, remoteTime),
			wantLocal: &folderView{Parent: "/", Children: children{"b": b, "c": c}, Updated: localTime},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := mergeWorkspace(t, mergeTime)
			e := &entry{local: tc.local}
			if tc.base != nil {
				e.base = tc.base
			}
			w.entries[docsID] = e
			w.mergeFolder(e, tc.local, tc.remote)
			if e.base != manifest.Manifest(tc.remote) {
				t.Errorf("the base is %+v, want the remote version", e.base)
			}
			var local *folderView
			if e.local != nil {
				f := e.local.(*manifest.FolderManifest)
				local = &folderView{Parent: label(f.Parent), Children: f.Children, Updated: f.Updated}
				if f.Version != tc.remote.Version {
					t.Errorf("the local version is based on version %d, want %d", f.Version, tc.remote.Version)
				}
			}
			if diff := cmp.Diff(tc.wantLocal, local); diff != "" {
				t.Errorf("left to push (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMerge covers how merge dispatches a remote version by the entry's state.
func TestMerge(t *testing.T) {
	folder := func(version uint64, author parsec.DeviceID, ch children) *manifest.FolderManifest {
		return &manifest.FolderManifest{Header: manifest.Header{ID: fileID, Parent: docsID, Version: version, Author: author}, Children: ch}
	}
	ours := func(f *manifest.FileManifest) *manifest.FileManifest { f.Author = ourDevice; return f }
	a, b := parsec.VlobID{0xa}, parsec.VlobID{0xb}
	tests := []struct {
		name        string
		entry       *entry // the entry fileID before the merge; nil: unknown
		remote      manifest.Manifest
		wantBase    manifest.Manifest
		wantLocal   manifest.Manifest
		wantChanged []string
	}{
		{
			name:        "unknown entry: taken as it is",
			remote:      file(2, docsID, "remote", remoteTime),
			wantBase:    file(2, docsID, "remote", remoteTime),
			wantChanged: []string{"file"},
		},
		{
			name:      "a version not newer than the base: ignored",
			entry:     &entry{base: file(2, docsID, "v2", baseTime), local: file(2, docsID, "local", localTime)},
			remote:    file(2, docsID, "other v2", remoteTime),
			wantBase:  file(2, docsID, "v2", baseTime),
			wantLocal: file(2, docsID, "local", localTime),
		},
		{
			name:        "no local changes: the remote becomes the base",
			entry:       &entry{base: file(1, docsID, "v1", baseTime)},
			remote:      file(2, docsID, "remote", remoteTime),
			wantBase:    file(2, docsID, "remote", remoteTime),
			wantChanged: []string{"file"},
		},
		{
			name:        "our own push whose acknowledgment was lost: the later local changes stay on top",
			entry:       &entry{base: file(1, docsID, "v1", baseTime), local: file(1, docsID, "local", localTime)},
			remote:      ours(file(2, docsID, "pushed", remoteTime)),
			wantBase:    ours(file(2, docsID, "pushed", remoteTime)),
			wantLocal:   file(2, docsID, "local", localTime),
			wantChanged: []string{"file"},
		},
		{
			name:        "a file that became a folder: the remote wins",
			entry:       &entry{base: file(1, docsID, "v1", baseTime), local: file(1, docsID, "local", localTime)},
			remote:      folder(2, theirs, children{}),
			wantBase:    folder(2, theirs, children{}),
			wantChanged: []string{"file"},
		},
		{
			name:        "a file edited on both sides: merged as a file",
			entry:       &entry{base: file(1, docsID, "v1", baseTime), local: file(1, docsID, "local", localTime)},
			remote:      file(2, docsID, "remote", remoteTime),
			wantBase:    file(2, docsID, "remote", remoteTime),
			wantChanged: []string{"file", "new", "docs"},
		},
		{
			name:        "a folder changed on both sides: merged as a folder",
			entry:       &entry{base: folder(1, theirs, children{}), local: folder(1, theirs, children{"a": a})},
			remote:      folder(2, theirs, children{"b": b}),
			wantBase:    folder(2, theirs, children{"b": b}),
			wantLocal:   folder(2, theirs, children{"a": a, "b": b}),
			wantChanged: []string{"file"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := mergeWorkspace(t, mergeTime)
			if tc.entry != nil {
				w.entries[fileID] = tc.entry
			}
			id := tc.remote.Head().ID
			_, held := w.versions([]parsec.VlobID{id})[id]
			changed := w.merge(tc.remote, held)
			e := w.entries[fileID]
			if diff := cmp.Diff(tc.wantBase, e.base); diff != "" {
				t.Errorf("base (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantLocal, e.local); diff != "" {
				t.Errorf("left to push (-want +got):\n%s", diff)
			}
			var labels []string
			for _, id := range changed {
				labels = append(labels, label(id))
			}
			slices.Sort(labels)
			if diff := cmp.Diff(slices.Sorted(slices.Values(tc.wantChanged)), labels); diff != "" {
				t.Errorf("changed entries (-want +got):\n%s", diff)
			}
		})
	}
}
