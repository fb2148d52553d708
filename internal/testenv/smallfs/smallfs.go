// Package smallfs gives a test a small file system of its own, which it fills to see what a
// store on it does when its disk is full, and frees to see it recover. It never touches a
// file system it did not mount.
//
// It mounts a tmpfs, which takes the privileges of root on Linux: elsewhere, or without them,
// the test is skipped; as root, a mount that fails fails the test when
// PARSEC_TEST_DISALLOW_SKIP is set.
package smallfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// New mounts a file system of size bytes on a new directory, unmounted at the end of the
// test, and returns the directory.
func New(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := mount(dir, size); err != nil {
		if os.Geteuid() == 0 && os.Getenv("PARSEC_TEST_DISALLOW_SKIP") != "" {
			t.Fatalf("mount a small file system: %v", err)
		}
		t.Skipf("mount a small file system: %v", err)
	}
	t.Cleanup(func() {
		if err := unmount(dir); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// Fill takes every byte left on the file system holding dir, with one file, and returns the
// function that frees them.
func Fill(t testing.TB, dir string) (free func()) {
	t.Helper()
	f, err := os.CreateTemp(dir, "filler-")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for len(buf) > 0 {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			buf = buf[:len(buf)/2] // the last pages, down to one byte
		}
	}
	if err := f.Close(); err != nil && !errors.Is(err, syscall.ENOSPC) {
		t.Fatal(err)
	}
	name := filepath.Clean(f.Name())
	return func() {
		t.Helper()
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
}
