package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/testenv"
)

// TestMountCommands: "parsec mount DIR" shows every workspace as a folder and stops when
// unmounted from outside; "parsec workspace mount WS DIR" shows one and stops at Ctrl-C.
// What was written through them is sent, and read back with "parsec cat".
func TestMountCommands(t *testing.T) {
	testenv.RequireFUSE(t)
	t.Parallel()
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice")
	w.as(alice, "workspace", "create", "Docs").ok()
	w.as(alice, "workspace", "create", "Photos").ok()

	// Every workspace, unmounted with fusermount3 -u.
	dir := t.TempDir()
	p := w.start(alice.password+"\n", "mount", dir, "--config-dir", alice.dir, "--password-stdin")
	p.expect(p.stderr, `^Mounted every workspace at `)
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 2 || entries[0].Name() != "Docs" || entries[1].Name() != "Photos" {
		t.Errorf("the mount lists %v (%v), want Docs and Photos", entries, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Docs", "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("fusermount3", "-u", dir).CombinedOutput(); err != nil {
		t.Fatalf("fusermount3 -u: %v\n%s", err, out)
	}
	p.expect(p.stderr, `^Everything written was sent\.$`)
	p.wantExit(exitOK)
	if got := w.as(alice, "cat", "Docs:/hello.txt").ok(); got != "hello\n" {
		t.Errorf("Docs:/hello.txt = %q after the mount", got)
	}

	// One workspace, interrupted.
	p = w.start(alice.password+"\n", "workspace", "mount", "Photos", dir, "--config-dir", alice.dir, "--password-stdin")
	p.expect(p.stderr, `^Mounted workspace "Photos" at `)
	if err := os.Mkdir(filepath.Join(dir, "2025"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "2025", "cat.jpg"), []byte("meow"), 0o644); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(os.Interrupt)
	p.expect(p.stderr, `^Everything written was sent\.$`)
	p.wantExit(exitOK)
	if got := w.as(alice, "cat", "Photos:/2025/cat.jpg").ok(); got != "meow" {
		t.Errorf("Photos:/2025/cat.jpg = %q after the mount", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the folder still shows %v after unmounting", entries)
	}
}

// TestMountFollowsRename: "parsec mount DIR" names each folder after its workspace, and
// when another device renames the workspace, the folder takes the new name (the mount says
// so); what is written under it is sent to the workspace. SIGTERM unmounts it.
func TestMountFollowsRename(t *testing.T) {
	testenv.RequireFUSE(t)
	t.Parallel()
	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice")
	bob := w.join(alice, "bob@example.com", "Bob", "member")
	w.as(alice, "workspace", "create", "Docs").ok()
	w.as(alice, "workspace", "share", "Docs", "bob@example.com", "--role", "owner").ok()

	dir := t.TempDir()
	p := w.start(alice.password+"\n", "mount", dir, "--config-dir", alice.dir, "--password-stdin")
	p.expect(p.stderr, `^Mounted every workspace at `)
	if err := os.WriteFile(filepath.Join(dir, "Docs", "before.txt"), []byte("before"), 0o644); err != nil {
		t.Fatal(err)
	}
	w.as(bob, "workspace", "rename", "Docs", "Reports").ok()
	p.expect(p.stderr, `^Workspace "Docs" was renamed "Reports"$`)
	if names := folderNames(t, dir); !slices.Equal(names, []string{"Reports"}) {
		t.Errorf("after the rename, the mount lists %q, want Reports", names)
	}
	if err := os.WriteFile(filepath.Join(dir, "Reports", "after.txt"), []byte("after"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "Reports", "before.txt")); err != nil || string(got) != "before" {
		t.Errorf("Reports/before.txt = %q, %v", got, err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.expect(p.stderr, `^Everything written was sent\.$`)
	p.wantExit(exitOK)
	for name, want := range map[string]string{"before.txt": "before", "after.txt": "after"} {
		if got := w.as(bob, "cat", "Reports:/"+name).ok(); got != want {
			t.Errorf("bob reads Reports:/%s = %q, want %q", name, got, want)
		}
	}
}

// TestMountOfflineKeepsWrites: with the server stopped, the mount still reads what the
// device has (a file read before, folder listings) and takes writes; unmounted, it says
// what is kept on the device. Once the server is back, the next mount sends it, and another
// member reads the file byte for byte; nothing is left in the spool folder. The same when
// the mount is killed instead of unmounted.
func TestMountOfflineKeepsWrites(t *testing.T) {
	testenv.RequireFUSE(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	w := &world{t: t, ctx: ctx, dataDir: t.TempDir()}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	w.url = "http://" + addr
	var server *proc
	start := func() {
		t.Helper()
		server = w.start("", "server", "run", "--dev", "--addr", addr, "--data-dir", w.dataDir)
		server.expect(server.stderr, `^  URL: +(http://\S+)$`)
	}
	stop := func() {
		t.Helper()
		server.cmd.Process.Signal(os.Interrupt)
		if code := server.wait(); code != exitOK {
			t.Fatalf("the server exited with code %d:\n%s", code, server)
		}
	}
	start()
	defer stop()
	alice := w.bootstrap("alice@example.com", "Alice")
	bob := w.join(alice, "bob@example.com", "Bob", "member")
	w.as(alice, "workspace", "create", "Docs").ok()
	w.as(alice, "workspace", "share", "Docs", "bob@example.com", "--role", "reader").ok()
	before := randomContent(t, 700<<10)
	w.as(alice, "cp", localFile(t, string(before)), "Docs:/before.bin").ok()

	dir := t.TempDir()
	mount := func(first ...string) *proc {
		t.Helper()
		p := w.start(alice.password+"\n", "mount", dir, "--config-dir", alice.dir, "--password-stdin")
		for _, line := range first {
			p.expect(p.stderr, line)
		}
		p.expect(p.stderr, `^Mounted every workspace at `)
		return p
	}
	unmount := func() {
		t.Helper()
		if out, err := exec.Command("fusermount3", "-u", dir).CombinedOutput(); err != nil {
			t.Fatalf("fusermount3 -u: %v\n%s", err, out)
		}
	}
	p := mount()
	if got, err := os.ReadFile(filepath.Join(dir, "Docs", "before.bin")); err != nil || !bytes.Equal(got, before) {
		t.Fatalf("before.bin read online: %d bytes, %v", len(got), err)
	}

	stop()
	if got, err := os.ReadFile(filepath.Join(dir, "Docs", "before.bin")); err != nil || !bytes.Equal(got, before) {
		t.Errorf("before.bin read offline: %d bytes, %v", len(got), err)
	}
	offline := randomContent(t, 1300<<10) // three blocks
	if err := os.Mkdir(filepath.Join(dir, "Docs", "made offline"), 0o755); err != nil {
		t.Fatalf("mkdir offline: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Docs", "made offline", "offline.bin"), offline, 0o644); err != nil {
		t.Fatalf("writing a file offline: %v", err)
	}
	if names := folderNames(t, filepath.Join(dir, "Docs")); !slices.Equal(names, []string{"before.bin", "made offline"}) {
		t.Errorf("offline, Docs lists %q", names)
	}
	unmount()
	p.expect(p.stderr, `^Kept on this device, to send later:$`)
	p.expect(p.stderr, `^  workspace "Docs": what was written to /made offline/offline\.bin \(the next mount sends it\)$`)
	p.wantExit(exitOK)

	start()
	p = mount(`^Workspace "Docs": sending what was written to /made offline/offline\.bin while the server was unreachable`)
	unmount()
	p.expect(p.stderr, `^Everything written was sent\.$`)
	p.wantExit(exitOK)
	if got := w.as(bob, "cat", "Docs:/made offline/offline.bin").ok(); got != string(offline) {
		t.Errorf("bob reads %d bytes of offline.bin, want the %d written offline", len(got), len(offline))
	}
	if left, _ := filepath.Glob(filepath.Join(alice.dir, "mount-spool", "*", "*")); len(left) > 0 {
		t.Errorf("left in the spool folder: %q", left)
	}

	// A mount killed (no chance to say anything) after a file was closed offline: the
	// next mount sends it all the same.
	p = mount()
	stop()
	killed := randomContent(t, 600<<10)
	if err := os.WriteFile(filepath.Join(dir, "Docs", "killed.bin"), killed, 0o644); err != nil {
		t.Fatalf("writing a file offline: %v", err)
	}
	p.cmd.Process.Kill()
	p.wait()
	unmount() // what the killed process left: "transport endpoint is not connected"
	start()
	p = mount(`^Workspace "Docs": sending what was written to /killed\.bin while the server was unreachable`)
	unmount()
	p.expect(p.stderr, `^Everything written was sent\.$`)
	p.wantExit(exitOK)
	if got := w.as(bob, "cat", "Docs:/killed.bin").ok(); got != string(killed) {
		t.Errorf("bob reads %d bytes of killed.bin, want the %d written offline", len(got), len(killed))
	}
	if left, _ := filepath.Glob(filepath.Join(alice.dir, "mount-spool", "*")); len(left) > 0 {
		t.Errorf("left in the spool folder: %q", left)
	}
}

// folderNames lists the names in dir.
func folderNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
