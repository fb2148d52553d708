package mount

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// TestVersionOnClose: a file's content becomes one new version when it is closed, not one
// per write; an fsync makes one too.
func TestVersionOnClose(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id := createWorkspace(t, p.alice, "Docs")
	must(t, p.alice.ShareWorkspace(ctx, id, p.bobUser.Device.UserID, parsec.RoleReader))
	dir, m := mountFor(t, p.alice, id)
	name := filepath.Join(dir, "notes.txt")
	must(t, os.WriteFile(name, []byte("first"), 0o644))
	must(t, m.Sync(ctx))
	_, err := p.bob.PollCertificates(ctx)
	must(t, err)
	bw, err := p.bob.Workspace(ctx, id)
	must(t, err)
	versions := func() int {
		t.Helper()
		h, err := bw.History(ctx, "/notes.txt")
		must(t, err)
		return len(h)
	}
	before := versions()

	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	must(t, err)
	for range 100 {
		_, err := f.Write([]byte(" and more"))
		must(t, err)
	}
	must(t, m.Sync(ctx))
	if got := versions(); got != before {
		t.Errorf("%d new versions after 100 writes, before any close or fsync; want none", got-before)
	}
	must(t, f.Sync())
	must(t, m.Sync(ctx))
	if got := versions(); got != before+1 {
		t.Errorf("%d new versions after an fsync, want 1", got-before)
	}
	for range 100 {
		_, err := f.Write([]byte(" and again"))
		must(t, err)
	}
	must(t, f.Close())
	must(t, m.Sync(ctx))
	if got := versions(); got != before+2 {
		t.Errorf("%d new versions after the fsync and the close, want 2", got-before)
	}
	var out bytes.Buffer
	must(t, bw.ReadFile(ctx, "/notes.txt", &out))
	want := "first" + strings.Repeat(" and more", 100) + strings.Repeat(" and again", 100)
	if out.String() != want {
		t.Errorf("bob reads %d bytes, want %d", out.Len(), len(want))
	}
}

// TestOthersChangesAppear: another member's change shows in the mount without anyone
// asking for a sync: the server's event stream has the mount sync.
func TestOthersChangesAppear(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id := createWorkspace(t, p.alice, "Docs")
	must(t, p.alice.ShareWorkspace(ctx, id, p.bobUser.Device.UserID, parsec.RoleContributor))
	synced := make(chan error, 100)
	opts := Options{Workspace: id, testOnlySynced: func(ws parsec.VlobID, err error) {
		select {
		case synced <- err:
		default: // the test looks again at the next one
		}
	}}
	dir, _ := mountWith(t, p.alice, opts)
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("the mount lists %v (%v), want nothing yet", entries, err)
	}

	_, err := p.bob.PollCertificates(ctx)
	must(t, err)
	bw, err := p.bob.Workspace(ctx, id)
	must(t, err)
	must(t, bw.Change(ctx, false, func() error {
		return bw.WriteFiles(ctx, []client.FileSource{{Path: "/from bob.txt", Open: func() (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader("hello alice")), nil
		}}}, nil)
	}))
	// Each sync, wait for the file in a listing (the kernel caches lookups that found
	// nothing for a second, listings are asked anew).
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for !slices.Contains(listNames(t, dir), "from bob.txt") {
		select {
		case <-wait.Done():
			t.Fatal("bob's file never showed in alice's mount")
		case err := <-synced:
			if err != nil {
				t.Logf("a sync failed: %v", err)
			}
		}
	}
	if got, err := os.ReadFile(filepath.Join(dir, "from bob.txt")); err != nil || string(got) != "hello alice" {
		t.Errorf("bob's file reads %q, %v in alice's mount", got, err)
	}
}

// TestErrno: what a program sees of an error is decided by its kind, in one place.
func TestErrno(t *testing.T) {
	m := &Mount{}
	for _, tc := range []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"nil", nil, 0},
		{"an errno", syscall.ENOTEMPTY, syscall.ENOTEMPTY},
		{"a wrapped errno", parsec.Wrap(syscall.EISDIR, "x"), syscall.EISDIR},
		{"cancelled", context.Canceled, syscall.EINTR},
		{"not found", parsec.Errorf(parsec.NotFound, "x"), syscall.ENOENT},
		{"gone", parsec.Errorf(parsec.Gone, "x"), syscall.ENOENT},
		{"os not exist", os.ErrNotExist, syscall.ENOENT},
		{"exists", parsec.Errorf(parsec.Exists, "x"), syscall.EEXIST},
		{"invalid", parsec.Errorf(parsec.Invalid, "x"), syscall.EINVAL},
		{"permission", parsec.Errorf(parsec.Permission, "x"), syscall.EACCES},
		{"wrapped permission", parsec.Wrap(parsec.Errorf(parsec.Permission, "x"), "workspace %s", "Docs"), syscall.EACCES},
		{"revoked", parsec.Errorf(parsec.Revoked, "x"), syscall.EACCES},
		{"frozen", parsec.Errorf(parsec.Frozen, "x"), syscall.EACCES},
		{"expired", parsec.Errorf(parsec.Expired, "x"), syscall.EACCES},
		{"too large", parsec.Errorf(parsec.TooLarge, "x"), syscall.EFBIG},
		{"conflict", parsec.Errorf(parsec.Conflict, "x"), syscall.EAGAIN},
		{"unavailable", parsec.Errorf(parsec.Unavailable, "x"), syscall.EIO},
		{"tampered", parsec.Errorf(parsec.Tampered, "x"), syscall.EIO},
		{"other", errors.New("x"), syscall.EIO},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.errno(tc.err); got != tc.want {
				t.Errorf("errno(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
