package mount

import (
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
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
	src      source                 // what is shown: w, or the workspace as it was (Options.At)
	past     bool                   // src is the past: read-only, never synced
	name     atomic.Pointer[string] // for messages: its current name (see label)
	readOnly atomic.Bool            // a reader's, or archived: writes fail with EROFS
	kick     chan struct{}

	mu sync.Mutex
	// files are the open files, by ID, and the pending ones: closed while their content
	// could not be saved on the device (it can only fail when the server is needed and
	// unreachable), retried by the syncer, and noted in the spool so that the next mount
	// sends them if this one cannot (keep). A pending file opened again is found here: its
	// handles read and write what was written, not the version it was written over.
	files map[parsec.VlobID]*openFile
}

// source is what a mounted workspace shows: the workspace as this device has it
// (*client.Workspace), or as it was at a time (*client.Past).
type source interface {
	Stat(p string) (client.Entry, error)
	List(p string) ([]client.Entry, error)
	OpenFile(p string) (*client.FileReader, error)
	ReadFile(ctx context.Context, p string, dst io.Writer) error
}

// setInfo follows what the certificates say of the workspace: its name, and whether it is
// writable (the past never is). Changes after the first are told (Options.Notice).
func (ws *workspace) setInfo(info client.WorkspaceInfo) {
	name := displayName(info)
	old := ws.name.Swap(&name)
	readOnly := ws.past || info.Writable() != nil
	wasReadOnly := ws.readOnly.Swap(readOnly)
	if old == nil {
		return
	}
	if *old != name {
		ws.m.notice("workspace %s was renamed %s", *old, name)
	}
	switch {
	case readOnly && !wasReadOnly:
		ws.m.notice("workspace %s is now read-only here: %v", name, info.Writable())
	case !readOnly && wasReadOnly:
		ws.m.notice("workspace %s can be changed again", name)
	}
}

// label is how messages name the workspace now.
func (ws *workspace) label() string { return *ws.name.Load() }

// refreshInfo reads what the certificates say of the workspace now.
func (ws *workspace) refreshInfo(ctx context.Context) {
	if info, err := ws.w.Info(ctx); err == nil {
		ws.setInfo(info)
	}
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
		ws.refreshInfo(ctx)
		if synced := ws.m.opts.testOnlySynced; synced != nil {
			synced(ws.id, err)
		}
		switch {
		case err != nil && !failing:
			ws.m.warn("workspace %s not synced, changes are kept on this device and sent when possible: %v", ws.label(), err)
		case err == nil && failing:
			ws.m.warn("workspace %s synced again", ws.label())
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
	var pending []*openFile
	for _, f := range ws.files {
		if f.pending {
			pending = append(pending, f)
		}
	}
	ws.mu.Unlock()
	var left []*openFile
	for _, f := range pending {
		if err := f.save(ctx); err != nil {
			left = append(left, f)
			continue
		}
		ws.forget(f)
	}
	return left
}

// forget drops f, saved, unless it was opened again meanwhile.
func (ws *workspace) forget(f *openFile) {
	ws.mu.Lock()
	unused := f.handles == 0 && ws.files[f.id] == f
	if unused {
		delete(ws.files, f.id)
	}
	ws.mu.Unlock()
	if unused {
		f.drop()
	}
}

// An openFile is a file with open handles. Reads go to the version current when it was
// first opened, until something is written: from then on the file lives in a spool (a
// private temporary file seeded with its content), which every handle reads and writes,
// until it is saved as a new version (on close or fsync) and its last handle released.
type openFile struct {
	ws      *workspace
	id      parsec.VlobID
	handles int  // under ws.mu
	pending bool // under ws.mu: closed, its content not saved yet (ws.files)

	// unlinked: removed through this mount (unlink, or a rename over it), when what was
	// written is not saved, as on any file system; removed by another member, it is.
	unlinked atomic.Bool

	mu     sync.Mutex
	path   func() (string, bool) // where the file is now, false once removed
	seen   string                // where it was last seen (where)
	reader *client.FileReader
	spool  *os.File
	note   string              // the file noting the spool as kept for a later mount (keep)
	dirty  bool                // the spool holds changes not saved
	since  client.ContentStamp // the content the spool started from, or last saved
}

// acquire returns the open file id, counting one more handle: the one already open or
// pending, if any. Where it is comes from the workspace (the kernel forgets a file's node
// once it is closed, and at unmount, while its content may still be waiting to be saved);
// in the past, from the node that opened it.
func (ws *workspace) acquire(id parsec.VlobID, nodePath func() (string, bool)) *openFile {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	f := ws.files[id]
	if f == nil {
		f = &openFile{ws: ws, id: id, path: nodePath}
		if !ws.past {
			f.path = ws.pathOf(id)
		}
		ws.files[id] = f
	}
	f.handles++
	f.pending = false // its last release saves it, or makes it pending again
	return f
}

// release counts one handle less; the last one saves what is not saved yet (pending, for
// the syncer to retry, when that fails) and removes the spool. The file stays in ws.files
// until then, so that a handle opened meanwhile shares it.
func (ws *workspace) release(ctx context.Context, f *openFile) {
	ws.mu.Lock()
	f.handles--
	last := f.handles == 0
	ws.mu.Unlock()
	if !last {
		return
	}
	if err := f.save(ctx); err != nil {
		p, _ := f.path()
		ws.m.warn("workspace %s: %s was closed but cannot be saved yet, it is kept on this device and retried: %v", ws.label(), p, err)
		if err := ws.keep(f); err != nil {
			ws.m.warn("workspace %s: %v", ws.label(), err)
		}
		ws.mu.Lock()
		f.pending = f.handles == 0
		ws.mu.Unlock()
		ws.kickSync()
		return
	}
	ws.forget(f)
}

// file returns the open (or pending) file id, nil if none.
func (ws *workspace) file(id parsec.VlobID) *openFile {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.files[id]
}

// spooled returns the open file id when it is spooled, for its size and times.
func (ws *workspace) spooled(id parsec.VlobID) (os.FileInfo, bool) {
	f := ws.file(id)
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

// pathOf returns where entry id is now in the workspace, false once removed.
func (ws *workspace) pathOf(id parsec.VlobID) func() (string, bool) {
	return func() (string, bool) {
		p, err := ws.w.PathOf(id)
		return p, err == nil
	}
}

// removedHere notes that entry id is being removed through this mount (undone when the
// removal failed): an open file's content is then not saved.
func (ws *workspace) removedHere(id parsec.VlobID, removed bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if f := ws.files[id]; f != nil {
		f.unlinked.Store(removed)
	}
}

// where returns where the file is now, false once removed, and remembers it (under f.mu).
func (f *openFile) where() (string, bool) {
	p, ok := f.path()
	if ok {
		f.seen = p
	}
	return p, ok
}

// drop removes the spool, and what noted it as kept.
func (f *openFile) drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.spool != nil {
		f.spool.Close()
		os.Remove(f.spool.Name())
		if dir := filepath.Dir(f.spool.Name()); dir != f.ws.m.spool {
			os.Remove(dir) // an earlier mount's (adopt), once empty
		}
		f.spool = nil
	}
	if f.note != "" {
		os.Remove(f.note)
		f.note = ""
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
	p, ok := f.where()
	if seed {
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

// open fixes the version the file's handles read, when it is not spooled: the one at its
// path now. A removal, or a rename over it, does not change what they read then, as with
// any file system (the content lives until the last close).
func (f *openFile) open() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.openReader()
}

// openReader is open under f.mu.
func (f *openFile) openReader() error {
	if f.spool != nil || f.reader != nil {
		return nil
	}
	p, ok := f.where()
	if !ok {
		return os.ErrNotExist
	}
	r, err := f.ws.src.OpenFile(p)
	if err != nil {
		return err
	}
	f.reader = r
	return nil
}

// size is the size of the version the file's handles read (a spooled file's is its
// spool's: attr).
func (f *openFile) size() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reader != nil {
		return f.reader.Size()
	}
	return 0
}

// readAt reads the file at off.
func (f *openFile) readAt(ctx context.Context, dst []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.openReader(); err != nil {
		return 0, err
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

// writeBack is save under f.mu. A file removed through this mount meanwhile has nothing
// to save; one that another member removed is put back, as a conflict copy where it was
// (client.Workspace.Reinstate), and saved there.
func (f *openFile) writeBack(ctx context.Context) error {
	if !f.dirty {
		return nil
	}
	if _, ok := f.where(); !ok {
		if f.unlinked.Load() {
			f.dirty = false
			return nil
		}
		p, err := f.ws.w.Reinstate(ctx, f.id, path.Base(f.seen))
		if err != nil {
			return err
		}
		f.ws.m.warn("workspace %s: %s was removed on another device while it was written here: what was written here is kept as %s", f.ws.label(), f.seen, p)
		f.seen = p
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
		f.ws.m.warn("workspace %s: %s changed on the server while it was written here: what was written here is kept beside it as a conflict copy", f.ws.label(), p)
	}
	f.since = since
	f.dirty = false
	f.reader = nil
	if f.note != "" {
		os.Remove(f.note) // saved: nothing left for a later mount
		f.note = ""
	}
	f.ws.kickSync()
	return nil
}
