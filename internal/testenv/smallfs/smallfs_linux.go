package smallfs

import (
	"strconv"

	"golang.org/x/sys/unix"
)

func mount(dir string, size int64) error {
	return unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size="+strconv.FormatInt(size, 10)+",mode=0700")
}

func unmount(dir string) error { return unix.Unmount(dir, unix.MNT_DETACH) }
