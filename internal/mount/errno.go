package mount

import (
	"context"
	"errors"
	"os"
	"syscall"

	"github.com/parsec-go/parsec/internal/parsec"
)

// errno is the one place where an error becomes what a program sees: the error's kind
// decides (parsec.Kind), an errno passes through, and errors that say something is wrong
// with the server or the device are told to the person (warn) since a program only sees
// "input/output error".
func (m *Mount) errno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, os.ErrNotExist):
		return syscall.ENOENT
	}
	switch parsec.KindOf(err) {
	case parsec.NotFound, parsec.Gone:
		return syscall.ENOENT
	case parsec.Exists:
		return syscall.EEXIST
	case parsec.Invalid:
		return syscall.EINVAL
	case parsec.Permission, parsec.Unauthorized, parsec.BadAuth, parsec.Revoked, parsec.Frozen, parsec.Expired:
		return syscall.EACCES
	case parsec.TooLarge:
		return syscall.EFBIG
	case parsec.Cancelled:
		return syscall.EINTR
	case parsec.Conflict:
		return syscall.EAGAIN
	}
	m.warn("%v", err) // Unavailable, Tampered, Skew, Other
	return syscall.EIO
}
