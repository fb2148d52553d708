//go:build !linux

package writeback

import (
	"errors"
	"fmt"
	"os"
)

// supported is false: write-back is done on Linux only.
func supported(*os.File, int) bool { return false }

var errNotHere = errors.New("write-back is done on Linux only")

func openUnnamed(name string) (*os.File, error) {
	return nil, fmt.Errorf("a file without a name for %s: %w", name, errors.ErrUnsupported)
}

func link(*os.File, string) error { return errors.ErrUnsupported }

func start(fd int, off, n int64) error { return errNotHere }

func drop(fd int, off, n int64) error { return errNotHere }
