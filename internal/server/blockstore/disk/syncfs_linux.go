package disk

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveSyncfs says that PutBatch makes its files durable with syncfs(2): one call
// flushes every file written to the file system, and commits its journal, for a fraction
// of the cost of an fsync per file (see BenchmarkPutBatch).
const haveSyncfs = true

// syncFS makes durable everything written to the file system holding the open file d
// (a directory), and reports the write-back errors of that file system since d was opened
// or last synced so.
func syncFS(d *os.File) error {
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return &os.PathError{Op: "syncfs", Path: d.Name(), Err: err}
	}
	return nil
}
