package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/testenv"
)

// files of the sizes that matter around the block size.
var sizes = map[string]int{
	"/tree/empty":        0,
	"/tree/one":          1,
	"/tree/sub/block":    512 << 10,
	"/tree/sub/block+1":  512<<10 + 1,
	"/tree/sub/deep/big": 3<<20 + 12345,
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func source(p string, data []byte) client.FileSource {
	return client.FileSource{Path: p, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

func write(t *testing.T, w *client.Workspace, files map[string][]byte) {
	t.Helper()
	var srcs []client.FileSource
	for p, data := range files {
		srcs = append(srcs, source(p, data))
	}
	if err := w.WriteFiles(t.Context(), srcs, nil); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
}

func read(t *testing.T, w *client.Workspace, p string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := w.ReadFile(t.Context(), p, &b); err != nil {
		t.Fatalf("ReadFile %s: %v", p, err)
	}
	return b.Bytes()
}

func syncWS(t *testing.T, w *client.Workspace) {
	t.Helper()
	if err := w.Sync(t.Context()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func wantKind(t *testing.T, what string, err error, kind parsec.Kind) {
	t.Helper()
	if err == nil || parsec.KindOf(err) != kind {
		t.Fatalf("%s: got %v, want an error of kind %v", what, err, kind)
	}
}

// shared creates a workspace of alice's shared with bob (CONTRIBUTOR) and mallory (READER,
// External), and returns the three views of it.
func shared(t *testing.T, p *people) (id parsec.VlobID, aw, bw, mw *client.Workspace) {
	t.Helper()
	ctx := t.Context()
	id, err := p.ac.CreateWorkspace(ctx, "Docs")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ac.ShareWorkspace(ctx, id, p.bob.Device.UserID, parsec.RoleContributor); err != nil {
		t.Fatal(err)
	}
	if err := p.ac.ShareWorkspace(ctx, id, p.mallory.Device.UserID, parsec.RoleReader); err != nil {
		t.Fatal(err)
	}
	open := func(c *client.Client) *client.Workspace {
		poll(t, c)
		w, err := c.Workspace(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	return id, open(p.ac), open(p.bc), open(p.mc)
}

// openWorkspace opens another client of u's device with opts (closed at the end of the
// test), polls its certificates, and returns its view of workspace id.
func openWorkspace(t *testing.T, u *testenv.User, id parsec.VlobID, opts client.Options) *client.Workspace {
	t.Helper()
	c, err := client.Open(t.Context(), u.ConfigDir, u.Device, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	poll(t, c)
	w, err := c.Workspace(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func TestWorkspaceRolesAndFiles(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	if _, err := p.mc.CreateWorkspace(ctx, "Mine"); parsec.KindOf(err) != parsec.Permission {
		t.Fatalf("External creating a workspace: %v, want a permission error", err)
	}
	id, aw, bw, mw := shared(t, p)

	ws, err := p.bc.Workspaces(ctx)
	if err != nil || len(ws) != 1 || ws[0].Name != "Docs" || ws[0].Role != parsec.RoleContributor || ws[0].KeyIndex != 1 {
		t.Fatalf("bob's workspaces = %+v, %v", ws, err)
	}

	files := map[string][]byte{}
	for name, n := range sizes {
		files[name] = randomBytes(n)
	}
	write(t, aw, files)
	syncWS(t, aw)
	for _, w := range []*client.Workspace{bw, mw} {
		syncWS(t, w)
		for name, want := range files {
			if got := read(t, w, name); !bytes.Equal(got, want) {
				t.Errorf("%s read back %d bytes, want the %d written", name, len(got), len(want))
			}
		}
	}
	entries, err := mw.List("/tree/sub")
	if err != nil || len(entries) != 3 || entries[0].Name != "block" || entries[1].Name != "block+1" || !entries[2].IsFolder {
		t.Fatalf("List /tree/sub = %+v, %v", entries, err)
	}

	// The reader cannot write; the External cannot become manager.
	wantKind(t, "reader writing", mw.WriteFiles(ctx, []client.FileSource{source("/x", []byte("x"))}, nil), parsec.Permission)
	wantKind(t, "reader mkdir", mw.Mkdir(ctx, "/d", false), parsec.Permission)
	if err := p.ac.ShareWorkspace(ctx, id, p.mallory.Device.UserID, parsec.RoleManager); err == nil {
		t.Fatal("an External user was made manager")
	}
	// A contributor cannot share.
	if err := p.bc.ShareWorkspace(ctx, id, p.mallory.Device.UserID, parsec.RoleContributor); err == nil {
		t.Fatal("a contributor shared the workspace")
	}

	// Bob moves and removes; alice sees it.
	if err := bw.Rename(ctx, "/tree/one", "/tree/sub/uno"); err != nil {
		t.Fatal(err)
	}
	if err := bw.Remove(ctx, "/tree/empty", false); err != nil {
		t.Fatal(err)
	}
	syncWS(t, bw)
	syncWS(t, aw)
	if got := read(t, aw, "/tree/sub/uno"); !bytes.Equal(got, files["/tree/one"]) {
		t.Errorf("moved file reads %q", got)
	}
	if _, err := aw.Stat("/tree/empty"); parsec.KindOf(err) != parsec.NotFound {
		t.Errorf("removed file: %v", err)
	}
}

func TestWorkspaceConflicts(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/notes.txt": []byte("v1")})
	syncWS(t, aw)
	syncWS(t, bw)

	// Both edit the same file; alice does not sync, bob does.
	write(t, aw, map[string][]byte{"/notes.txt": []byte("alice's edit")})
	write(t, bw, map[string][]byte{"/notes.txt": []byte("bob's edit")})
	syncWS(t, bw)
	// Both add entries to the root, one with the same name.
	if err := aw.Mkdir(ctx, "/a-only", false); err != nil {
		t.Fatal(err)
	}
	write(t, aw, map[string][]byte{"/same": []byte("alice")})
	write(t, bw, map[string][]byte{"/same": []byte("bob")})
	syncWS(t, bw)
	syncWS(t, aw)
	syncWS(t, bw)

	for _, w := range []*client.Workspace{aw, bw} {
		if got := string(read(t, w, "/notes.txt")); got != "bob's edit" {
			t.Errorf("notes.txt = %q, want bob's (pushed first)", got)
		}
		if got := string(read(t, w, "/notes (sync conflict 1).txt")); got != "alice's edit" {
			t.Errorf("conflict copy = %q, want alice's", got)
		}
		if got := string(read(t, w, "/same")); got != "bob" {
			t.Errorf("/same = %q", got)
		}
		if got := string(read(t, w, "/same (name conflict 1)")); got != "alice" {
			t.Errorf("renamed clash = %q", got)
		}
		if _, err := w.Stat("/a-only"); err != nil {
			t.Errorf("folder added by alice: %v", err)
		}
		if w.NeedSync() {
			t.Error("changes left to push after both synced")
		}
	}
}

func TestUnshareAndRevokeRotateKeys(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, aw, bw, mw := shared(t, p)
	write(t, aw, map[string][]byte{"/before": []byte("old")})
	syncWS(t, aw)
	syncWS(t, mw)

	keyIndex := func() uint64 {
		ws, err := p.ac.Workspaces(ctx)
		if err != nil || len(ws) != 1 {
			t.Fatalf("workspaces: %v %v", ws, err)
		}
		return ws[0].KeyIndex
	}
	if k := keyIndex(); k != 1 {
		t.Fatalf("key index %d", k)
	}
	if key, rotated, err := p.ac.UnshareWorkspace(ctx, id, p.mallory.Device.UserID); err != nil || !rotated || key != 2 {
		t.Fatalf("an owner's unshare: key %d, rotated %v, %v; want key 2, new", key, rotated, err)
	}
	if k := keyIndex(); k != 2 {
		t.Fatalf("key index after unshare = %d, want 2", k)
	}
	write(t, aw, map[string][]byte{"/after-unshare": []byte("secret")})
	syncWS(t, aw)
	poll(t, p.mc)
	if err := mw.Sync(ctx); parsec.KindOf(err) != parsec.Permission {
		t.Fatalf("mallory syncing after unshare: %v, want a permission error", err)
	}
	if ws, _ := p.mc.Workspaces(ctx); len(ws) != 0 {
		t.Errorf("mallory still lists %v", ws)
	}

	if err := p.ac.RevokeUser(ctx, p.bob.Device.UserID); err != nil {
		t.Fatal(err)
	}
	if k := keyIndex(); k != 3 {
		t.Fatalf("key index after revoking bob = %d, want 3", k)
	}
	write(t, aw, map[string][]byte{"/after-revoke": []byte("secret")})
	syncWS(t, aw)
	if err := bw.Sync(ctx); err == nil {
		t.Fatal("revoked bob still syncs")
	}
	if got := string(read(t, aw, "/before")); got != "old" {
		t.Errorf("old data after rotations = %q", got)
	}
}

func TestHistoryAndRestore(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, bw, _ := shared(t, p)
	var times []parsec.DateTime
	for _, v := range []string{"one", "two", "three"} {
		write(t, aw, map[string][]byte{"/f.txt": []byte(v)})
		syncWS(t, aw)
		st, err := aw.Stat("/f.txt")
		if err != nil {
			t.Fatal(err)
		}
		h, err := aw.History(ctx, "/f.txt")
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, h[len(h)-1].Timestamp)
		if st.Version != uint64(len(times)) {
			t.Fatalf("version %d after %d writes", st.Version, len(times))
		}
	}
	// History receives the workspace's changes first: bob, who never synced, sees every
	// version.
	h, err := bw.History(ctx, "/f.txt")
	if err != nil || len(h) != 3 || h[0].Author != p.alice.Device.DeviceID || h[2].Size != 5 {
		t.Fatalf("History = %+v, %v", h, err)
	}
	var b bytes.Buffer
	if err := bw.At(times[0]).ReadFile(ctx, "/f.txt", &b); err != nil || b.String() != "one" {
		t.Fatalf("f.txt at v1 = %q, %v", b.String(), err)
	}
	if _, err := bw.At(times[0]-1_000_000).List(ctx, "/"); err != nil {
		// The root existed before the first file.
		if !strings.Contains(err.Error(), "did not exist") {
			t.Fatalf("listing before the file: %v", err)
		}
	}
	if err := bw.Restore(ctx, "/f.txt", times[1]); err != nil {
		t.Fatal(err)
	}
	syncWS(t, bw)
	syncWS(t, aw)
	if got := string(read(t, aw, "/f.txt")); got != "two" {
		t.Fatalf("restored = %q", got)
	}
	if h, _ := aw.History(ctx, "/f.txt"); len(h) != 4 {
		t.Fatalf("restore did not add a version: %+v", h)
	}
}

// A folder restored from the past gets back every file and folder it held then, with their
// content of then; what was added since stays.
func TestRestoreFolder(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/docs/a.txt": []byte("a then"), "/docs/sub/b.txt": []byte("b then"), "/other.txt": []byte("other")})
	if err := aw.Mkdir(ctx, "/docs/empty", false); err != nil {
		t.Fatal(err)
	}
	syncWS(t, aw)
	var then parsec.DateTime // when every entry above had reached the server
	for _, e := range []string{"/", "/docs", "/docs/a.txt", "/docs/sub", "/docs/sub/b.txt", "/docs/empty", "/other.txt"} {
		h, err := aw.History(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		then = max(then, h[len(h)-1].Timestamp)
	}
	write(t, aw, map[string][]byte{"/docs/a.txt": []byte("a now"), "/docs/new.txt": []byte("added since")})
	if err := aw.Remove(ctx, "/docs/sub", true); err != nil {
		t.Fatal(err)
	}
	if err := aw.Remove(ctx, "/docs/empty", true); err != nil {
		t.Fatal(err)
	}
	write(t, aw, map[string][]byte{"/other.txt": []byte("other now")})
	syncWS(t, aw)

	// Restored a file at a time here, each saved: what a restore holds does not grow with
	// the folder.
	syncWS(t, bw)
	client.SetWriteChunk(t, 1)
	db, err := localdb.Open(ctx, cachePath(p.bob), p.bob.Device.LocalKey)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	before, err := db.Generation(ctx, bw.ID())
	if err != nil {
		t.Fatal(err)
	}
	if err := bw.Restore(ctx, "/docs", then); err != nil {
		t.Fatal(err)
	}
	if after, err := db.Generation(ctx, bw.ID()); err != nil || after-before < 2 {
		t.Errorf("the restore of 2 files was saved in %d transaction(s) (%v), want one per file", after-before, err)
	}
	syncWS(t, bw)
	syncWS(t, aw)
	for f, want := range map[string]string{"/docs/a.txt": "a then", "/docs/sub/b.txt": "b then", "/docs/new.txt": "added since", "/other.txt": "other now"} {
		if got := string(read(t, aw, f)); got != want {
			t.Errorf("after restoring /docs, %s = %q, want %q", f, got, want)
		}
	}
	if st, err := aw.Stat("/docs/empty"); err != nil || !st.IsFolder {
		t.Errorf("the empty folder is not back: %+v, %v", st, err)
	}
	if err := bw.Restore(ctx, "/docs/new.txt", then); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("restoring what did not exist then: %v, want NotFound", err)
	}
}

// A change saved locally survives the end of the process, and the next run pushes it; an
// upload interrupted before it was acknowledged leaves nothing behind.
func TestLocalChangesSurviveRestart(t *testing.T) {
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/kept": []byte("saved before the crash")})
	if !aw.NeedSync() {
		t.Fatal("a local write is not waiting to be pushed")
	}

	// An upload cancelled half-way is not acknowledged: no entry appears.
	ctx, cancel := context.WithCancel(t.Context())
	big := randomBytes(6 << 20)
	src := client.FileSource{Path: "/interrupted", Open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.MultiReader(bytes.NewReader(big[:3<<20]), readerFunc(func([]byte) (int, error) {
			cancel()
			return 0, context.Canceled
		}))), nil
	}}
	if err := aw.WriteFiles(ctx, []client.FileSource{src}, nil); err == nil {
		t.Fatal("an interrupted upload succeeded")
	}
	if _, err := aw.Stat("/interrupted"); parsec.KindOf(err) != parsec.NotFound {
		t.Fatalf("after an interrupted upload: %v", err)
	}

	// "Restart": a new client on the same device and cache, which pushes at its first sync.
	p.ac.Close()
	ac := p.alice.Open(t)
	poll(t, ac)
	w, err := ac.Workspace(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !w.NeedSync() {
		t.Fatal("the local change was lost with the process")
	}
	syncWS(t, w)
	syncWS(t, bw)
	if got := string(read(t, bw, "/kept")); got != "saved before the crash" {
		t.Fatalf("bob reads %q", got)
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(b []byte) (int, error) { return f(b) }

// Watch reports the other members' changes as the server announces them.
func TestWatchSeesChanges(t *testing.T) {
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	changes := make(chan client.Change, 100)
	done := make(chan error, 1)
	go func() { done <- p.bc.Watch(ctx, func(c client.Change) { changes <- c }) }()
	// The first change says "connected: anything may have changed".
	select {
	case c := <-changes:
		if c.Realm != (parsec.VlobID{}) {
			t.Fatalf("first change = %+v", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no first change")
	}
	write(t, aw, map[string][]byte{"/new": []byte("hello")})
	syncWS(t, aw)
	deadline := time.After(10 * time.Second)
	for seen := false; !seen; {
		select {
		case c := <-changes:
			seen = c.Realm == id && c.Vlob != (parsec.VlobID{})
		case <-deadline:
			t.Fatal("no vlob change announced")
		}
	}
	syncWS(t, bw)
	if got := string(read(t, bw, "/new")); got != "hello" {
		t.Fatalf("bob reads %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Watch after cancel: %v", err)
	}
}

// Two processes of one device (a watcher and a command, say) share the local cache: each
// sees what the other saved.
func TestTwoProcessesOneDevice(t *testing.T) {
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/first": []byte("1")})
	syncWS(t, aw)
	syncWS(t, bw)
	write(t, bw, map[string][]byte{"/from-bob": []byte("b")})
	syncWS(t, bw)
	other := p.alice.Open(t)
	poll(t, other)
	ow, err := other.Workspace(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	syncWS(t, ow)
	write(t, ow, map[string][]byte{"/second": []byte("2")})
	syncWS(t, ow)
	syncWS(t, aw)
	// The second process received bob's change: the first must not skip it.
	if got := string(read(t, aw, "/from-bob")); got != "b" {
		t.Fatalf("the first process reads %q", got)
	}
	if got := string(read(t, aw, "/second")); got != "2" {
		t.Fatalf("the first process reads %q", got)
	}
	if got := string(read(t, ow, "/first")); got != "1" {
		t.Fatalf("the second process reads %q", got)
	}
}

// Reading a workspace whose root has not arrived yet creates nothing to push: a reader
// stays able to sync.
func TestReaderBeforeTheRootArrives(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, err := p.ac.CreateWorkspace(ctx, "Empty")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.ac.ShareWorkspace(ctx, id, p.mallory.Device.UserID, parsec.RoleReader); err != nil {
		t.Fatal(err)
	}
	poll(t, p.mc)
	mw, err := p.mc.Workspace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if entries, err := mw.List("/"); err != nil || len(entries) != 0 {
		t.Fatalf("List / = %v, %v", entries, err)
	}
	if mw.NeedSync() {
		t.Fatal("listing the root made a change to push")
	}
	syncWS(t, mw)
}
