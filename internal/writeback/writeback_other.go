//go:build !linux

package writeback

import (
	"errors"
	"os"
)

// supported is false: write-back is done on Linux only.
func supported(*os.File, int) bool { return false }

var errNotHere = errors.New("write-back is done on Linux only")

func start(fd int, off, n int64) error { return errNotHere }

func drop(fd int, off, n int64) error { return errNotHere }
