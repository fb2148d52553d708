package writeback

import (
	"errors"
	"os"
)

const (
	// Step is how many bytes are sent to the disk at once.
	Step = 8 << 20
	// Window is how far behind the writing point a written step is waited for and dropped.
	Window = 4 * Step
)

// File is a file being written from its start to its end.
type File struct {
	f       *os.File
	fd      int
	off     int64 // bytes written
	started int64 // bytes whose write-back has started
	dropped int64 // bytes on disk and out of the page cache
	plain   bool  // written as usual: the system cannot write this file back
	decided bool  // plain is known (asked once a step is written: see Write)
	err     error // the first write-back error: every later write returns it
	unnamed bool  // made by CreateUnnamed
}

// Create creates or truncates the named file (mode 0666 before umask, as os.Create) for
// writing from its start.
func Create(name string) (*File, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	return &File{f: f, fd: int(f.Fd())}, nil
}

// CreateUnnamed creates a file to be named name, in name's folder, that has no name until
// Link gives it one (on Linux, with O_TMPFILE): one never linked is gone once closed, or
// once the process ends, even killed. Errors name it name. Where the system or the
// folder's file system cannot make one, or will not link one (checked on the first file
// of the process), the error wraps errors.ErrUnsupported and the caller creates a named
// file instead.
func CreateUnnamed(name string) (*File, error) {
	f, err := openUnnamed(name)
	if err != nil {
		return nil, err
	}
	return &File{f: f, fd: int(f.Fd()), unnamed: true}, nil
}

// Link gives a file made by CreateUnnamed the name newname, which must not exist (the
// error then matches fs.ErrExist). It is called before Close, once or more: each name is
// a link to the same file.
func (w *File) Link(newname string) error {
	if !w.unnamed {
		return &os.PathError{Op: "link", Path: newname, Err: errNamed}
	}
	return link(w.f, newname)
}

// ask is supported; tests count its calls.
var ask = supported

// Write writes p at the end of what was written. Besides a write's own errors, it returns
// an error the disk gave for an earlier step (as fsync would), and then fails every later
// write with it.
func (w *File) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	w.off += int64(n)
	if err != nil || w.plain {
		return n, err
	}
	for w.off-w.started >= Step {
		if !w.decided {
			// Asked of the first step only: a file smaller than one (most files of a
			// tree) costs no more system calls than a plain one.
			if w.decided, w.plain = true, !ask(w.f, w.fd); w.plain {
				return n, nil
			}
		}
		if w.err = start(w.fd, w.started, Step); w.err != nil {
			return n, w.err
		}
		w.started += Step
		if w.started-w.dropped > Window {
			if w.err = drop(w.fd, w.dropped, Step); w.err != nil {
				return n, w.err
			}
			w.dropped += Step
		}
	}
	return n, nil
}

// Close closes the file. Its last steps stay in the page cache, being written back.
func (w *File) Close() error {
	return w.f.Close()
}

// Name is the file's name, as given to Create (or the name CreateUnnamed made it for).
func (w *File) Name() string { return w.f.Name() }

var errNamed = errors.New("the file has a name already: Link is for files made by CreateUnnamed")
