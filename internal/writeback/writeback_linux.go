package writeback

import (
	"os"

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
