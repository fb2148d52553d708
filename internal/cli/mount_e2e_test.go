package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

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
