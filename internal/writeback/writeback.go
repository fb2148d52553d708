package writeback

import (
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
	off     int64 // bytes written
	started int64 // bytes whose write-back has started
	dropped int64 // bytes on disk and out of the page cache
	plain   bool  // the system cannot do it for this file: write as usual
}

// Create creates or truncates the named file (mode 0666 before umask, as os.Create) for
// writing from its start.
func Create(name string) (*File, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	return &File{f: f}, nil
}

// Write writes p at the end of what was written. Besides a write's own errors, it returns
// an error the disk gave for an earlier step (as fsync would).
func (w *File) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.off += int64(n)
	if err != nil || w.plain {
		return n, err
	}
	for w.off-w.started >= Step {
		if err := w.start(w.started, Step); err != nil {
			return n, w.giveUp(err)
		}
		w.started += Step
		if w.started-w.dropped > Window {
			if err := w.drop(w.dropped, Step); err != nil {
				return n, w.giveUp(err)
			}
			w.dropped += Step
		}
	}
	return n, nil
}

// giveUp makes w a plain file when the system cannot write back this file (an error that
// says so is no write error), and returns any other error.
func (w *File) giveUp(err error) error {
	if unsupported(err) {
		w.plain = true
		return nil
	}
	return err
}

// Close closes the file. The last window stays in the page cache, being written back.
func (w *File) Close() error {
	return w.f.Close()
}

// Name is the file's name, as given to Create.
func (w *File) Name() string { return w.f.Name() }
