//go:build !linux

package writeback

import "errors"

var errUnsupported = errors.New("write-back is not supported here")

func (w *File) start(off, n int64) error { return errUnsupported }

func (w *File) drop(off, n int64) error { return errUnsupported }

func unsupported(err error) bool { return err == errUnsupported }
