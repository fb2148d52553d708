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
