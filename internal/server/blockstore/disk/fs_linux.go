package disk

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveSyncfs says that PutBatch makes its files durable with syncfs(2): one call
// flushes every file written to the file system, and commits its journal, for a fraction
// of the cost of an fsync per file (see BenchmarkPutBatch).
const haveSyncfs = true

// syncFS makes durable everything written to the file system holding dir.
func syncFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = unix.Syncfs(int(d.Fd()))
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &os.PathError{Op: "syncfs", Path: dir, Err: err}
	}
	return nil
}

// dropCache drops the pages of f, a block file just made durable, from the page cache
// (they are clean: dropped at once). It is advice: where the file system keeps them
// (tmpfs), nothing changes.
func dropCache(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// willRead starts reading the first size bytes of f into the page cache, in the
// background, in as few requests as the disk takes: a block about to be sent whole.
func willRead(f *os.File, size int64) {
	_ = unix.Fadvise(int(f.Fd()), 0, size, unix.FADV_WILLNEED)
}
