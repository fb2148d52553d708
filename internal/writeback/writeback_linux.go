package writeback

import (
	"errors"

	"golang.org/x/sys/unix"
)

// start starts writing back a range of the file, without waiting.
func (w *File) start(off, n int64) error {
	return unix.SyncFileRange(int(w.f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// drop waits until a range of the file is on disk, then drops it from the page cache.
func (w *File) drop(off, n int64) error {
	fd := int(w.f.Fd())
	err := unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
	if err != nil {
		return err
	}
	return unix.Fadvise(fd, off, n, unix.FADV_DONTNEED)
}

// unsupported tells the errors of a file that cannot be written back (a pipe, a device, a
// file system without it) from a failed write.
func unsupported(err error) bool {
	return errors.Is(err, unix.ESPIPE) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP)
}
