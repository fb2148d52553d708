package client_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// A workspace keeps its folders and files in the local cache, not in memory: written,
// pushed, received, changed on both sides at once, renamed, listed and read again after a
// restart, the files are all there while memory holds none of them between calls (but the
// few last read, see recentEntries).
func TestWorkspaceKeepsFilesInTheCache(t *testing.T) {
	client.SetWriteChunk(t, 16) // 40 files: saved in three chunks
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	files := map[string][]byte{}
	for i := range 40 {
		dir := []string{"/a", "/b/c"}[i%2]
		files[fmt.Sprintf("%s/f%02d.txt", dir, i)] = fmt.Appendf(nil, "file %d", i)
	}
	write(t, aw, files)
	const folders = 0 // pinned between calls: none
	if n := aw.Resident(); n != folders {
		t.Errorf("after writing 40 files, %d entries are in memory, want %d", n, folders)
	}
	if !aw.NeedSync() {
		t.Fatal("the files written are not waiting to be pushed")
	}
	syncWS(t, aw)
	if aw.NeedSync() || aw.Resident() != folders {
		t.Errorf("after the push: NeedSync %v, %d entries in memory", aw.NeedSync(), aw.Resident())
	}

	syncWS(t, bw)
	if n := bw.Resident(); n != folders {
		t.Errorf("after receiving 40 files, %d entries are in memory, want %d", n, folders)
	}
	list, err := bw.List("/a")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 20 || list[0].Name != "f00.txt" || list[0].Size != 6 || list[0].Version != 1 || list[0].NeedSync {
		t.Fatalf("Bob lists /a as %d entries, the first %+v", len(list), list[0])
	}
	if got := string(read(t, bw, "/b/c/f39.txt")); got != "file 39" {
		t.Errorf("Bob reads %q", got)
	}

	// Both change the same file at once: the merge reads it from the cache, and keeps both.
	write(t, aw, map[string][]byte{"/a/f00.txt": []byte("alice's")})
	write(t, bw, map[string][]byte{"/a/f00.txt": []byte("bob's")})
	syncWS(t, aw)
	syncWS(t, bw)
	if got := string(read(t, bw, "/a/f00.txt")); got != "alice's" {
		t.Errorf("the file holds %q after the conflict", got)
	}
	if got := string(read(t, bw, "/a/f00 (sync conflict 1).txt")); got != "bob's" {
		t.Errorf("the conflict copy holds %q", got)
	}

	// A rename and a removal of files not in memory.
	ctx := t.Context()
	if err := bw.Rename(ctx, "/a/f02.txt", "/b/moved.txt"); err != nil {
		t.Fatal(err)
	}
	if err := bw.Remove(ctx, "/b/c/f01.txt", false); err != nil {
		t.Fatal(err)
	}
	moved, err := bw.Stat("/b/moved.txt")
	if err != nil || !moved.NeedSync {
		t.Fatalf("Stat of the moved file: %+v, %v", moved, err)
	}
	if where, err := bw.PathOf(moved.ID); err != nil || where != "/b/moved.txt" {
		t.Errorf("PathOf the moved file = %q, %v", where, err)
	}
	syncWS(t, bw)
	syncWS(t, aw)
	if n := aw.Resident(); n != folders {
		t.Errorf("after receiving the conflict, the move and the removal, %d entries are in Alice's memory, want %d", n, folders)
	}
	at, by := bw.LastChange()

	// After a restart, the same from the cache.
	p.bc.Close()
	bc := p.bob.Open(t)
	w, err := bc.Workspace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if n := w.Resident(); n != folders {
		t.Errorf("after a restart, %d entries are in memory, want %d", n, folders)
	}
	if at2, by2 := w.LastChange(); at2 != at || by2 != by {
		t.Errorf("LastChange after a restart = %v %v, was %v %v", at2, by2, at, by)
	}
	tree, err := w.Walk("/")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range tree {
		if !e.IsFolder {
			paths = append(paths, e.Path)
		}
	}
	if len(paths) != 40 || !slices.Contains(paths, "/b/moved.txt") || slices.Contains(paths, "/b/c/f01.txt") || !slices.Contains(paths, "/a/f00 (sync conflict 1).txt") {
		t.Errorf("after a restart the tree holds %d files: %v", len(paths), paths)
	}
	if got := string(read(t, w, "/b/moved.txt")); got != "file 2" {
		t.Errorf("the moved file holds %q", got)
	}
}

// LastChange is the newest entry's last change as it is now: a file dated forward, then
// back again (touch, cp -p), no longer counts with the date it had, as it would not after a
// restart.
func TestLastChangeOfAFileDatedBack(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/a/f.txt": []byte("f")})
	f := stat(t, aw, "/a/f.txt")
	ctx := t.Context()
	if err := aw.SetUpdated(ctx, f.ID, f.Updated.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := aw.SetUpdated(ctx, f.ID, f.Updated.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	at, by := aw.LastChange()
	again, _ := openAgain(t, p.alice)
	w, err := again.Workspace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if at2, by2 := w.LastChange(); at2 != at || by2 != by {
		t.Errorf("LastChange = %v %v, after a restart %v %v", at, by, at2, by2)
	}
	if at > f.Updated {
		t.Errorf("LastChange = %v, after the newest change %v", at, f.Updated)
	}
}

// A change whose saving fails because its context ended leaves nothing behind in memory
// either: it does not appear, and nothing waits to be pushed.
func TestChangeNotSavedIsForgotten(t *testing.T) {
	p := newPeople(t)
	_, aw, _, _ := shared(t, p)
	if err := aw.MkdirCancelled("/never"); err == nil {
		t.Fatal("a save with an ended context succeeded")
	}
	if _, err := aw.Stat("/never"); parsec.KindOf(err) != parsec.NotFound {
		t.Errorf("the folder whose saving failed: Stat says %v", err)
	}
	if aw.NeedSync() {
		t.Error("the change whose saving failed waits to be pushed")
	}
}

// What another process of the device changes shows in this one's next read, without a
// sync, and never half: a folder read before the change is not kept beside entries read
// after it.
func TestReadsSeeAnotherProcessChanges(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/a/x.txt": []byte("x"), "/b/y.txt": []byte("y")})
	if list, err := aw.List("/a"); err != nil || len(list) != 1 {
		t.Fatalf("/a lists %v, %v", list, err)
	}
	other, _ := openWorkspaceAgain(t, p.alice, id)
	if err := other.Rename(t.Context(), "/a/x.txt", "/b/x.txt"); err != nil {
		t.Fatal(err)
	}
	a, err := aw.List("/a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := aw.List("/b")
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 0 || len(b) != 2 {
		t.Errorf("after another process moved /a/x.txt to /b: /a lists %d entries, /b %d; want 0 and 2", len(a), len(b))
	}
}

// A change that fails midway (a copy of two files whose second cannot be written) leaves
// nothing of itself in memory: neither this process nor the next change shows or saves a
// folder it made and did not save.
func TestFailedChangeLeavesNothingPinned(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	if err := aw.Mkdir(t.Context(), "/dir", false); err != nil {
		t.Fatal(err)
	}
	err := aw.WriteFiles(t.Context(), []client.FileSource{source("/new/a.txt", []byte("a")), source("/dir", []byte("d"))}, nil)
	if err == nil {
		t.Fatal("writing a file over a folder succeeded")
	}
	if n := aw.Resident(); n != 0 {
		t.Errorf("%d entries pinned after the failed change", n)
	}
	if err := aw.Mkdir(t.Context(), "/z", false); err != nil {
		t.Fatal(err)
	}
	for _, w := range []*client.Workspace{aw, func() *client.Workspace { w, _ := openWorkspaceAgain(t, p.alice, id); return w }()} {
		list, err := w.List("/")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range list {
			names = append(names, e.Name)
		}
		if !slices.Equal(names, []string{"dir", "z"}) {
			t.Errorf("/ lists %q, want dir and z only", names)
		}
	}
}
