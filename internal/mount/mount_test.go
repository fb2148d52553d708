package mount

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/testenv"
)

// mountFor mounts c's workspaces (one when id is not zero) in a temporary folder, for the
// duration of the test: unmounted and finished at its end, when nothing may be kept
// unsent.
func mountFor(t testing.TB, c *client.Client, id parsec.VlobID) (string, *Mount) {
	t.Helper()
	return mountWith(t, c, Options{Workspace: id})
}

// mountWith is mountFor with options.
func mountWith(t testing.TB, c *client.Client, opts Options) (string, *Mount) {
	t.Helper()
	testenv.RequireFUSE(t)
	dir := t.TempDir()
	opts.SpoolDir = t.TempDir()
	if opts.Warn == nil {
		opts.Warn = func(msg string) { t.Logf("warning: %s", msg) }
	}
	m, err := New(t.Context(), c, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
			if !abortMount(t, dir) {
				return // Wait would block until the files left open are closed
			}
		}
		m.Wait()
		kept, err := m.Finish(context.Background()) // t.Context() is done by now
		if err != nil || len(kept) > 0 {
			t.Errorf("after unmounting: kept %q, error %v", kept, err)
		}
	})
	return dir, m
}

// abortMount ends the mount at dir that a failed test left busy (a file still open): its
// FUSE connection is aborted, so that the open files fail instead of waiting for this
// process (which, at exit, would hang flushing them on its own mount) and the mount's Wait
// returns, and the folder is detached. It reports whether the connection was aborted
// (fusectl is mounted and writable: root).
func abortMount(t testing.TB, dir string) bool {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Logf("cannot abort the mount at %s: %v", dir, err)
		return false
	}
	abort := fmt.Sprintf("/sys/fs/fuse/connections/%d/abort", unix.Minor(st.Dev))
	if err := os.WriteFile(abort, []byte("1"), 0o200); err != nil {
		t.Logf("cannot abort the mount at %s, it is left mounted: %v", dir, err)
		return false
	}
	if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
		t.Logf("unmounting %s once aborted: %v", dir, err)
	}
	return true
}

type people struct {
	srv        *testenv.Server
	alice, bob *client.Client
	bobUser    *testenv.User
}

func newPeople(t testing.TB) people {
	t.Helper()
	srv := testenv.NewServer(t)
	a := srv.Bootstrap(t, "Acme", "alice@example.com", "Alice")
	ac := a.Open(t)
	b := testenv.Join(t, ac, "bob@example.com", "Bob", parsec.ProfileStandard)
	return people{srv: srv, alice: ac, bob: b.Open(t), bobUser: b}
}

func createWorkspace(t testing.TB, c *client.Client, name string) parsec.VlobID {
	t.Helper()
	id, err := c.CreateWorkspace(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// TestFileOperations: the POSIX operations programs rely on, through the mount of one
// workspace, then what another member reads after syncing.
func TestFileOperations(t *testing.T) {
	p := newPeople(t)
	id := createWorkspace(t, p.alice, "Docs")
	must(t, p.alice.ShareWorkspace(t.Context(), id, p.bobUser.Device.UserID, parsec.RoleContributor))
	dir, m := mountFor(t, p.alice, id)
	at := func(name string) string { return filepath.Join(dir, name) }

	// Create, write at offsets (with a hole), read back, stat.
	f, err := os.Create(at("a.txt"))
	must(t, err)
	_, err = f.WriteAt([]byte("hello"), 0)
	must(t, err)
	_, err = f.WriteAt([]byte("world"), 10)
	must(t, err)
	fi, err := os.Stat(at("a.txt")) // a file being written shows its size
	must(t, err)
	if fi.Size() != 15 {
		t.Errorf("size while written: %d, want 15", fi.Size())
	}
	must(t, f.Close())
	want := []byte("hello\x00\x00\x00\x00\x00world")
	got, err := os.ReadFile(at("a.txt"))
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("a.txt = %q, want %q", got, want)
	}

	// Rewrite the middle of an existing file, then truncate it, through handles and paths.
	f, err = os.OpenFile(at("a.txt"), os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("_there_"), 4)
	must(t, err)
	buf := make([]byte, 15)
	_, err = f.ReadAt(buf, 0)
	must(t, err)
	if string(buf) != "hell_there_orld" {
		t.Errorf("read while writing: %q", buf)
	}
	must(t, f.Sync())
	must(t, f.Truncate(4))
	must(t, f.Close())
	must(t, os.Truncate(at("a.txt"), 6))
	got, err = os.ReadFile(at("a.txt"))
	must(t, err)
	if string(got) != "hell\x00\x00" {
		t.Errorf("after truncates: %q", got)
	}

	// Folders, renames across folders, replacing a file, removal.
	must(t, os.MkdirAll(at("x/y"), 0o755))
	must(t, os.WriteFile(at("x/y/b.txt"), []byte("b"), 0o644))
	must(t, os.WriteFile(at("c.txt"), []byte("c"), 0o644))
	must(t, os.Rename(at("x/y/b.txt"), at("b.txt")))
	must(t, os.Rename(at("c.txt"), at("b.txt"))) // replaces b.txt
	must(t, os.Rename(at("x/y"), at("z")))
	must(t, os.Mkdir(at("x/w"), 0o755))
	wantErrno(t, "rmdir of a folder that is not empty", syscall.Rmdir(at("x")), syscall.ENOTEMPTY)
	wantErrno(t, "rename of a folder onto a non-empty one", syscall.Rename(at("z"), at("x")), syscall.ENOTEMPTY)
	must(t, os.Remove(at("x/w")))
	must(t, os.Remove(at("x")))
	wantErrno(t, "unlink of a folder", syscall.Unlink(at("z")), syscall.EISDIR)
	wantErrno(t, "rmdir of a file", syscall.Rmdir(at("b.txt")), syscall.ENOTDIR)
	wantErrno(t, "stat of a missing file", func() error { _, err := os.Stat(at("nope")); return err }(), syscall.ENOENT)
	must(t, os.WriteFile(at("z/gone"), nil, 0o644))
	must(t, os.Remove(at("z/gone")))
	// A file removed here while open for writing stays removed once closed.
	f, err = os.Create(at("z/open"))
	must(t, err)
	_, err = f.Write([]byte("x"))
	must(t, err)
	must(t, os.Remove(at("z/open")))
	must(t, f.Close())
	var names []string
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return err
	}))
	if diff := cmp.Diff([]string{"a.txt", "b.txt", "z"}, names); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}

	// Bob reads the same after a sync.
	_, err = p.bob.PollCertificates(t.Context())
	must(t, err)
	bw, err := p.bob.Workspace(t.Context(), id)
	must(t, err)
	must(t, m.Sync(t.Context()))
	must(t, bw.Sync(t.Context()))
	var out bytes.Buffer
	must(t, bw.ReadFile(t.Context(), "/b.txt", &out))
	if out.String() != "c" {
		t.Errorf("bob reads b.txt = %q, want %q", out.String(), "c")
	}
}

// TestNamesAWorkspaceCannotHold: looking up a name no entry can have (not UTF-8, a
// control character) says ENOENT, as for any missing file, and making it says EINVAL; a
// name over 255 bytes says ENAMETOOLONG, whatever is asked. All said EINVAL, which
// programs that look a name up before making it take for a failure.
func TestNamesAWorkspaceCannotHold(t *testing.T) {
	p := newPeople(t)
	id := createWorkspace(t, p.alice, "Docs")
	dir, _ := mountFor(t, p.alice, id)
	at := func(name string) string { return filepath.Join(dir, name) }
	must(t, os.WriteFile(at("a.txt"), nil, 0o644))
	for _, name := range []string{"bad\xffname", "tab\tname", "Icon\r"} {
		_, err := os.Stat(at(name))
		wantErrno(t, fmt.Sprintf("stat %q", name), err, syscall.ENOENT)
		wantErrno(t, fmt.Sprintf("create %q", name), os.WriteFile(at(name), nil, 0o644), syscall.EINVAL)
	}
	long := strings.Repeat("x", 300)
	_, err := os.Stat(at(long))
	wantErrno(t, "stat of a 300-byte name", err, syscall.ENAMETOOLONG)
	wantErrno(t, "create of a 300-byte name", os.WriteFile(at(long), nil, 0o644), syscall.ENAMETOOLONG)
	wantErrno(t, "mkdir of a 300-byte name", os.Mkdir(at(long), 0o755), syscall.ENAMETOOLONG)
	wantErrno(t, "rename to a 300-byte name", os.Rename(at("a.txt"), at(long)), syscall.ENAMETOOLONG)
	if diff := cmp.Diff([]string{"a.txt"}, listNames(t, dir)); diff != "" {
		t.Errorf("folder (-want +got):\n%s", diff)
	}
}

// TestRemovedWhileOpen: a file open for reading, then removed (unlink, or a rename over
// it), still reads whole through the open descriptor, and fstat gives its size, as POSIX
// wants (the content lives until the last close). The reader was opened by path at the
// first read, and a removed file's size was 0: the descriptor read nothing, or, once read
// before, the kernel took the size 0 and read the end of the file.
func TestRemovedWhileOpen(t *testing.T) {
	for _, tc := range []struct {
		name      string
		readFirst bool
		remove    func(name string) error
	}{
		{"unlink", false, os.Remove},
		{"unlink after a read", true, os.Remove},
		{"rename over", true, func(name string) error {
			other := filepath.Join(filepath.Dir(name), "other.txt")
			if err := os.WriteFile(other, []byte("another file"), 0o644); err != nil {
				return err
			}
			return os.Rename(other, name)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeople(t)
			id := createWorkspace(t, p.alice, "Docs")
			dir, _ := mountFor(t, p.alice, id)
			name := filepath.Join(dir, "a.txt")
			want := bytes.Repeat([]byte("0123456789"), 100)
			must(t, os.WriteFile(name, want, 0o644))

			f, err := os.Open(name)
			must(t, err)
			defer f.Close()
			if tc.readFirst {
				_, err = f.ReadAt(make([]byte, 10), 0)
				must(t, err)
			}
			must(t, tc.remove(name))
			if fi, err := f.Stat(); err != nil || fi.Size() != int64(len(want)) {
				t.Errorf("fstat once removed: %v, %v; want size %d", fi, err, len(want))
			}
			got := make([]byte, len(want)+10)
			n, err := f.ReadAt(got, 0)
			if !bytes.Equal(got[:n], want) {
				t.Errorf("read once removed: %d bytes (%v); want the %d bytes it had", n, err, len(want))
			}
		})
	}
}

// TestConflictOnClose: a file open for writing while another member changes or removes
// it: on close, what was written through the mount goes beside the other's version, or
// where the file was, as a conflict copy; nothing is lost. The removal dropped what was
// written, while the close succeeded.
func TestConflictOnClose(t *testing.T) {
	for _, tc := range []struct {
		name string
		bob  func(ctx context.Context, bw *client.Workspace) error
		want string // plan.txt's content, "" when it is gone
	}{
		{"changed", func(ctx context.Context, bw *client.Workspace) error {
			return bw.WriteFiles(ctx, []client.FileSource{{Path: "/plan.txt", Open: func() (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader("bob's version")), nil
			}}}, nil)
		}, "bob's version"},
		{"removed", func(ctx context.Context, bw *client.Workspace) error {
			return bw.Remove(ctx, "/plan.txt", false)
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeople(t)
			ctx := t.Context()
			id := createWorkspace(t, p.alice, "Docs")
			must(t, p.alice.ShareWorkspace(ctx, id, p.bobUser.Device.UserID, parsec.RoleContributor))
			dir, m := mountFor(t, p.alice, id)
			must(t, os.WriteFile(filepath.Join(dir, "plan.txt"), []byte("first"), 0o644))
			must(t, m.Sync(ctx))

			f, err := os.OpenFile(filepath.Join(dir, "plan.txt"), os.O_RDWR, 0)
			must(t, err)
			defer f.Close()
			_, err = f.WriteAt([]byte("alice's"), 0)
			must(t, err)

			// Meanwhile Bob writes his version, or removes the file, which reaches Alice's
			// device.
			_, err = p.bob.PollCertificates(ctx)
			must(t, err)
			bw, err := p.bob.Workspace(ctx, id)
			must(t, err)
			must(t, bw.Sync(ctx))
			must(t, bw.Change(ctx, false, func() error { return tc.bob(ctx, bw) }))
			must(t, m.Sync(ctx))

			must(t, f.Close())
			must(t, m.Sync(ctx))
			got, err := os.ReadFile(filepath.Join(dir, "plan.txt"))
			if tc.want == "" && !errors.Is(err, fs.ErrNotExist) || tc.want != "" && string(got) != tc.want {
				t.Errorf("plan.txt = %q, %v; want %q (Bob's)", got, err, tc.want)
			}
			copies, _ := filepath.Glob(filepath.Join(dir, "plan (sync conflict *).txt"))
			if len(copies) != 1 {
				t.Fatalf("conflict copies: %v", copies)
			}
			if got, _ := os.ReadFile(copies[0]); string(got) != "alice's" {
				t.Errorf("the conflict copy holds %q, want what Alice wrote", got)
			}
		})
	}
}

// The past, mounted: the files as they were at a time, read-only.
func TestMountAt(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id := createWorkspace(t, p.alice, "Docs")
	w, err := p.alice.Workspace(ctx, id)
	must(t, err)
	put := func(path, content string) {
		must(t, w.Change(ctx, false, func() error {
			return w.WriteFiles(ctx, []client.FileSource{{Path: path, Open: func() (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader(content)), nil
			}}}, nil)
		}))
	}
	put("/plan.txt", "first plan")
	put("/notes/a.txt", "note a")
	h, err := w.History(ctx, "/")
	must(t, err)
	then := h[len(h)-1].Timestamp
	for _, e := range []string{"/plan.txt", "/notes", "/notes/a.txt"} {
		v, err := w.History(ctx, e)
		must(t, err)
		then = max(then, v[len(v)-1].Timestamp)
	}
	put("/plan.txt", "second plan, longer")
	put("/later.txt", "later")

	dir, _ := mountWith(t, p.alice, Options{Workspace: id, At: then})
	got, err := os.ReadFile(filepath.Join(dir, "plan.txt"))
	if err != nil || string(got) != "first plan" {
		t.Errorf("plan.txt at the past = %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "notes", "a.txt")); err != nil || string(got) != "note a" {
		t.Errorf("notes/a.txt at the past = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "later.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("later.txt, written after, shows in the past: %v", err)
	}
	wantErrno(t, "writing in the past", os.WriteFile(filepath.Join(dir, "new.txt"), []byte("x"), 0o644), syscall.EROFS)
	wantErrno(t, "removing in the past", os.Remove(filepath.Join(dir, "plan.txt")), syscall.EROFS)
}

// A program that gets signals while it writes, renames, removes and makes folders (here,
// the profiler's signals, many per second) never sees EINTR or EIO: what it did is saved all
// the same.
func TestSignalsDoNotInterrupt(t *testing.T) {
	p := newPeople(t)
	id := createWorkspace(t, p.alice, "Docs")
	dir, m := mountFor(t, p.alice, id)
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		t.Skipf("the CPU profiler is already running: %v", err)
	}
	for i := range 200 {
		name := filepath.Join(dir, fmt.Sprintf("f%03d.txt", i))
		err := os.WriteFile(name, bytes.Repeat([]byte{byte(i)}, 64<<10), 0o644)
		switch {
		case err != nil:
		case i%10 == 1:
			err = os.Rename(name, name+".moved")
		case i%10 == 2:
			err = os.Remove(name)
		case i%50 == 3:
			err = os.Mkdir(name+".d", 0o755)
		}
		if err != nil {
			pprof.StopCPUProfile()
			t.Fatalf("changing %s while signals arrive: %v", name, err)
		}
	}
	pprof.StopCPUProfile()
	must(t, m.Sync(t.Context()))
	entries, err := os.ReadDir(dir)
	must(t, err)
	if len(entries) != 200-20+4 {
		t.Errorf("%d entries, want 184 (200 files, 20 removed, 4 folders)", len(entries))
	}
}
