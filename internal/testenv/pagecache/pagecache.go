//go:build linux

// Package pagecache helps tests see what the kernel's page cache holds of a file.
package pagecache

import (
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Dir is a folder for the test on a file system whose files go through a page cache that
// posix_fadvise and sync_file_range reach: the test's temporary folder, else one in the
// package's folder (tmpfs and overlayfs, often the temporary folder's, are not). It skips
// the test when neither is.
func Dir(tb testing.TB) string {
	tb.Helper()
	if dir := tb.TempDir(); cached(dir) {
		return dir
	}
	if dir, err := os.MkdirTemp(".", "test-"); err == nil {
		tb.Cleanup(func() { os.RemoveAll(dir) })
		if cached(dir) {
			return dir
		}
	}
	tb.Skip("neither the temporary folder nor the package's is on a file system with a page cache of its own")
	return ""
}

func cached(dir string) bool {
	var fs unix.Statfs_t
	return unix.Statfs(dir, &fs) == nil && fs.Type != unix.TMPFS_MAGIC && fs.Type != unix.OVERLAYFS_SUPER_MAGIC
}

// Resident counts the bytes of the file's first n bytes held in the page cache.
func Resident(tb testing.TB, name string, n int) int {
	tb.Helper()
	f, err := os.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		tb.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (n+page-1)/page)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		tb.Fatal(errno)
	}
	in := 0
	for _, v := range vec {
		if v&1 != 0 {
			in += page
		}
	}
	return in
}
