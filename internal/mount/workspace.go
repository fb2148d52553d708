package mount

import (
	"context"
	"io"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// workspace is a mounted workspace: its files open, and its syncer.
type workspace struct {
	m        *Mount
	id       parsec.VlobID
	w        *client.Workspace
	src      source      // what is shown: w, or the workspace as it was (Options.At)
	past     bool        // src is the past: read-only, never synced
	name     string      // for messages, as it was when mounted
	readOnly atomic.Bool // a reader's, or archived: writes fail with EROFS
	kick     chan struct{}

	mu    sync.Mutex
	files map[parsec.VlobID]*openFile // open files, by ID
	// pending are files closed while their content could not be saved on the device (it
	// can only fail when the server is needed and unreachable): retried by the syncer.
	pending []*openFile
}

// source is what a mounted workspace shows: the workspace as this device has it
// (*client.Workspace), or as it was at a time (*client.Past).
type source interface {
	Stat(p string) (client.Entry, error)
	List(p string) ([]client.Entry, error)
	OpenFile(p string) (*client.FileReader, error)
	ReadFile(ctx context.Context, p string, dst io.Writer) error
}

// setInfo follows what the certificates say of the workspace: whether it is writable (the
// past never is).
func (ws *workspace) setInfo(info client.WorkspaceInfo) {
	ws.readOnly.Store(ws.past || info.Writable() != nil)
}

// displayName is how messages name a workspace.
func displayName(info client.WorkspaceInfo) string {
	if info.Name == "" {
		return parsec.ShortID(info.ID)
	}
	return strconv.Quote(info.Name)
}

// kickSync asks the syncer to sync soon.
func (ws *workspace) kickSync() {
	select {
	case ws.kick <- struct{}{}:
	default:
	}
}

// syncQuiet is how long the syncer waits for changes to stop coming before it syncs, so
// that a program writing many files sends them in few requests; syncRetry is when it tries
// again after a failure.
const (
	syncQuiet = 200 * time.Millisecond
	syncRetry = 5 * time.Second
)

// syncer syncs the workspace when kicked (a change here, an event from the server), and
// retries while the sync fails.
func (ws *workspace) syncer() {
	ctx := ws.m.ctx
	var retry <-chan time.Time
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-ws.kick:
		case <-retry:
		}
		for quiet := false; !quiet; {
			select {
			case <-ctx.Done():
				return
			case <-ws.kick:
			case <-time.After(syncQuiet):
				quiet = true
			}
		}
		ws.writePending(ctx)
		err := ws.w.Sync(ctx)
		if ctx.Err() != nil {
			return
		}
		if info, ierr := ws.w.Info(ctx); ierr == nil {
			ws.setInfo(info)
		}
		switch {
		case err != nil && !failing:
			ws.m.warn("workspace %s not synced, changes are kept on this device and sent when possible: %v", ws.name, err)
		case err == nil && failing:
			ws.m.warn("workspace %s synced again", ws.name)
		}
		failing = err != nil
		retry = nil
		if failing {
			retry = time.After(syncRetry)
		}
	}
}

// writePending saves the content of the files closed while it could not be saved; it
// returns those still not saved.
func (ws *workspace) writePending(ctx context.Context) []*openFile {
	ws.mu.Lock()
	pending := ws.pending
	ws.pending = nil
	ws.mu.Unlock()
	var left []*openFile
	for _, f := range pending {
		if err := f.save(ctx); err != nil {
			left = append(left, f)
			continue
		}
		f.drop()
	}
	ws.mu.Lock()
	ws.pending = append(ws.pending, left...)
	ws.mu.Unlock()
	return left
}

// An openFile is a file with open handles. Reads go to the version current when it was
// first opened, until something is written: from then on the file lives in a spool (a
// private temporary file seeded with its content), which every handle reads and writes,
// until it is saved as a new version (on close or fsync) and its last handle released.
type openFile struct {
	ws      *workspace
	id      parsec.VlobID
	handles int // under ws.mu

	mu     sync.Mutex
	path   func() (string, bool) // where the file is now, false once removed
	reader *client.FileReader
	spool  *os.File
	dirty  bool                // the spool holds changes not saved
	since  client.ContentStamp // the content the spool started from, or last saved
}

// acquire returns the open file id, counting one more handle.
func (ws *workspace) acquire(id parsec.VlobID, path func() (string, bool)) *openFile {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	f := ws.files[id]
	if f == nil {
		f = &openFile{ws: ws, id: id, path: path}
		ws.files[id] = f
	}
	f.handles++
	return f
}

// release counts one handle less; the last one saves what is not saved yet (kept for the
// syncer to retry when that fails) and removes the spool.
func (ws *workspace) release(ctx context.Context, f *openFile) {
	ws.mu.Lock()
	f.handles--
	last := f.handles == 0
	if last {
		delete(ws.files, f.id)
	}
	ws.mu.Unlock()
	if !last {
		return
	}
	f.mu.Lock()
	err := f.writeBack(ctx)
	f.mu.Unlock()
	if err != nil {
		ws.m.warn("workspace %s: a closed file could not be saved yet (retried): %v", ws.name, err)
		ws.mu.Lock()
		ws.pending = append(ws.pending, f)
		ws.mu.Unlock()
		ws.kickSync()
		return
	}
	f.drop()
}

// spooled returns the open file id when it is spooled, for its size and times.
func (ws *workspace) spooled(id parsec.VlobID) (os.FileInfo, bool) {
	ws.mu.Lock()
	f := ws.files[id]
	ws.mu.Unlock()
	if f == nil {
		return nil, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.spool == nil {
		return nil, false
	}
	fi, err := f.spool.Stat()
	return fi, err == nil
}

// drop removes the spool.
func (f *openFile) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.spool != nil {
		f.spool.Close()
		os.Remove(f.spool.Name())
		f.spool = nil
	}
}

// ensureSpool makes the spool, with the file's content when seed (under f.mu).
func (f *openFile) ensureSpool(ctx context.Context, seed bool) error {
	if f.spool != nil {
		return nil
	}
	spool, err := os.CreateTemp(f.ws.m.spool, "open-*") // 0600
	if err != nil {
		return err
	}
	// What the spool starts from: if it changes before the spool is saved, the save goes
	// beside it as a conflict copy.
	if f.since, err = f.ws.w.Stamp(f.id); err != nil {
		spool.Close()
		os.Remove(spool.Name())
		return err
	}
	if seed {
		p, ok := f.path()
		if !ok {
			spool.Close()
			os.Remove(spool.Name())
			return os.ErrNotExist
		}
		if err := f.ws.src.ReadFile(ctx, p, spool); err != nil {
			spool.Close()
			os.Remove(spool.Name())
			return err
		}
	}
	f.spool = spool
	return nil
}

// readAt reads the file at off.
func (f *openFile) readAt(ctx context.Context, dst []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.spool == nil && f.reader == nil {
		p, ok := f.path()
		if !ok {
			return 0, os.ErrNotExist
		}
		r, err := f.ws.src.OpenFile(p)
		if err != nil {
			return 0, err
		}
		f.reader = r
	}
	var n int
	var err error
	if f.spool != nil {
		n, err = f.spool.ReadAt(dst, off)
	} else {
		n, err = f.reader.ReadAt(ctx, dst, off)
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// writeAt writes data at off, in the spool.
func (f *openFile) writeAt(ctx context.Context, data []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.ensureSpool(ctx, true); err != nil {
		return 0, err
	}
	f.dirty = true
	return f.spool.WriteAt(data, off)
}

// truncate sets the file's size.
func (f *openFile) truncate(ctx context.Context, size uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.ensureSpool(ctx, size > 0); err != nil {
		return err
	}
	f.dirty = true
	return f.spool.Truncate(int64(size))
}

// spoolEmpty spools a file just created empty (and saved so).
func (f *openFile) spoolEmpty(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ensureSpool(ctx, false)
}

// save saves the spool's content as a new version when it changed.
func (f *openFile) save(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writeBack(ctx)
}

// writeBack is save under f.mu. A file removed meanwhile has nothing to save.
func (f *openFile) writeBack(ctx context.Context) error {
	if !f.dirty {
		return nil
	}
	if _, ok := f.path(); !ok {
		f.dirty = false
		return nil
	}
	fi, err := f.spool.Stat()
	if err != nil {
		return err
	}
	spool := f.spool
	since, copied, err := f.ws.w.WriteContentSince(ctx, f.id, f.since, func() (io.ReadCloser, error) {
		return io.NopCloser(io.NewSectionReader(spool, 0, fi.Size())), nil
	})
	if err != nil {
		return err
	}
	if copied {
		p, _ := f.path()
		f.ws.m.warn("%s changed on the server while it was open here: what was written here is kept beside it as a conflict copy", p)
	}
	f.since = since
	f.dirty = false
	f.reader = nil
	f.ws.kickSync()
	return nil
}
