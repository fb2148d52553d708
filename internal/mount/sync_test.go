package mount

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/testenv"
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

// serverDown makes the test server unreachable (connections refused) and returns a
// function that brings it back on the same address.
func serverDown(t *testing.T, s *testenv.Server) (up func()) {
	t.Helper()
	addr := s.HTTP.Listener.Addr().String()
	s.HTTP.Listener.Close()
	s.HTTP.CloseClientConnections()
	return func() {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("listening again on %s: %v", addr, err)
		}
		s.HTTP.Listener = l
		go s.HTTP.Config.Serve(l)
	}
}

// offlineWith mounts a workspace of Alice's holding a.txt with content, sent, then makes
// the server unreachable: it returns the mounted folder, a.txt's path there, the mount, and
// what brings the server back.
func offlineWith(t *testing.T, content string) (dir, name string, m *Mount, up func()) {
	t.Helper()
	p := newPeople(t)
	id := createWorkspace(t, p.alice, "Docs")
	dir, m = mountFor(t, p.alice, id)
	name = filepath.Join(dir, "a.txt")
	must(t, os.WriteFile(name, []byte(content), 0o644))
	must(t, m.Sync(t.Context()))
	return dir, name, m, serverDown(t, p.srv)
}

// TestReopenAfterOfflineClose: a file written and closed while the server is unreachable
// (its content pending in the spool) reads back, and stats, as written: the program was
// told the close succeeded. It read the version before (empty here) when an open looked
// for open files only.
func TestReopenAfterOfflineClose(t *testing.T) {
	_, name, m, up := offlineWith(t, "old content")
	const want = "new content, written offline"
	must(t, os.WriteFile(name, []byte(want), 0o644))
	if got, err := os.ReadFile(name); err != nil || string(got) != want {
		t.Errorf("reading back what was closed while offline: %q, %v; want %q", got, err, want)
	}
	if fi, err := os.Stat(name); err != nil || fi.Size() != int64(len(want)) {
		t.Errorf("stat after the close while offline: %v, %v; want size %d", fi, err, len(want))
	}
	up()
	must(t, m.Sync(context.Background()))
	if got, err := os.ReadFile(name); err != nil || string(got) != want {
		t.Errorf("once sent: %q, %v; want %q", got, err, want)
	}
}

// TestOfflineSavesKeepTheLast: two saves of a file while the server is unreachable (an
// editor saving twice, each with O_TRUNC) leave the last one once the server is back,
// and no conflict copy (no one else changed the file). The second save started from the
// version before the first, so the first won and the second became a conflict copy.
func TestOfflineSavesKeepTheLast(t *testing.T) {
	dir, name, m, up := offlineWith(t, "v1")
	must(t, os.WriteFile(name, []byte("v2 written offline"), 0o644))
	must(t, os.WriteFile(name, []byte("v3 written offline, later"), 0o644))
	up()
	must(t, m.Sync(context.Background()))
	if got, err := os.ReadFile(name); err != nil || string(got) != "v3 written offline, later" {
		t.Errorf("once the server is back: a.txt = %q, %v; want the last save", got, err)
	}
	if diff := cmp.Diff([]string{"a.txt"}, listNames(t, dir)); diff != "" {
		t.Errorf("folder (-want +got):\n%s", diff)
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
