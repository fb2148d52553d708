package cli

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/testenv"
)

// TestWorkspaceScenario: through the real binary and a real server process, alice shares a
// workspace with bob (contributor) and mallory (reader, External); all read alice's files
// back byte for byte; mallory can neither write, nor be made manager, nor create a
// workspace; concurrent edits of one file keep both versions; after mallory is removed and
// bob revoked, the workspace has a new key each time and they cannot read what is written
// afterwards; a manager's removal gets the new key at the owner's next sync. The server's data directory never holds a file's name or content in clear.
func TestWorkspaceScenario(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice")
	bob := w.join(alice, "bob@example.com", "Bob", "member")
	mallory := w.join(alice, "mallory@example.com", "Mallory", "external")

	// A tree with the sizes that matter around the 512 KiB block, and a marker in a file's
	// name and in a file's content.
	nameMarker, contentMarker := "name-"+newMarker(t), "content-"+newMarker(t)
	src := filepath.Join(t.TempDir(), "tree")
	files := map[string][]byte{
		"empty":                         {},
		"one":                           randomContent(t, 1),
		"sub/block":                     randomContent(t, 512<<10),
		"sub/block+1":                   randomContent(t, 512<<10+1),
		"sub/deep/big":                  randomContent(t, 5<<20+12345),
		"notes.txt":                     []byte("the original notes\n"),
		"secret " + nameMarker + ".txt": []byte("nothing to see"),
		"letter.txt":                    []byte("Dear server, " + contentMarker + ", regards.\n"),
	}
	writeTree(t, src, files)
	if err := os.MkdirAll(filepath.Join(src, "sub", "hollow"), 0o755); err != nil {
		t.Fatal(err)
	}

	id := strings.TrimSpace(w.as(alice, "workspace", "create", "Docs").ok())
	p := w.as(alice, "cp", "-r", src, "Docs:/")
	p.ok()
	wantLines(t, p.stderr.String(), `^Copied 8 file\(s\), 6\.0 MiB, to Docs:/tree\.$`)
	w.as(alice, "workspace", "share", "Docs", "bob@example.com", "--role", "contributor").ok()
	w.as(alice, "workspace", "share", "Docs", "mallory@example.com", "--role", "reader").ok()
	wantLines(t, w.as(alice, "workspace", "users", "Docs").ok(),
		`^[0-9a-f]{32}\tAlice\talice@example.com\tAdministrator\towner\tactive$`,
		`^[0-9a-f]{32}\tBob\tbob@example.com\tMember\tcontributor\tactive$`,
		`^[0-9a-f]{32}\tMallory\tmallory@example.com\tExternal\treader\tactive$`)
	wantLines(t, w.as(bob, "workspace", "list").ok(), `^`+id+` - Docs: contributor$`)
	wantLines(t, w.as(mallory, "workspace", "list").ok(), `^`+id+` - Docs: reader$`)

	// Everybody reads the tree back, byte for byte, empty folder included.
	for name, a := range map[string]account{"alice": alice, "bob": bob, "mallory": mallory} {
		dst := filepath.Join(t.TempDir(), "copy")
		w.as(a, "cp", "-r", "Docs:/tree", dst).ok()
		compareTree(t, name, dst, files)
		if fi, err := os.Stat(filepath.Join(dst, "sub", "hollow")); err != nil || !fi.IsDir() {
			t.Errorf("the empty folder sub/hollow was not copied back: %v", err)
		}
	}

	// Mallory, reader and External: no writes, no manager role, no workspace of her own.
	note := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(note, []byte("mallory was here"), 0o644); err != nil {
		t.Fatal(err)
	}
	const readerRefused = `(?m)^error: you are a reader of workspace "Docs": you cannot change it$`
	w.as(mallory, "cp", note, "Docs:/tree/").wantFailure(exitDenied, readerRefused)
	w.as(mallory, "rm", "Docs:/tree/one").wantFailure(exitDenied, readerRefused)
	w.as(mallory, "mkdir", "Docs:/mine").wantFailure(exitDenied, readerRefused)
	w.as(mallory, "mv", "Docs:/tree/one", "Docs:/tree/two").wantFailure(exitDenied, readerRefused)
	w.as(alice, "workspace", "share", "Docs", "mallory@example.com", "--role", "manager").
		wantFailure(exitDenied, `(?m)^error: an External user can only be reader or contributor, not manager$`)
	w.as(mallory, "workspace", "create", "Mine").wantFailure(exitDenied, `(?m)^error: External users cannot create workspaces$`)
	if strings.Contains(w.as(alice, "ls", "Docs:/tree").ok(), "note.txt") {
		t.Errorf("mallory's refused write shows in the workspace")
	}

	// Alice edits notes.txt without syncing while bob edits it and syncs: after both sync,
	// bob's version keeps the name, alice's is beside it, and the original is in the history.
	aliceNotes, bobNotes := localFile(t, "alice's notes\n"), localFile(t, "bob's notes\n")
	p = w.as(alice, "cp", aliceNotes, "Docs:/tree/notes.txt", "--no-sync")
	p.ok()
	wantLines(t, p.stderr.String(), `^Saved on this device only: the next sync or write sends it\.$`)
	w.as(bob, "cp", bobNotes, "Docs:/tree/notes.txt").ok()
	p = w.as(alice, "workspace", "sync")
	p.ok()
	wantLines(t, p.stderr.String(), `^Workspace "Docs" synced\.$`)
	w.as(bob, "workspace", "sync", "Docs").ok()
	for _, a := range []account{alice, bob} {
		wantLines(t, w.as(a, "ls", "Docs:/tree").ok(), `^notes\.txt$`, `^notes \(sync conflict 1\)\.txt$`)
		if got := w.as(a, "cat", "Docs:/tree/notes.txt").ok(); got != "bob's notes\n" {
			t.Errorf("notes.txt = %q, want bob's version", got)
		}
		if got := w.as(a, "cat", "Docs:/tree/notes (sync conflict 1).txt").ok(); got != "alice's notes\n" {
			t.Errorf("the conflict copy = %q, want alice's version", got)
		}
	}
	history := w.as(alice, "history", "Docs:/tree/notes.txt").ok()
	wantLines(t, history,
		`^v1\t\S+\t19\tAlice <alice@example\.com> @ laptop$`,
		`^v2\t\S+\t12\tBob <bob@example\.com> @ pc$`)
	v1 := regexp.MustCompile(`(?m)^v1\t(\S+)\t`).FindStringSubmatch(history)
	if v1 == nil {
		t.Fatalf("no v1 in the history of notes.txt:\n%s", history)
	}
	if got := w.as(bob, "cat", "Docs:/tree/notes.txt", "--at", v1[1]).ok(); got != "the original notes\n" {
		t.Errorf("notes.txt at v1's time = %q, want the original", got)
	}

	// Alice removes mallory: a new key at once; mallory reads nothing written afterwards.
	wantKeyIndex(t, w, alice, id, 1)
	p = w.as(alice, "workspace", "unshare", "Docs", "mallory@example.com")
	p.ok()
	wantLines(t, p.stderr.String(), `^The workspace has a new key \(key 2\): mallory@example\.com cannot read anything written from now on\.$`)
	wantKeyIndex(t, w, alice, id, 2)
	w.as(alice, "cp", localFile(t, "after mallory\n"), "Docs:/after-mallory.txt").ok()
	w.as(mallory, "cat", "Docs:/after-mallory.txt").wantFailure(exitNotFound, `(?m)^error: no workspace named "Docs"`)
	w.as(mallory, "ls", id[:8]+":/").wantFailure(exitNotFound, `(?m)^error: no workspace named "`+id[:8]+`"`)
	if out := w.as(mallory, "workspace", "list").ok(); out != "" {
		t.Errorf("mallory still lists workspaces:\n%s", out)
	}
	// Not only her client: the server no longer hands her the workspace's keys.
	wantNoKeys(t, w, mallory, id, 2)

	// When a manager removes someone, the owner's device gives the workspace a new key at
	// its next sync.
	w.as(alice, "workspace", "share", "Docs", "bob@example.com", "--role", "manager").ok()
	w.as(bob, "workspace", "share", "Docs", "mallory@example.com", "--role", "reader").ok()
	p = w.as(bob, "workspace", "unshare", "Docs", "mallory@example.com")
	p.ok()
	wantLines(t, p.stderr.String(), `^An owner's device will give the workspace a new key at its next sync\.$`)
	wantKeyIndex(t, w, alice, id, 2)
	p = w.as(alice, "workspace", "sync")
	p.ok()
	wantLines(t, p.stderr.String(), `^Workspace "Docs" has a new key \(key 3\): members who left cannot read what is written from now on\.$`)
	wantKeyIndex(t, w, alice, id, 3)

	// Alice revokes bob: the revoke gives the workspace a new key at once.
	wantLines(t, w.as(alice, "user", "revoke", "bob@example.com", "--yes").ok(), `^bob@example.com: revoked$`)
	wantKeyIndex(t, w, alice, id, 4)
	w.as(alice, "cp", localFile(t, "after bob\n"), "Docs:/after-bob.txt").ok()
	w.as(bob, "cat", "Docs:/after-bob.txt").wantFailure(exitRevoked, `has been revoked`)
	members := w.as(alice, "workspace", "users", "Docs").ok()
	if strings.Contains(members, "bob@") || strings.Contains(members, "mallory@") {
		t.Errorf("removed members are still listed:\n%s", members)
	}
	if got := w.as(alice, "cat", "Docs:/after-bob.txt").ok(); got != "after bob\n" {
		t.Errorf("after-bob.txt = %q", got)
	}

	// The server's data directory holds neither marker in clear.
	searchDir(t, w.dataDir, nameMarker, contentMarker)
}

func newMarker(t *testing.T) string { return hex.EncodeToString(randomContent(t, 8)) }

func randomContent(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// localFile writes content into a new file and returns its path.
func localFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "file.txt")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeTree(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// compareTree fails unless dir holds exactly files, byte for byte.
func compareTree(t *testing.T, who, dir string, files map[string][]byte) {
	t.Helper()
	got := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		data, err := os.ReadFile(p)
		got[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		if data, ok := got[name]; !ok {
			t.Errorf("%s: %s missing from the copy", who, name)
		} else if !bytes.Equal(data, want) {
			t.Errorf("%s: %s differs: %d bytes, want %d", who, name, len(data), len(want))
		}
	}
	for name := range got {
		if _, ok := files[name]; !ok {
			t.Errorf("%s: unexpected %s in the copy", who, name)
		}
	}
}

// wantKeyIndex checks a workspace's key index as a's `workspace list --json` reports it.
func wantKeyIndex(t *testing.T, w *world, a account, id string, want uint64) {
	t.Helper()
	var list []workspaceJSON
	if err := json.Unmarshal([]byte(w.as(a, "workspace", "list", "--json").ok()), &list); err != nil {
		t.Fatal(err)
	}
	for _, ws := range list {
		if ws.ID == id {
			if ws.KeyIndex != want {
				t.Errorf("workspace %s has key index %d, want %d", id, ws.KeyIndex, want)
			}
			return
		}
	}
	t.Errorf("workspace %s is not in the list:\n%+v", id, list)
}

// wantNoKeys checks, with a's device used directly, that the server refuses a the keys of
// a workspace at a key index.
func wantNoKeys(t *testing.T, w *world, a account, realm string, index uint64) {
	t.Helper()
	file, err := device.Find(a.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	local, err := file.Unlock([]byte(a.password))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Open(w.ctx, a.dir, local, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := parsec.ParseVlobID(realm)
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.AskKeysBundle(w.ctx, c, id, index); !testenv.RefusedWith(err, "author_not_allowed") {
		t.Errorf("a removed member asking for key %d: got %v, want author_not_allowed", index, err)
	}
}

// searchDir fails if any file under dir, read as bytes, contains one of the markers; it
// makes sure there was something to search.
func searchDir(t *testing.T, dir string, markers ...string) {
	t.Helper()
	var files int
	var size int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		size += int64(len(data))
		for _, m := range markers {
			if bytes.Contains(data, []byte(m)) {
				t.Errorf("the server's %s holds %q in clear", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if size < 6<<20 {
		t.Errorf("the server's data directory holds %d files, %d bytes: less than the files uploaded", files, size)
	}
}

func TestParseLocation(t *testing.T) {
	tests := []struct {
		arg  string
		want location
	}{
		{"Docs:/a/b", location{ws: "Docs", path: "/a/b"}},
		{"Docs:", location{ws: "Docs", path: "/"}},
		{"Docs:a/../b/", location{ws: "Docs", path: "/b", dir: true}},
		{"1a2b3c:/", location{ws: "1a2b3c", path: "/", dir: true}},
		{"My docs:/x y", location{ws: "My docs", path: "/x y"}},
		{"./a:b", location{path: "./a:b"}},
		{"/abs/a:b", location{path: "/abs/a:b"}},
		{"dir/", location{path: "dir/", dir: true}},
		{":/x", location{path: ":/x"}},
		{"plain.txt", location{path: "plain.txt"}},
	}
	for _, tc := range tests {
		if got := parseLocation(tc.arg); got != tc.want {
			t.Errorf("parseLocation(%q) = %+v, want %+v", tc.arg, got, tc.want)
		}
	}
}

func TestParseAt(t *testing.T) {
	local := func(s string) parsec.DateTime {
		tm, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.Local)
		if err != nil {
			t.Fatal(err)
		}
		return parsec.FromTime(tm)
	}
	tests := []struct {
		arg  string
		want parsec.DateTime
	}{
		{"2026-01-02T03:04:05.123456Z", parsec.FromTime(time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC))},
		{"2026-01-02T03:04:05+02:00", parsec.FromTime(time.Date(2026, 1, 2, 1, 4, 5, 0, time.UTC))},
		{"2026-01-02 03:04:05", local("2026-01-02 03:04:05")},
		{"2026-01-02 03:04:05.5", local("2026-01-02 03:04:05.5")},
		{"2026-01-02T03:04:05", local("2026-01-02 03:04:05")},
	}
	for _, tc := range tests {
		got, err := parseAt(tc.arg)
		if err != nil || got != tc.want {
			t.Errorf("parseAt(%q) = %v, %v; want %v", tc.arg, got, err, tc.want)
		}
		// What history prints parses back to the same instant.
		if back, err := parseAt(got.String()); err != nil || back != got {
			t.Errorf("parseAt(%q) = %v, %v; want %v", got.String(), back, err, got)
		}
	}
	for _, bad := range []string{"", "yesterday", "2026-01-02", "2026-13-02 03:04:05", "12:00"} {
		if _, err := parseAt(bad); !parsec.IsKind(err, parsec.Invalid) {
			t.Errorf("parseAt(%q): got %v, want an Invalid error", bad, err)
		}
	}
}

// `workspace sync --watch` follows the server's events: a change alice pushes reaches bob's
// device without bob running anything else.
func TestWorkspaceSyncWatch(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice")
	bob := w.join(alice, "bob@example.com", "Bob", "member")
	w.as(alice, "workspace", "create", "Docs").ok()
	w.as(alice, "workspace", "share", "Docs", "bob@example.com", "--role", "reader").ok()

	watcher := w.start(bob.password+"\n", "workspace", "sync", "Docs", "--watch", "--config-dir", bob.dir, "--password-stdin")
	watcher.expect(watcher.stderr, `^Watching for changes`)
	local := filepath.Join(t.TempDir(), "hello.txt")
	if err := os.WriteFile(local, []byte("hello bob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.as(alice, "cp", local, "Docs:/hello.txt").ok()
	watcher.expect(watcher.stderr, `^Workspace "Docs" synced\.$`)
	watcher.cmd.Process.Signal(os.Interrupt)
	watcher.wantExit(exitOK)
	if got := w.as(bob, "cat", "Docs:/hello.txt").ok(); got != "hello bob\n" {
		t.Fatalf("bob reads %q", got)
	}
}
