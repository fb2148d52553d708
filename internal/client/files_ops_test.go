package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// Where a copy or a move lands: one rule for every interface.
func TestLanding(t *testing.T) {
	p := newPeople(t)
	_, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/dir/file.txt": []byte("x")})
	if err := aw.Mkdir(t.Context(), "/empty", false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		dst      string
		isFolder bool
		want     string
		wantKind parsec.Kind
	}{
		{"into an existing folder", "/dir", false, "/dir/a.txt", 0},
		{"into an existing folder written with a slash", "/dir/", true, "/dir/a.txt", 0},
		{"into the root", "/", false, "/a.txt", 0},
		{"a file replaces a file", "/dir/file.txt", false, "/dir/file.txt", 0},
		{"a folder cannot replace a file", "/dir/file.txt", true, "", parsec.Exists},
		{"a file written as a folder", "/dir/file.txt/", false, "", parsec.Invalid},
		{"a new name", "/dir/new.txt", false, "/dir/new.txt", 0},
		{"a new folder written with a slash", "/dir/sub/", false, "/dir/sub/a.txt", 0},
		{"a path is cleaned", "dir//./b.txt", false, "/dir/b.txt", 0},
		{"below a file", "/dir/file.txt/x", false, "", parsec.Invalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := aw.Landing(tc.dst, "a.txt", tc.isFolder)
			if tc.wantKind != 0 {
				wantKind(t, "Landing", err, tc.wantKind)
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Landing(%q) = %q, %v; want %q", tc.dst, got, err, tc.want)
			}
		})
	}
}

// localTree writes files under a new folder and returns the folder.
func localTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "reports")
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "empty", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkDownloaded checks that a tree localTree made came back into dir: its files byte for
// byte, and its empty folders.
func checkDownloaded(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || string(got) != want {
			t.Errorf("%s downloaded as %d bytes, %v; want %d bytes", name, len(got), err, len(want))
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "empty", "deeper")); err != nil || !fi.IsDir() {
		t.Errorf("the empty folder did not come back: %v", err)
	}
}

// A tree is downloaded as it is walked, a few files at a time (two here): every file and
// empty folder comes back, the progress knows the whole size from the start, and the
// blocks are asked for chunk by chunk, never the whole tree's at once.
func TestDownloadTreeByChunks(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, bw, _ := shared(t, p)
	files := map[string]string{"a.txt": "a", "b.txt": "bb", "sub/c.txt": "ccc", "sub/deep/d.txt": "dddd",
		"sub/deep/e.bin": strings.Repeat("e", 600<<10)}
	size := int64(0)
	for _, content := range files {
		size += int64(len(content))
	}
	if _, err := bw.Upload(ctx, localTree(t, files), "/", client.CopyOptions{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	client.SetDownloadChunk(t, 2)
	var reads atomic.Int32
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdBlockRead {
			reads.Add(1)
		}
		return reply
	}
	var mu sync.Mutex
	var last int64
	var totals []int64
	out := t.TempDir()
	res, err := aw.Download(ctx, "/reports", out, client.CopyOptions{Recursive: true, Progress: func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		last, totals = max(last, done), append(totals, total)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(client.CopyResult{Files: 5, Bytes: size, Path: filepath.Join(out, "reports")}, res); diff != "" {
		t.Errorf("Download result (-want +got):\n%s", diff)
	}
	checkDownloaded(t, filepath.Join(out, "reports"), files)
	if last != size {
		t.Errorf("progress ended at %d, want %d", last, size)
	}
	for _, total := range totals {
		if total != size {
			t.Fatalf("progress told a total of %d, want %d from the start", total, size)
		}
	}
	if n := reads.Load(); n < 3 {
		t.Errorf("the blocks of 5 files were read in %d request(s), want one per chunk of 2 (3 or more)", n)
	}
}

// A local tree goes up and comes back byte for byte, with progress reported to the total;
// another member sees it; what is not a regular file is skipped with a warning.
func TestUploadDownload(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, _, _, _ := shared(t, p)
	var mu sync.Mutex
	var warnings []string
	bw := openWorkspace(t, p.bob, id, client.Options{Warn: func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		warnings = append(warnings, msg)
	}})

	files := map[string]string{"q1.txt": "first quarter", "sub/q2.txt": "second", "sub/deep/big.bin": strings.Repeat("b", 700<<10)}
	local := localTree(t, files)
	if err := syscall.Mkfifo(filepath.Join(local, "pipe"), 0o644); err != nil {
		t.Fatal(err)
	}
	var last, total int64
	o := client.CopyOptions{Recursive: true, Progress: func(done, all int64) {
		mu.Lock()
		defer mu.Unlock()
		last, total = max(last, done), all
	}}
	res, err := bw.Upload(ctx, local, "/", o)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(files["q1.txt"]) + len(files["sub/q2.txt"]) + len(files["sub/deep/big.bin"]))
	if diff := cmp.Diff(client.CopyResult{Files: 3, Bytes: size, Path: "/reports"}, res); diff != "" {
		t.Errorf("Upload result (-want +got):\n%s", diff)
	}
	if last != size || total != size {
		t.Errorf("progress ended at %d of %d, want %d of %d", last, total, size, size)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "pipe") {
		t.Errorf("warnings = %q, want one about the named pipe", warnings)
	}
	if bw.NeedSync() {
		t.Error("the upload was not sent")
	}

	// Alice downloads it into an existing folder: it lands under its name, empty folders too.
	aw, err := p.ac.Workspace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res, err = aw.Download(ctx, "/reports", out, client.CopyOptions{Recursive: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Files != 3 || res.Bytes != size || res.Path != filepath.Join(out, "reports") {
		t.Errorf("Download result = %+v", res)
	}
	checkDownloaded(t, filepath.Join(out, "reports"), files)

	// One file to a new local name; a folder without Recursive; missing things.
	one := filepath.Join(t.TempDir(), "copy.txt")
	if _, err := aw.Download(ctx, "/reports/q1.txt", one, client.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(one); string(got) != files["q1.txt"] {
		t.Errorf("single file downloaded as %q", got)
	}
	_, err = aw.Download(ctx, "/reports", t.TempDir(), client.CopyOptions{})
	wantKind(t, "downloading a folder without Recursive", err, parsec.Invalid)
	_, err = aw.Download(ctx, "/nothing", t.TempDir(), client.CopyOptions{})
	wantKind(t, "downloading nothing", err, parsec.NotFound)
	_, err = aw.Download(ctx, "/reports/q1.txt", filepath.Join(t.TempDir(), "missing")+"/", client.CopyOptions{})
	wantKind(t, "downloading into a missing folder", err, parsec.NotFound)
	_, err = aw.Download(ctx, "/reports", one, client.CopyOptions{Recursive: true})
	wantKind(t, "downloading a folder onto a file", err, parsec.Exists)
	_, err = bw.Upload(ctx, local, "/", client.CopyOptions{})
	wantKind(t, "uploading a folder without Recursive", err, parsec.Invalid)
	_, err = bw.Upload(ctx, filepath.Join(local, "nothing"), "/", client.CopyOptions{})
	wantKind(t, "uploading nothing", err, parsec.NotFound)
	_, err = bw.Upload(ctx, filepath.Join(local, "pipe"), "/", client.CopyOptions{})
	wantKind(t, "uploading a named pipe", err, parsec.Invalid)
}

// Copies within a workspace share contents and replace nothing; copies between workspaces
// stream the files; both are one change each, written a chunk of files at a time as the
// tree is walked (one file here).
func TestCopyWithinAndBetween(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, _, _ := shared(t, p)
	client.SetWriteChunk(t, 1)
	files := map[string][]byte{"/tree/a.txt": []byte("alpha"), "/tree/sub/b.bin": randomBytes(600 << 10)}
	write(t, aw, files)
	if err := aw.Mkdir(ctx, "/tree/hollow", false); err != nil {
		t.Fatal(err)
	}
	syncWS(t, aw)

	res, err := aw.Copy(ctx, "/tree", aw, "/backup", client.CopyOptions{Recursive: true})
	if err != nil || res.Path != "/backup" || res.Files != 2 {
		t.Fatalf("Copy within = %+v, %v", res, err)
	}
	if got := read(t, aw, "/backup/sub/b.bin"); !bytes.Equal(got, files["/tree/sub/b.bin"]) {
		t.Error("the copy within the workspace reads differently")
	}
	_, err = aw.Copy(ctx, "/tree/a.txt", aw, "/backup/a.txt", client.CopyOptions{})
	wantKind(t, "a copy within replacing a file", err, parsec.Exists)

	other := createWorkspace(t, p.ac, "Other")
	res, err = aw.Copy(ctx, "/tree", other, "/", client.CopyOptions{Recursive: true})
	if err != nil || res.Path != "/tree" || res.Files != 2 || res.Bytes != int64(5+600<<10) {
		t.Fatalf("Copy between = %+v, %v", res, err)
	}
	for name, want := range files {
		if got := read(t, other, name); !bytes.Equal(got, want) {
			t.Errorf("%s copied between workspaces reads %d bytes, want %d", name, len(got), len(want))
		}
	}
	if e, err := other.Stat("/tree/hollow"); err != nil || !e.IsFolder {
		t.Errorf("the empty folder was not copied: %+v, %v", e, err)
	}
	// Between workspaces, files are replaced as new versions.
	if _, err := aw.Copy(ctx, "/tree/a.txt", other, "/tree/a.txt", client.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	if e, _ := other.Stat("/tree/a.txt"); e.Version != 2 {
		t.Errorf("replaced file at version %d, want 2", e.Version)
	}

	// Move lands the same way: into an existing folder, under its name.
	if got, err := other.Move(ctx, "/tree/a.txt", "/tree/sub", false); err != nil || got != "/tree/sub/a.txt" {
		t.Fatalf("Move = %q, %v", got, err)
	}
	if _, err := other.Move(ctx, "/tree/sub/a.txt", "/tree/sub/b.bin", false); !parsec.IsKind(err, parsec.Exists) {
		t.Errorf("Move onto a file: %v, want an Exists error", err)
	}
}

// Change checks the rule before any work, keeps a noSync change on the device, and sends
// the others.
func TestChange(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, aw, bw, mw := shared(t, p)

	called := false
	err := mw.Change(ctx, false, func() error { called = true; return nil })
	if called || !parsec.IsKind(err, parsec.Permission) || err.Error() != `you are a reader of workspace "Docs": you cannot change it` {
		t.Errorf("a reader's change: called %v, %v", called, err)
	}
	info, err := mw.Info(ctx)
	if err != nil || info.Writable() == nil {
		t.Errorf("a reader's workspace is writable: %+v, %v", info, err)
	}

	if err := bw.Change(ctx, true, func() error { return bw.Mkdir(ctx, "/later", false) }); err != nil {
		t.Fatal(err)
	}
	if !bw.NeedSync() {
		t.Error("a noSync change was sent")
	}
	syncWS(t, aw)
	if _, err := aw.Stat("/later"); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("alice sees bob's noSync change: %v", err)
	}
	// The next change sends both.
	if err := bw.Change(ctx, false, func() error { return bw.Mkdir(ctx, "/now", false) }); err != nil {
		t.Fatal(err)
	}
	syncWS(t, aw)
	for _, name := range []string{"/later", "/now"} {
		if _, err := aw.Stat(name); err != nil {
			t.Errorf("alice does not see %s: %v", name, err)
		}
	}
	// f's error stops the change.
	wantKind(t, "a failing change", bw.Change(ctx, false, func() error { return bw.Mkdir(ctx, "/now", false) }), parsec.Exists)

	// An archived workspace is read-only for its owner too.
	if err := p.ac.ArchiveWorkspace(ctx, id, certif.ArchivingArchived, 0); err != nil {
		t.Fatal(err)
	}
	err = aw.Change(ctx, false, func() error { return nil })
	if !parsec.IsKind(err, parsec.Permission) || !strings.Contains(err.Error(), "is archived") {
		t.Errorf("a change of an archived workspace: %v", err)
	}
	wantKind(t, "archiving an archived workspace", p.ac.ArchiveWorkspace(ctx, id, certif.ArchivingArchived, 0), parsec.Exists)
}

// The read operations receive the changes first, or read the history.
func TestListAtAndReadFileAt(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/f.txt": []byte("one")})
	syncWS(t, aw)
	h, err := aw.History(ctx, "/f.txt")
	if err != nil || len(h) != 1 {
		t.Fatalf("History = %v, %v", h, err)
	}
	write(t, aw, map[string][]byte{"/f.txt": []byte("two"), "/g.txt": []byte("g")})
	syncWS(t, aw)

	entries, err := bw.ListAt(ctx, "/", 0)
	names := func(es []client.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Name)
		}
		return out
	}
	if err != nil || !slices.Equal(names(entries), []string{"f.txt", "g.txt"}) {
		t.Errorf("ListAt now = %v, %v", names(entries), err)
	}
	entries, err = bw.ListAt(ctx, "/", h[0].Timestamp)
	if err != nil || !slices.Equal(names(entries), []string{"f.txt"}) {
		t.Errorf("ListAt then = %v, %v", names(entries), err)
	}
	for at, want := range map[parsec.DateTime]string{0: "two", h[0].Timestamp: "one"} {
		var b bytes.Buffer
		if err := bw.ReadFileAt(ctx, "/f.txt", at, &b); err != nil || b.String() != want {
			t.Errorf("ReadFileAt(%v) = %q, %v; want %q", at, b.String(), err, want)
		}
	}
	if got := p.bc.Author(h[0].Author); got != "Alice <alice@example.com> @ laptop" {
		t.Errorf("Author = %q", got)
	}
	if got := p.bc.Author(parsec.NewDeviceID()); !strings.HasPrefix(got, "device ") {
		t.Errorf("Author of an unknown device = %q", got)
	}
}

// SyncAll sends what waits on the device, gives a new key where someone left, and says so.
func TestSyncAll(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, aw, bw, _ := shared(t, p)
	if err := bw.Change(ctx, true, func() error { return bw.Mkdir(ctx, "/waiting", false) }); err != nil {
		t.Fatal(err)
	}
	var events []client.SyncEvent
	collect := func(ev client.SyncEvent) { events = append(events, ev) }
	if err := p.bc.SyncAll(ctx, nil, collect); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Workspace.ID != id || events[0].Err != nil || events[0].NewKey || bw.NeedSync() {
		t.Fatalf("bob's SyncAll: events %+v, need sync %v", events, bw.NeedSync())
	}

	// A manager removes mallory: alice's next SyncAll gives the workspace a new key.
	if err := p.ac.ShareWorkspace(ctx, id, p.bob.Device.UserID, parsec.RoleManager); err != nil {
		t.Fatal(err)
	}
	poll(t, p.bc)
	if key, rotated, err := p.bc.UnshareWorkspace(ctx, id, p.mallory.Device.UserID); err != nil || rotated || key != 1 {
		t.Fatalf("a manager's unshare: key %d, rotated %v, %v; want the key unchanged", key, rotated, err)
	}
	poll(t, p.ac)
	events = nil
	if err := p.ac.SyncAll(ctx, []parsec.VlobID{id}, collect); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || !events[0].NewKey || events[0].Workspace.KeyIndex != 2 {
		t.Fatalf("alice's SyncAll after mallory left: %+v", events)
	}
	if _, err := aw.Stat("/waiting"); err != nil {
		t.Errorf("alice does not see bob's folder: %v", err)
	}

	events = nil
	err := p.ac.SyncAll(ctx, []parsec.VlobID{parsec.NewVlobID()}, collect)
	wantKind(t, "SyncAll of an unknown workspace", err, parsec.NotFound)
	if len(events) != 0 {
		t.Errorf("events for an unknown workspace: %+v", events)
	}
}

func TestFreeName(t *testing.T) {
	p := newPeople(t)
	_, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/d/report.pdf": []byte("1"), "/d/report (copy 1).pdf": []byte("2")})
	for in, want := range map[string]string{
		"/d/report.pdf":   "/d/report (copy 2).pdf",
		"/d/other.pdf":    "/d/other.pdf",
		"/new/report.pdf": "/new/report.pdf",
	} {
		if got, err := aw.FreeName(in); err != nil || got != want {
			t.Errorf("FreeName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestMoveTo(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/tree/a.txt": []byte("alpha")})
	syncWS(t, aw)
	otherID, err := p.ac.CreateWorkspace(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	other, err := p.ac.Workspace(ctx, otherID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := aw.MoveTo(ctx, "/tree", other, "/", client.CopyOptions{Recursive: true})
	if err != nil || res.Path != "/tree" {
		t.Fatalf("MoveTo = %+v, %v", res, err)
	}
	if got := read(t, other, "/tree/a.txt"); string(got) != "alpha" {
		t.Errorf("moved file reads %q", got)
	}
	if _, err := aw.Stat("/tree"); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("the source is still there: %v", err)
	}
	// Within one workspace, a move.
	if res, err := other.MoveTo(ctx, "/tree/a.txt", other, "/", client.CopyOptions{}); err != nil || res.Path != "/a.txt" {
		t.Errorf("MoveTo within = %+v, %v", res, err)
	}
}

// TestMovedToWhileChangedElsewhere: alice moves /tree from Docs to another workspace while
// bob writes /tree/a.txt in Docs, after alice's copy read it. Before, the removal that ends
// the move received bob's version, then removed it with the tree: the copy had alice's
// content, and bob's was left in the history only. Now the tree is not removed when it
// changed while it was copied (the move says so): bob's content stays at /tree/a.txt.
func TestMovedToWhileChangedElsewhere(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/tree/a.txt": []byte("alpha")})
	syncWS(t, aw)
	syncWS(t, bw)
	otherID, err := p.ac.CreateWorkspace(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	other, err := p.ac.Workspace(ctx, otherID)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	_, err = aw.MoveTo(ctx, "/tree", other, "/", client.CopyOptions{Recursive: true, Progress: func(done, total int64) {
		if done == total { // read and uploaded
			once.Do(func() {
				write(t, bw, map[string][]byte{"/tree/a.txt": []byte("bob's edit")})
				syncWS(t, bw)
			})
		}
	}})
	wantKind(t, "MoveTo", err, parsec.Conflict)
	if got := read(t, other, "/tree/a.txt"); string(got) != "alpha" {
		t.Errorf("the copy reads %q, want alpha", got)
	}
	syncWS(t, aw)
	syncWS(t, bw)
	for who, w := range map[string]*client.Workspace{"alice": aw, "bob": bw} {
		if got := read(t, w, "/tree/a.txt"); string(got) != "bob's edit" {
			t.Errorf("%s reads /tree/a.txt: %q, want bob's edit", who, got)
		}
	}
}

// A copy of a tree within a workspace is saved a chunk of entries at a time (two here) as
// it goes, so that what it holds in memory does not grow with the tree; it lands whole.
func TestCopyWithinSavedByChunks(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, aw, _, _ := shared(t, p)
	files := map[string][]byte{"/src/a": []byte("a"), "/src/b": []byte("b"), "/src/sub/c": []byte("c"), "/src/sub/deep/d": []byte("d")}
	write(t, aw, files)
	db, err := localdb.Open(ctx, cachePath(p.alice), p.alice.Device.LocalKey)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before, err := db.Generation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	client.SetWriteChunk(t, 2)
	if err := aw.CopyWithin(ctx, "/src", "/copy"); err != nil {
		t.Fatal(err)
	}
	after, err := db.Generation(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 3 {
		t.Errorf("the copy of 4 files and 2 folders was saved in %d transaction(s), want one per chunk of 2 entries", after-before)
	}
	for p, want := range files {
		if got := read(t, aw, "/copy"+strings.TrimPrefix(p, "/src")); !bytes.Equal(got, want) {
			t.Errorf("the copy of %s reads %q", p, got)
		}
	}
}

// A copy within a workspace that fails after saving part of itself takes it back: it lands
// whole or not at all, and can be made again.
func TestCopyWithinTakenBack(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/src/a": []byte("a")})
	if err := aw.Mkdir(ctx, "/src"+strings.Repeat("/d", 515), true); err != nil {
		t.Fatal(err)
	}
	client.SetWriteChunk(t, 1)
	if err := aw.CopyWithin(ctx, "/src", "/copy"); err == nil || !strings.Contains(err.Error(), "folders deep") {
		t.Fatalf("copying a tree too deep: %v, want an error saying so", err)
	}
	if _, err := aw.Stat("/copy"); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("after the failed copy, /copy: %v, want nothing there", err)
	}
	if err := aw.CopyWithin(ctx, "/src/a", "/copy"); err != nil {
		t.Fatalf("copying again to the same place: %v", err)
	}
	if got := read(t, aw, "/copy"); string(got) != "a" {
		t.Errorf("/copy reads %q", got)
	}
}

// Copies between two workspaces in opposite directions at once (two GUI tabs, say) both
// finish: each holds its destination while reading its source, and they used to wait for
// each other for ever.
func TestCopiesInOppositeDirections(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, _, _ := shared(t, p)
	other := createWorkspace(t, p.ac, "Other")
	files := map[string][]byte{}
	for i := range 40 {
		files[fmt.Sprintf("/t/f%02d", i)] = randomBytes(100 << 10)
	}
	write(t, aw, files)
	write(t, other, files)
	client.SetWriteChunk(t, 2)
	done := make(chan error, 2)
	for round := range 3 {
		go func() {
			_, err := aw.Copy(ctx, "/t", other, fmt.Sprintf("/from-a-%d", round), client.CopyOptions{Recursive: true})
			done <- err
		}()
		go func() {
			_, err := other.Copy(ctx, "/t", aw, fmt.Sprintf("/from-o-%d", round), client.CopyOptions{Recursive: true})
			done <- err
		}()
		for range 2 {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("round %d: copies in opposite directions still running after 30 s", round)
			}
		}
	}
	if got := read(t, other, "/from-a-2/f39"); !bytes.Equal(got, files["/t/f39"]) {
		t.Error("the last copy reads differently")
	}
}

// createWorkspace has c create a workspace and opens it.
func createWorkspace(t *testing.T, c *client.Client, name string) *client.Workspace {
	t.Helper()
	id, err := c.CreateWorkspace(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Workspace(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A download whose context ends midway fails, whichever of its walk and its reads sees it
// first: it never reports a partial tree as copied. Here the reader waits while the walk
// goes through 400 empty folders between the first file and the last.
func TestDownloadCancelled(t *testing.T) {
	p := newPeople(t)
	_, aw, bw, _ := shared(t, p)
	local := filepath.Join(t.TempDir(), "reports")
	for i := range 400 {
		if err := os.MkdirAll(filepath.Join(local, fmt.Sprintf("b%04d", i)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"a.txt", "z.txt"} {
		if err := os.WriteFile(filepath.Join(local, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bw.Upload(t.Context(), local, "/", client.CopyOptions{Recursive: true}); err != nil {
		t.Fatal(err)
	}
	client.SetDownloadChunk(t, 1)
	for round := range 20 {
		ctx, cancel := context.WithCancel(t.Context())
		var once sync.Once
		_, err := aw.Download(ctx, "/reports", t.TempDir(), client.CopyOptions{Recursive: true, Progress: func(done, total int64) {
			once.Do(cancel)
		}})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: a download cancelled after its first file: %v, want it cancelled", round, err)
		}
	}
}

// TestRemovedWhileChangedElsewhere: alice removes a file (or a folder) while bob, not yet
// synced, writes it (or a file in it, or in a folder in it). Before, bob's sync took the
// removal and dropped his change with it: his new version, or his new file, was in no
// folder, on both devices (later, only when the change was deeper than the folder's own
// entries). Now a change not sent yet keeps what it changed and the folders above it: the
// file, or the folder, is back on both devices with bob's content (alice's removal gives
// way to it).
func TestRemovedWhileChangedElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  map[string][]byte // before, synced on both
		remove string            // alice
		write  map[string][]byte // bob, at the same time
		want   string            // where bob's content must be, on both
	}{
		{"a file removed, written", map[string][]byte{"/f": []byte("v1")}, "/f", map[string][]byte{"/f": []byte("bob's edit")}, "/f"},
		{"a folder removed, a file added in it", map[string][]byte{"/d/old": []byte("old")}, "/d", map[string][]byte{"/d/new": []byte("bob's edit")}, "/d/new"},
		{"a folder removed, a file added deeper", map[string][]byte{"/d/e/old": []byte("old")}, "/d", map[string][]byte{"/d/e/new": []byte("bob's edit")}, "/d/e/new"},
		{"a folder removed, a file deeper written", map[string][]byte{"/d/e/old": []byte("old")}, "/d", map[string][]byte{"/d/e/old": []byte("bob's edit")}, "/d/e/old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeople(t)
			_, aw, bw, _ := shared(t, p)
			write(t, aw, tc.setup)
			syncWS(t, aw)
			syncWS(t, bw)
			if err := aw.Remove(t.Context(), tc.remove, true); err != nil {
				t.Fatal(err)
			}
			write(t, bw, tc.write)
			syncWS(t, aw)
			syncWS(t, bw)
			syncWS(t, aw)
			bothRead(t, aw, bw, tc.want, "bob's edit")
		})
	}
}

// TestRemovedHereWhileChangedElsewhere: bob writes a file (or a file in a folder, or adds
// one) and syncs; alice, who has not received it, removes the file (or the folder), then
// syncs. Before, her removal went out and bob's new content was in no folder, on both
// devices (later, for a folder still). Now the change received wins over the removal not
// sent yet: the file (or the folder) is back on both devices with bob's content.
func TestRemovedHereWhileChangedElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name   string
		write  map[string][]byte // bob, synced first
		remove string            // alice, at the same time
		want   string            // where bob's content must be, on both
	}{
		{"a file written, removed", map[string][]byte{"/d/e/old": []byte("bob's edit")}, "/d/e/old", "/d/e/old"},
		{"a file added in a folder removed", map[string][]byte{"/d/new": []byte("bob's edit")}, "/d", "/d/new"},
		{"a file added deeper in a folder removed", map[string][]byte{"/d/e/new": []byte("bob's edit")}, "/d", "/d/e/new"},
		{"a file deeper in a folder removed written", map[string][]byte{"/d/e/old": []byte("bob's edit")}, "/d", "/d/e/old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeople(t)
			_, aw, bw, _ := shared(t, p)
			write(t, aw, map[string][]byte{"/d/e/old": []byte("v1")})
			syncWS(t, aw)
			syncWS(t, bw)
			write(t, bw, tc.write)
			syncWS(t, bw)
			if err := aw.Remove(t.Context(), tc.remove, true); err != nil {
				t.Fatal(err)
			}
			syncWS(t, aw)
			syncWS(t, bw)
			bothRead(t, aw, bw, tc.want, "bob's edit")
		})
	}
}

// TestMovedToTwoFolders: alice moves /x/f to /y while bob moves it to /z. Before, after
// their syncs both devices showed it in /y and in /z, one entry in two folders (the first
// move won the file's own place, and /z kept naming it). Now the first move wins and /z
// gives it up.
func TestMovedToTwoFolders(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, bw, _ := shared(t, p)
	for _, d := range []string{"/x", "/y", "/z"} {
		if err := aw.Mkdir(ctx, d, false); err != nil {
			t.Fatal(err)
		}
	}
	write(t, aw, map[string][]byte{"/x/f": []byte("v1")})
	syncWS(t, aw)
	syncWS(t, bw)
	if err := aw.Rename(ctx, "/x/f", "/y/f"); err != nil {
		t.Fatal(err)
	}
	if err := bw.Rename(ctx, "/x/f", "/z/f"); err != nil {
		t.Fatal(err)
	}
	syncWS(t, aw)
	syncWS(t, bw)
	syncWS(t, aw)
	bothHold(t, aw, bw, "/y/f")
}

// TestMovedWhileChangedElsewhere: alice moves /f to /d/g while bob writes /f. The change
// follows the move: both devices have /d/g with bob's content, and nothing left at /f (the
// rule that keeps an entry removed elsewhere but changed here must not keep a moved one).
func TestMovedWhileChangedElsewhere(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, bw, _ := shared(t, p)
	if err := aw.Mkdir(ctx, "/d", false); err != nil {
		t.Fatal(err)
	}
	write(t, aw, map[string][]byte{"/f": []byte("v1")})
	syncWS(t, aw)
	syncWS(t, bw)
	if err := aw.Rename(ctx, "/f", "/d/g"); err != nil {
		t.Fatal(err)
	}
	write(t, bw, map[string][]byte{"/f": []byte("bob's edit")})
	syncWS(t, aw)
	syncWS(t, bw)
	syncWS(t, aw)
	for who, w := range map[string]*client.Workspace{"alice": aw, "bob": bw} {
		files, err := filesOf(w)
		if err != nil || !slices.Equal(files, []string{"/d/g"}) {
			t.Errorf("%s's files: %v, %v; want /d/g alone", who, files, err)
		}
		var got bytes.Buffer
		if err := w.ReadFile(ctx, "/d/g", &got); err != nil || got.String() != "bob's edit" {
			t.Errorf("%s reads /d/g: %q, %v", who, got.String(), err)
		}
	}
}

// TestFolderMovedWhileFilledElsewhere: alice moves folder /d into /e while bob adds a file in
// /d. Whatever order the folders merge in, /d ends in /e alone, with bob's file (the rule
// that keeps an entry removed elsewhere but changed here must not keep a moved folder in
// its old place too).
func TestFolderMovedWhileFilledElsewhere(t *testing.T) {
	for range 4 { // the folders' IDs, drawn anew each time, set the order they merge in
		p := newPeople(t)
		ctx := t.Context()
		_, aw, bw, _ := shared(t, p)
		write(t, aw, map[string][]byte{"/d/old": []byte("old"), "/e/x": []byte("x")})
		syncWS(t, aw)
		syncWS(t, bw)
		if err := aw.Rename(ctx, "/d", "/e/d"); err != nil {
			t.Fatal(err)
		}
		write(t, bw, map[string][]byte{"/d/new": []byte("bob's file")})
		syncWS(t, aw)
		syncWS(t, bw)
		syncWS(t, aw)
		bothHold(t, aw, bw, "/e/d/new", "/e/d/old", "/e/x")
	}
}

// TestRenamedWhileMovedElsewhere: alice renames /x/f to /x/g, in the same folder, while bob
// moves /x/f to /y/f (a file, or a folder holding one), whichever syncs first. Before,
// after their syncs both devices showed the entry in /x as g and in /y as f, one entry in
// two folders: the rename changed /x only, which kept the entry under its new name (a
// rename wins over a removal), and /y named it too. Now the move wins: /y/f alone.
func TestRenamedWhileMovedElsewhere(t *testing.T) {
	for _, folder := range []bool{false, true} {
		for _, aliceFirst := range []bool{true, false, true, false} { // twice: the IDs drawn set the order folders merge in
			p := newPeople(t)
			ctx := t.Context()
			_, aw, bw, _ := shared(t, p)
			f, want := "/x/f", []string{"/y/f", "/y/o"}
			if folder {
				f, want = "/x/f/in", []string{"/y/f/in", "/y/o"}
			}
			write(t, aw, map[string][]byte{f: []byte("v1"), "/y/o": []byte("o")})
			syncWS(t, aw)
			syncWS(t, bw)
			if err := aw.Rename(ctx, "/x/f", "/x/g"); err != nil {
				t.Fatal(err)
			}
			if err := bw.Rename(ctx, "/x/f", "/y/f"); err != nil {
				t.Fatal(err)
			}
			first, second := aw, bw
			if !aliceFirst {
				first, second = bw, aw
			}
			syncWS(t, first)
			syncWS(t, second)
			syncWS(t, first)
			for who, w := range map[string]*client.Workspace{"alice": aw, "bob": bw} {
				if files, err := filesOf(w); err != nil || !slices.Equal(files, want) {
					t.Errorf("a folder %v, alice first %v: %s's files: %v, %v; want %v", folder, aliceFirst, who, files, err, want)
				}
			}
		}
	}
}

// filesOf lists the paths of the files of a workspace, in the walk's order.
func filesOf(w *client.Workspace) ([]string, error) {
	var files []string
	err := w.WalkEach("/", func(e client.Entry) error {
		if !e.IsFolder {
			files = append(files, e.Path)
		}
		return nil
	})
	return files, err
}

// bothRead checks that alice's and bob's devices read want at path p.
func bothRead(t *testing.T, aw, bw *client.Workspace, p, want string) {
	t.Helper()
	for who, w := range map[string]*client.Workspace{"alice": aw, "bob": bw} {
		var got bytes.Buffer
		if err := w.ReadFile(t.Context(), p, &got); err != nil || got.String() != want {
			t.Errorf("%s reads %s: %q, %v; want %q", who, p, got.String(), err, want)
		}
	}
}

// bothHold checks that alice's and bob's devices hold the files want (sorted), and no other.
func bothHold(t *testing.T, aw, bw *client.Workspace, want ...string) {
	t.Helper()
	for who, w := range map[string]*client.Workspace{"alice": aw, "bob": bw} {
		files, err := filesOf(w)
		slices.Sort(files)
		if err != nil || !slices.Equal(files, want) {
			t.Errorf("%s's files: %v, %v; want %v", who, files, err, want)
		}
	}
}

// TestFoldersMovedIntoEachOther: alice moves /a into /b while bob moves /b into /a. Before,
// after their syncs both folders had left the root, each inside the other, and their files
// could not be reached on either device. Now the move received wins and the one made here
// is undone: both devices have /b/a, with every file.
func TestFoldersMovedIntoEachOther(t *testing.T) {
	for range 3 { // the folders' IDs, drawn anew each time, set the order they merge in
		p := newPeople(t)
		ctx := t.Context()
		_, aw, bw, _ := shared(t, p)
		write(t, aw, map[string][]byte{"/a/fa": []byte("A"), "/b/fb": []byte("B")})
		syncWS(t, aw)
		syncWS(t, bw)
		if err := aw.Rename(ctx, "/a", "/b/a"); err != nil {
			t.Fatal(err)
		}
		if err := bw.Rename(ctx, "/b", "/a/b"); err != nil {
			t.Fatal(err)
		}
		syncWS(t, aw)
		syncWS(t, bw)
		syncWS(t, aw)
		bothHold(t, aw, bw, "/b/a/fa", "/b/fb")
	}
}

// TestMovedAndWrittenWhileWrittenElsewhere: bob moves /p/a into /p/q and writes it while
// alice writes /p/a. Before, bob's sync kept alice's version in the entry, its parent /p
// too (the move was dropped with bob's content, which became a conflict copy), while /p/q
// still named it: a file in /p/q whose parent was /p, on both devices. Now the move stays
// with the entry, the conflict copy beside it: /p/q/a with alice's content, /p/q/a (sync
// conflict 1) with bob's.
func TestMovedAndWrittenWhileWrittenElsewhere(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/p/a": []byte("v1"), "/p/q/b": []byte("b")})
	syncWS(t, aw)
	syncWS(t, bw)
	if err := bw.Rename(ctx, "/p/a", "/p/q/a"); err != nil {
		t.Fatal(err)
	}
	write(t, bw, map[string][]byte{"/p/q/a": []byte("bob's edit")})
	write(t, aw, map[string][]byte{"/p/a": []byte("alice's edit")})
	syncWS(t, aw)
	syncWS(t, bw)
	syncWS(t, aw)
	want := map[string]string{"/p/q/a": "alice's edit", "/p/q/a (sync conflict 1)": "bob's edit", "/p/q/b": "b"}
	for who, w := range map[string]*client.Workspace{"alice": aw, "bob": bw} {
		got := map[string]string{}
		files, err := filesOf(w)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			got[f] = string(read(t, w, f))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s's files (-want +got):\n%s", who, diff)
		}
		e, err := w.Stat("/p/q/a")
		if err != nil {
			t.Fatal(err)
		}
		if up, err := w.PathOf(e.ID); err != nil || up != "/p/q/a" {
			t.Errorf("%s: /p/q/a's own parent gives the path %q, %v", who, up, err)
		}
	}
}

// TestChangedAndRemovedHereWhileChangedElsewhere: bob adds a file in /d (or writes /d/f)
// and syncs; alice, who has not received it, changes the same entry too (a file added in
// /d, /d/f written), then removes it, and syncs. Before, the change received was lost
// (in no folder, on both devices): a removal not sent gave way to it only when the entry
// had no change here. Now it does either way: /d (or /d/f) is back, with bob's content.
func TestChangedAndRemovedHereWhileChangedElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name   string
		bob    string // the file bob writes, synced first
		alice  string // the file alice writes, before removing remove
		remove string
		want   string // what must be bob's, on both
	}{
		{"a folder", "/d/bob", "/d/alice", "/d", "/d/bob"},
		{"a file", "/d/f", "/d/f", "/d/f", "/d/f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeople(t)
			_, aw, bw, _ := shared(t, p)
			write(t, aw, map[string][]byte{"/d/f": []byte("v1")})
			syncWS(t, aw)
			syncWS(t, bw)
			write(t, bw, map[string][]byte{tc.bob: []byte("bob's edit")})
			syncWS(t, bw)
			write(t, aw, map[string][]byte{tc.alice: []byte("alice's edit")})
			if err := aw.Remove(t.Context(), tc.remove, true); err != nil {
				t.Fatal(err)
			}
			syncWS(t, aw)
			syncWS(t, bw)
			bothRead(t, aw, bw, tc.want, "bob's edit")
		})
	}
}

// TestFoldersMovedIntoEachOtherThroughAnother: folders moved into each other through
// another folder, one move on each device. Before, the loop check saw only a folder changed
// here moved into one moved here: after the syncs the folders had left the root, each
// inside the next, and their files could not be reached (found by TestSyncConverges, seeds
// 158 and 263). Alice's /p, unchanged on bob's device, or the folder alice made, new
// there, closed the loop on bob's. Now the move received wins and the one made here is
// undone, as when the folders are moved into each other directly.
func TestFoldersMovedIntoEachOtherThroughAnother(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		alice []string // folders made, then the move, from and to
		bob   [2]string
		want  []string
	}{
		{
			name:  "a folder unchanged there",
			files: []string{"/p/q/fq", "/r/fr"},
			alice: []string{"/p", "/r/p"},
			bob:   [2]string{"/r", "/p/q/r"},
			want:  []string{"/r/fr", "/r/p/q/fq"},
		},
		{
			name:  "a folder new there",
			files: []string{"/p/fp", "/r/s/fs"},
			alice: []string{"/r/s/a", "/p", "/r/s/a/p"},
			bob:   [2]string{"/r/s", "/p/s"},
			want:  []string{"/r/s/a/p/fp", "/r/s/fs"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 { // the folders' IDs, drawn anew each time, set the order they merge in
				p := newPeople(t)
				ctx := t.Context()
				_, aw, bw, _ := shared(t, p)
				files := map[string][]byte{}
				for _, f := range tc.files {
					files[f] = []byte(f)
				}
				write(t, aw, files)
				syncWS(t, aw)
				syncWS(t, bw)
				for _, dir := range tc.alice[:len(tc.alice)-2] {
					if err := aw.Mkdir(ctx, dir, false); err != nil {
						t.Fatal(err)
					}
				}
				if err := aw.Rename(ctx, tc.alice[len(tc.alice)-2], tc.alice[len(tc.alice)-1]); err != nil {
					t.Fatal(err)
				}
				if err := bw.Rename(ctx, tc.bob[0], tc.bob[1]); err != nil {
					t.Fatal(err)
				}
				syncWS(t, aw)
				syncWS(t, bw)
				syncWS(t, aw)
				bothHold(t, aw, bw, tc.want...)
			}
		})
	}
}

// TestMovedAndRemovedHereWhileChangedElsewhere: bob moves /p into /r, then removes /r/p,
// while alice renames /p to /d and writes /d/f in it. Before, bob's device took the folder's
// parent, still /r, for a move made here, though /r did not name it: the merge kept the
// folder in /r, which never named it, and alice's file was lost with it on both devices
// (found by TestSyncConverges, seed 71). A move then removed is a removal from the folder
// it was in, and alice's change wins over it: both have /d/f.
func TestMovedAndRemovedHereWhileChangedElsewhere(t *testing.T) {
	for _, aliceFirst := range []bool{true, false} {
		t.Run(fmt.Sprint("alice syncs first: ", aliceFirst), func(t *testing.T) {
			p := newPeople(t)
			ctx := t.Context()
			_, aw, bw, _ := shared(t, p)
			write(t, aw, map[string][]byte{"/p/a": []byte("a"), "/r/b": []byte("b")})
			syncWS(t, aw)
			syncWS(t, bw)
			if err := aw.Rename(ctx, "/p", "/d"); err != nil {
				t.Fatal(err)
			}
			write(t, aw, map[string][]byte{"/d/f": []byte("alice's file")})
			if err := bw.Rename(ctx, "/p", "/r/p"); err != nil {
				t.Fatal(err)
			}
			if err := bw.Remove(ctx, "/r/p", true); err != nil {
				t.Fatal(err)
			}
			first, second := aw, bw
			if !aliceFirst {
				first, second = bw, aw
			}
			syncWS(t, first)
			syncWS(t, second)
			syncWS(t, first)
			bothRead(t, aw, bw, "/d/f", "alice's file")
		})
	}
}

// TestChangeHereInAFolderMovedAndRemovedElsewhere: a change not sent must stay reachable
// whatever the other device did with the folders above it meanwhile, in either sync order.
// Found by TestSyncConverges (seeds 612 and 557): the change ended in an entry (or a folder
// above it) no folder named, on every device.
func TestChangeHereInAFolderMovedAndRemovedElsewhere(t *testing.T) {
	cases := []struct {
		name      string
		setup     map[string][]byte
		elsewhere func(context.Context, *client.Workspace) error // bob's, not sent
		here      map[string][]byte                              // alice's write, not sent
	}{
		{
			// Alice writes /p/q/b while bob moves it to /b, syncs, then removes /b.
			name:  "a file moved, then removed",
			setup: map[string][]byte{"/p/q/b": []byte("old")},
			elsewhere: func(ctx context.Context, w *client.Workspace) error {
				if _, err := w.Move(ctx, "/p/q/b", "/b", false); err != nil {
					return err
				}
				return w.Remove(ctx, "/b", false)
			},
			here: map[string][]byte{"/p/q/b": []byte("alice's")},
		},
		{
			// Alice adds /r/new while bob moves /r into /a, then removes /a.
			name:  "a folder moved into one removed",
			setup: map[string][]byte{"/r/x": []byte("x"), "/a/y": []byte("y")},
			elsewhere: func(ctx context.Context, w *client.Workspace) error {
				if err := w.Rename(ctx, "/r", "/a/r"); err != nil {
					return err
				}
				return w.Remove(ctx, "/a", true)
			},
			here: map[string][]byte{"/r/new": []byte("alice's")},
		},
	}
	for _, tc := range cases {
		for _, aliceFirst := range []bool{true, false} {
			t.Run(fmt.Sprint(tc.name, ", alice syncs first: ", aliceFirst), func(t *testing.T) {
				p := newPeople(t)
				_, aw, bw, _ := shared(t, p)
				write(t, aw, tc.setup)
				syncWS(t, aw)
				syncWS(t, bw)
				if err := tc.elsewhere(t.Context(), bw); err != nil {
					t.Fatal(err)
				}
				write(t, aw, tc.here)
				first, second := aw, bw
				if !aliceFirst {
					first, second = bw, aw
				}
				syncWS(t, first)
				syncWS(t, second)
				syncWS(t, first)
				for who, w := range map[string]*client.Workspace{"alice": aw, "bob": bw} {
					files, err := filesOf(w)
					if err != nil {
						t.Fatal(err)
					}
					found := false
					for _, f := range files {
						if string(read(t, w, f)) == "alice's" {
							found = true
						}
					}
					if !found {
						t.Errorf("%s's tree %v has no file with alice's content", who, files)
					}
				}
			})
		}
	}
}

// A tree holding a name the workspace cannot take is refused before anything is written,
// whether its files fit in one chunk (one walk checks and collects them) or not (a
// second walk writes them, a chunk at a time); the same tree without it lands whole,
// empty folders included.
func TestUploadChecksEveryNameFirst(t *testing.T) {
	for _, chunk := range []int{0, 2} {
		t.Run(fmt.Sprintf("chunk=%d", chunk), func(t *testing.T) {
			p := newPeople(t)
			ctx := t.Context()
			_, aw, _, _ := shared(t, p)
			if chunk > 0 {
				client.SetWriteChunk(t, chunk)
			}
			files := map[string]string{"a.txt": "a", "b/c.txt": "c", "b/d.txt": "d", "e/f.txt": "f", "z.txt": "z"}
			local := localTree(t, files)
			if err := os.MkdirAll(filepath.Join(local, "b", "hollow"), 0o755); err != nil {
				t.Fatal(err)
			}
			bad := filepath.Join(local, "e", "bad\xff.txt") // not UTF-8: no workspace name
			if err := os.WriteFile(bad, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := aw.Upload(ctx, local, "/up", client.CopyOptions{Recursive: true})
			wantKind(t, "uploading a tree with a name that is not UTF-8", err, parsec.Invalid)
			if _, err := aw.Stat("/up"); !parsec.IsKind(err, parsec.NotFound) {
				t.Errorf("after the refused upload, /up: %v, want nothing there", err)
			}
			if err := os.Remove(bad); err != nil {
				t.Fatal(err)
			}
			if _, err := aw.Upload(ctx, local, "/up", client.CopyOptions{Recursive: true}); err != nil {
				t.Fatal(err)
			}
			for name, want := range files {
				if got := string(read(t, aw, "/up/"+name)); got != want {
					t.Errorf("/up/%s reads %q, want %q", name, got, want)
				}
			}
			if e, err := aw.Stat("/up/b/hollow"); err != nil || !e.IsFolder {
				t.Errorf("the empty folder /up/b/hollow: %+v, %v", e, err)
			}
		})
	}
}
