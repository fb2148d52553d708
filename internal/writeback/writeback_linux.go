package writeback

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// supported tells whether f, just created, can be written back: a regular file on a file
// system whose page cache sync_file_range and posix_fadvise reach, which accepts both.
func supported(f *os.File, fd int) bool {
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err != nil || fs.Type == unix.TMPFS_MAGIC || fs.Type == unix.OVERLAYFS_SUPER_MAGIC {
		return false
	}
	// Both calls do nothing here but say whether they are allowed.
	return unix.SyncFileRange(fd, 0, 0, 0) == nil && unix.Fadvise(fd, 0, 0, unix.FADV_NORMAL) == nil
}

// start starts writing back a range of the file, without waiting.
func start(fd int, off, n int64) error {
	return unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// drop waits until a range of the file is on disk, then drops it from the page cache.
func drop(fd int, off, n int64) error {
	err := unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	if err != nil {
		return err
	}
	return unix.Fadvise(fd, off, n, unix.FADV_DONTNEED)
}

// openUnnamed opens an unnamed regular file in dir.
func openUnnamed(dir string) (*os.File, error) {
	if !procFDs() {
		return nil, fmt.Errorf("a file without a name in %s: %w (no /proc/self/fd to link it through)", dir, errors.ErrUnsupported)
	}
	fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o666)
	switch {
	case err == unix.EOPNOTSUPP || err == unix.EISDIR || err == unix.EINVAL:
		// The file system has no unnamed files; a kernel older than 3.11 has none at all
		// and opens the folder (EISDIR).
		return nil, fmt.Errorf("a file without a name in %s: %w (%v)", dir, errors.ErrUnsupported, err)
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// link names the unnamed file f through its /proc/self/fd entry: linkat with
// AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH.
func link(f *os.File, newname string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, newname, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: newname, Err: err}
	}
	return nil
}

// procFDs says whether /proc/self/fd is there (it is not in some sandboxes and containers).
var procFDs = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})
