package mount

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// messages records what a mount tells the person (Options.Warn and Notice).
type messages struct {
	t    testing.TB
	mu   sync.Mutex
	said []string
}

func (ms *messages) options(opts Options) Options {
	opts.Warn = func(msg string) { ms.add("warning: " + msg) }
	opts.Notice = func(msg string) { ms.add(msg) }
	return opts
}

func (ms *messages) add(msg string) {
	ms.t.Logf("%s", msg)
	ms.mu.Lock()
	defer ms.mu.Unlock()
	ms.said = append(ms.said, msg)
}

// want fails the test unless a message matches pattern.
func (ms *messages) want(pattern string) {
	ms.t.Helper()
	ms.mu.Lock()
	defer ms.mu.Unlock()
	re := regexp.MustCompile(pattern)
	if !slices.ContainsFunc(ms.said, re.MatchString) {
		ms.t.Errorf("no message matches %q; said:\n%s", pattern, strings.Join(ms.said, "\n"))
	}
}

func listNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestRenameFollowed: in a mount of every workspace, a workspace renamed by another member
// shows under its new name, and the mount's messages name it so from then on (here, the
// conflict copy made when a file is closed). The mount point itself holds workspaces only:
// making anything there is refused with EACCES.
func TestRenameFollowed(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id := createWorkspace(t, p.alice, "Docs")
	must(t, p.alice.ShareWorkspace(ctx, id, p.bobUser.Device.UserID, parsec.RoleOwner))
	said := &messages{t: t}
	mnt, m := mountWith(t, p.alice, said.options(Options{}))
	if names := listNames(t, mnt); !slices.Equal(names, []string{"Docs"}) {
		t.Fatalf("the mount lists %q, want Docs", names)
	}
	must(t, os.WriteFile(filepath.Join(mnt, "Docs", "plan.txt"), []byte("first"), 0o644))
	must(t, m.Sync(ctx))

	_, err := p.bob.PollCertificates(ctx)
	must(t, err)
	must(t, p.bob.RenameWorkspace(ctx, id, "Reports"))
	_, err = p.alice.PollCertificates(ctx)
	must(t, err)
	must(t, m.Sync(ctx))
	said.want(`^workspace "Docs" was renamed "Reports"$`)
	if names := listNames(t, mnt); !slices.Equal(names, []string{"Reports"}) {
		t.Errorf("after the rename, the mount lists %q, want Reports", names)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "Reports", "plan.txt")); err != nil || string(got) != "first" {
		t.Errorf("Reports/plan.txt = %q, %v", got, err)
	}

	// A conflict on close is told with the workspace's new name.
	f, err := os.OpenFile(filepath.Join(mnt, "Reports", "plan.txt"), os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("alice's"), 0)
	must(t, err)
	bw, err := p.bob.Workspace(ctx, id)
	must(t, err)
	must(t, bw.Change(ctx, false, func() error {
		return bw.WriteFiles(ctx, []client.FileSource{{Path: "/plan.txt", Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("bob's version")), nil
		}}}, nil)
	}))
	must(t, m.Sync(ctx))
	must(t, f.Close())
	must(t, m.Sync(ctx))
	said.want(`^warning: workspace "Reports": /plan\.txt changed on the server while it was written here`)

	wantErrno(t, "making a folder at the mount point", os.Mkdir(filepath.Join(mnt, "New"), 0o755), syscall.EACCES)
	wantErrno(t, "making a file at the mount point", os.WriteFile(filepath.Join(mnt, "new.txt"), nil, 0o644), syscall.EACCES)
	wantErrno(t, "renaming a workspace's folder", os.Rename(filepath.Join(mnt, "Reports"), filepath.Join(mnt, "Other")), syscall.EACCES)
}

// TestGrowingSize: while a file is written, other readers of the mount (another process
// too) see its size grow and read what was written so far.
func TestGrowingSize(t *testing.T) {
	p := newPeople(t)
	id := createWorkspace(t, p.alice, "Docs")
	dir, _ := mountFor(t, p.alice, id)
	name := filepath.Join(dir, "log.txt")
	w, err := os.Create(name)
	must(t, err)
	defer w.Close()
	r, err := os.Open(name)
	must(t, err)
	defer r.Close()
	var want []byte
	for i, chunk := range []string{"first line\n", "second, longer line\n", strings.Repeat("x", 700<<10) + "\n"} {
		_, err := w.Write([]byte(chunk))
		must(t, err)
		want = append(want, chunk...)
		if got := strings.TrimSpace(run(t, "stat", "-c", "%s", name)); got != strconv.Itoa(len(want)) {
			t.Errorf("write %d: another process sees a size of %s, want %d", i, got, len(want))
		}
		if got := run(t, "cat", name); got != string(want) {
			t.Errorf("write %d: another process reads %d bytes, want %d", i, len(got), len(want))
		}
		got := make([]byte, len(want)+10)
		n, err := r.ReadAt(got, 0)
		if !bytes.Equal(got[:n], want) || (err != nil && !errors.Is(err, io.EOF)) {
			t.Errorf("write %d: another handle reads %d bytes (%v), want %d", i, n, err, len(want))
		}
	}
	must(t, w.Close())
	if got, err := os.ReadFile(name); err != nil || !bytes.Equal(got, want) {
		t.Errorf("after close: %d bytes, %v", len(got), err)
	}
}

// TestArchivedReadOnly: a workspace archived while mounted turns read-only there (the mount
// says so): every change fails with EROFS, files show without write permission, reads go
// on; unarchived, it takes changes again.
func TestArchivedReadOnly(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id := createWorkspace(t, p.alice, "Docs")
	w, err := p.alice.Workspace(ctx, id)
	must(t, err)
	must(t, w.Change(ctx, false, func() error {
		return w.WriteFiles(ctx, []client.FileSource{
			{Path: "/a.txt", Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("a")), nil }},
			{Path: "/b.txt", Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("b")), nil }},
		}, nil)
	}))
	said := &messages{t: t}
	dir, m := mountWith(t, p.alice, said.options(Options{Workspace: id}))
	at := func(name string) string { return filepath.Join(dir, name) }
	must(t, os.WriteFile(at("c.txt"), []byte("c"), 0o644))
	must(t, m.Sync(ctx))

	must(t, p.alice.ArchiveWorkspace(ctx, id, certif.ArchivingArchived, 0))
	must(t, m.Sync(ctx))
	said.want(`^workspace "Docs" is now read-only here: .*archived`)
	wantErrno(t, "creating a file", os.WriteFile(at("new.txt"), nil, 0o644), syscall.EROFS)
	wantErrno(t, "opening a file for writing", func() error {
		f, err := os.OpenFile(at("a.txt"), os.O_WRONLY, 0)
		if err == nil {
			f.Close()
		}
		return err
	}(), syscall.EROFS)
	wantErrno(t, "making a folder", os.Mkdir(at("d"), 0o755), syscall.EROFS)
	wantErrno(t, "renaming", os.Rename(at("a.txt"), at("z.txt")), syscall.EROFS)
	wantErrno(t, "removing", os.Remove(at("c.txt")), syscall.EROFS)
	wantErrno(t, "truncating", os.Truncate(at("a.txt"), 0), syscall.EROFS)
	if fi, err := os.Stat(at("b.txt")); err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("b.txt in an archived workspace: %v, %v; want mode 0444", fi.Mode(), err)
	}
	if got, err := os.ReadFile(at("c.txt")); err != nil || string(got) != "c" {
		t.Errorf("reading in an archived workspace: %q, %v", got, err)
	}

	must(t, p.alice.ArchiveWorkspace(ctx, id, certif.ArchivingAvailable, 0))
	must(t, m.Sync(ctx))
	said.want(`^workspace "Docs" can be changed again$`)
	must(t, os.WriteFile(at("new.txt"), []byte("new"), 0o644))
}
