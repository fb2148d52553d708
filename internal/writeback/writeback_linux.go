package writeback

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// openUnnamed opens an unnamed regular file in name's folder.
func openUnnamed(name string) (*os.File, error) {
	if !procFDs() {
		return nil, fmt.Errorf("a file without a name for %s: %w (no /proc/self/fd to link it through)", name, errors.ErrUnsupported)
	}
	fd, err := unix.Open(filepath.Dir(name), unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o666)
	switch {
	case err == unix.EOPNOTSUPP || err == unix.EISDIR || err == unix.EINVAL:
		// The file system has no unnamed files; a kernel older than 3.11 has none at all
		// and opens the folder (EISDIR).
		return nil, fmt.Errorf("a file without a name for %s: %w (%v)", name, errors.ErrUnsupported, err)
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), name)
	refused, chmod := unnamedChecks(f)
	if refused != nil {
		f.Close()
		return nil, fmt.Errorf("a file without a name for %s: %w (%v)", name, errors.ErrUnsupported, refused)
	}
	if chmod {
		if err := unix.Fchmod(fd, 0o666&^umask()); err != nil {
			f.Close()
			return nil, &fs.PathError{Op: "chmod", Path: name, Err: err}
		}
	}
	return f, nil
}

// unnamed is what the first unnamed file of the process told: whether the system links
// such files (a sandbox may refuse it, /proc/self/fd there or not), and whether it gives
// them the mode a named file gets (kernels before 5.19 leave the umask out on file systems
// without POSIX ACLs: such files are given their mode).
var unnamed struct {
	sync.Mutex
	checked bool
	refused error
	chmod   bool
}

// unnamedChecks checks, on the first unnamed file of the process, f, whether its mode is a
// named file's, and whether the system links such files: another one made beside it is
// linked to a name of its own, then that name is removed (a file linked then unlinked
// cannot be linked again: f itself is not).
func unnamedChecks(f *os.File) (refused error, chmod bool) {
	unnamed.Lock()
	defer unnamed.Unlock()
	if !unnamed.checked {
		unnamed.checked = true
		dir := filepath.Dir(f.Name())
		if fd, err := unix.Open(dir, unix.O_RDWR|unix.O_TMPFILE|unix.O_CLOEXEC, 0o600); err == nil {
			probe := os.NewFile(uintptr(fd), dir)
			name := filepath.Join(dir, ".parsec-link-check."+strconv.FormatUint(rand.Uint64(), 36))
			if err := link(probe, name); err != nil {
				unnamed.refused = err
			} else {
				os.Remove(name)
			}
			probe.Close()
		}
		var st unix.Stat_t
		if m := umask(); m&0o666 != 0 && unix.Fstat(int(f.Fd()), &st) == nil && st.Mode&0o777 == 0o666 {
			unnamed.chmod = true
		}
	}
	return unnamed.refused, unnamed.chmod
}

// umask is the process's file mode creation mask, as /proc/self/status tells it (0 when it
// does not: nothing to apply then).
var umask = sync.OnceValue(func() uint32 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			if err == nil {
				return uint32(m)
			}
		}
	}
	return 0
})

// link names the unnamed file f through its /proc/self/fd entry: linkat with
// AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH.
func link(f *os.File, newname string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, newname, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.PathError{Op: "link", Path: newname, Err: err}
	}
	return nil
}

// procFDs says whether /proc/self/fd is there (it is not in some sandboxes and containers).
var procFDs = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})
