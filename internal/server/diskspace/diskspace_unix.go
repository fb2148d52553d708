//go:build unix

package diskspace

import (
	"os"

	"golang.org/x/sys/unix"
)

// Free returns the bytes left for an unprivileged process on the file system holding path.
func Free(path string) (int64, error) {
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		return 0, &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	return int64(fs.Bavail) * int64(fs.Bsize), nil
}
