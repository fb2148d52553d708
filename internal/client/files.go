package client

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/writeback"
)

// The operations a person does on a workspace's files, whatever the interface: one change
// (receive, change locally, send), and copies into, out of, within and between workspaces.
// The CLI, the GUI and the mount call these and only show their results.

// Info describes the workspace as the certificates say it is now.
func (w *Workspace) Info(ctx context.Context) (WorkspaceInfo, error) {
	w.c.mu.Lock()
	role, _ := w.c.certs.RealmRole(w.id, w.c.dev.UserID)
	w.c.mu.Unlock()
	return w.c.workspaceInfo(ctx, w.id, role)
}

// Change makes one change of the workspace the way every interface does: it checks that
// this user may change the workspace (before any work), receives the workspace's changes,
// runs f (which saves its change on this device, e.g. with Mkdir, WriteFiles, Rename), then
// sends the result. Three things may happen besides success:
//   - the workspace is not writable for this user, or f fails: its error, nothing sent
//     (but the parts of a write that sends as it goes, SendFiles or a copy, sent before);
//   - the change is saved but cannot be sent: an error with the cause's kind, saying that
//     the change is kept on this device and the next sync or write sends it;
//   - with noSync, f only: the change stays on this device until the next sync or write.
//
// Before receiving, an owner's device does what it owes its workspaces (a new key after
// someone left, so that what is written now is not readable by them); when that fails,
// Options.Warn hears it and the change goes on.
func (w *Workspace) Change(ctx context.Context, noSync bool, f func() error) error {
	info, err := w.Info(ctx)
	if err != nil {
		return err
	}
	if err := info.Writable(); err != nil {
		return err
	}
	if !noSync {
		if err := w.c.MaintainWorkspaces(ctx); err != nil {
			w.c.warn("workspace maintenance failed (the next sync retries): %v", err)
		}
		if err := w.Pull(ctx); err != nil {
			return parsec.Wrap(err, "nothing was changed")
		}
	}
	if err := f(); err != nil {
		return err
	}
	if noSync {
		return nil
	}
	return parsec.Wrap(w.Push(ctx), "saved on this device but not sent (the next sync or write sends it)")
}

// ListAt lists a folder (a file lists as itself), by name: as it is now, after receiving
// the workspace's changes, or when at is set, as it was then, from the server's history.
func (w *Workspace) ListAt(ctx context.Context, p string, at parsec.DateTime) ([]Entry, error) {
	if at != 0 {
		return w.At(at).List(ctx, p)
	}
	if err := w.Pull(ctx); err != nil {
		return nil, err
	}
	return w.List(p)
}

// ReadFileAt writes a file's content to dst: as it is now, after receiving the workspace's
// changes, or when at is set, as it was then. Every block is checked against the file's
// signed manifest.
func (w *Workspace) ReadFileAt(ctx context.Context, p string, at parsec.DateTime, dst io.Writer) error {
	if at != 0 {
		return w.At(at).ReadFile(ctx, p, dst)
	}
	if err := w.Pull(ctx); err != nil {
		return err
	}
	return w.ReadFile(ctx, p, dst)
}

// Author describes the device that made a version, for people: "Name <email> @ label"
// (with what this user may see of others), or "device ID" for a device the certificates
// do not show.
func (c *Client) Author(d parsec.DeviceID) string { return c.Authors()(d) }

// Authors is Author for many versions at once: it reads the certificates once.
func (c *Client) Authors() func(parsec.DeviceID) string {
	names := map[parsec.DeviceID]string{}
	for _, u := range c.Users() {
		for _, dev := range u.Devices {
			names[dev.ID] = u.Handle.String() + " @ " + dev.Label
		}
	}
	return func(d parsec.DeviceID) string {
		if name, ok := names[d]; ok {
			return name
		}
		return "device " + d.String()
	}
}

// Writable reports whether this user may change the workspace: nil, or an error of kind
// parsec.Permission saying why (the role, or the workspace is archived). Interfaces use it
// to decide what to offer; every change checks it first.
func (w WorkspaceInfo) Writable() error {
	name := "workspace " + parsec.ShortID(w.ID)
	if w.Name != "" {
		name = "workspace " + strconv.Quote(w.Name)
	}
	return writable(w.Role, w.Archiving, name)
}

// writable is the one rule "may this user change this workspace", named as given in the
// refusal: a role that writes, and a workspace that is not archived.
func writable(role parsec.RealmRole, archiving, name string) error {
	switch {
	case !role.CanWrite():
		return parsec.Errorf(parsec.Permission, "you are %s of %s: you cannot change it", roleName(role), name)
	case archiving != "" && archiving != certif.ArchivingAvailable:
		return parsec.Errorf(parsec.Permission, "%s is archived: it is read-only (an owner can unarchive it)", name)
	}
	return nil
}

// Landing returns where an entry named name lands when copied or moved to dst: into dst
// when dst is an existing folder or is written with a trailing "/" (a folder, created if
// missing), else at dst itself. A folder cannot land on a file, and a dst written as a
// folder must not be a file.
func (w *Workspace) Landing(dst, name string, isFolder bool) (string, error) {
	dir := strings.HasSuffix(dst, "/")
	p := path.Clean("/" + dst)
	e, err := w.Stat(p)
	switch {
	case err == nil && e.IsFolder:
		return path.Join(p, name), nil
	case err == nil && isFolder:
		return "", parsec.Errorf(parsec.Exists, "%s exists and is a file", p)
	case err == nil && dir:
		return "", parsec.Errorf(parsec.Invalid, "%s is a file, not a folder", p)
	case err == nil:
		return p, nil
	case parsec.KindOf(err) != parsec.NotFound:
		return "", err
	case dir:
		return path.Join(p, name), nil
	}
	return p, nil
}

// Move moves or renames an entry of the workspace to dst (see Landing), as one change (see
// Change); nothing may be replaced. It returns where the entry landed.
func (w *Workspace) Move(ctx context.Context, from, dst string, noSync bool) (string, error) {
	var target string
	err := w.Change(ctx, noSync, func() error {
		e, err := w.Stat(from)
		if err != nil {
			return err
		}
		if target, err = w.Landing(dst, e.Name, e.IsFolder); err != nil {
			return err
		}
		return w.Rename(ctx, from, target)
	})
	return target, err
}

// CopyOptions tune Upload, Download and Copy.
type CopyOptions struct {
	Recursive bool // copy a folder and everything in it; without it, a folder is refused
	NoSync    bool // keep the change on this device (contents are still uploaded): see Change
	// Progress, if set, receives the bytes copied so far and the total as the copy goes;
	// it may be called from several goroutines at once.
	Progress func(done, total int64)
}

// CopyResult says what a copy did.
type CopyResult struct {
	Files int    // files copied
	Bytes int64  // their total size
	Path  string // where the copy landed: a workspace path, or a local one for Download
}

// A tree is what a copy reads: one file, or a folder and everything in it. Paths are
// relative to its top ("." for a single file or the top folder).
type tree struct {
	name   string // the top's name
	folder bool   // the top is a folder
	files  int    // how many files it holds
	total  int64  // their size
	// walk calls fn with each folder and file of the tree, a folder before its content,
	// the top first (a single file alone, as "."): the tree is walked again each time it
	// is read, never listed, so that a tree of any size is never all in memory.
	walk func(fn func(treeItem) error) error
}

type treeItem struct {
	rel    string // path relative to the top
	from   string // full path where it is read (local or in the workspace)
	folder bool
}

// single is the walk of a tree that is one file.
func single(it treeItem) func(func(treeItem) error) error {
	return func(fn func(treeItem) error) error { return fn(it) }
}

// emptyFolders finds, as a tree is walked, its folders in which nothing is copied: they
// must be created on their own. A folder is empty when what the walk meets next is not in
// it.
type emptyFolders struct {
	last  string // the last item met, if a folder
	found []string
}

func (e *emptyFolders) see(it treeItem) {
	if e.last != "" && path.Dir(it.rel) != e.last {
		e.found = append(e.found, e.last)
	}
	e.last = ""
	if it.folder {
		e.last = it.rel
	}
}

// done returns the empty folders, once the walk is over.
func (e *emptyFolders) done() []string {
	if e.last != "" {
		e.found, e.last = append(e.found, e.last), ""
	}
	return e.found
}

// progress turns the options' Progress into the byte counter the transfers call.
func (t tree) progress(o CopyOptions) func(int64) {
	if o.Progress == nil {
		return nil
	}
	var done atomic.Int64
	return func(n int64) { o.Progress(done.Add(n), t.total) }
}

// localTree finds a local file or folder tree to copy, and counts its files and their
// size; what is neither a regular file nor a folder is skipped, with a warning.
func (c *Client) localTree(local string, recursive bool) (tree, error) {
	fi, err := os.Stat(local)
	switch {
	case os.IsNotExist(err):
		return tree{}, parsec.Errorf(parsec.NotFound, "%s: no such file or folder", local)
	case err != nil:
		return tree{}, err
	case fi.IsDir() && !recursive:
		return tree{}, parsec.Errorf(parsec.Invalid, "%s is a folder: use -r to copy it and everything in it", local)
	case !fi.IsDir() && !fi.Mode().IsRegular():
		return tree{}, parsec.Errorf(parsec.Invalid, "%s is not a regular file", local)
	}
	abs, err := filepath.Abs(local)
	if err != nil {
		return tree{}, err
	}
	t := tree{name: filepath.Base(abs), folder: fi.IsDir()}
	if !fi.IsDir() {
		t.walk, t.files, t.total = single(treeItem{rel: ".", from: local}), 1, fi.Size()
		return t, nil
	}
	root := strings.TrimSuffix(local, string(filepath.Separator)) + string(filepath.Separator) // follows a symbolic link to a folder
	t.walk = func(fn func(treeItem) error) error {
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			if d.IsDir() || d.Type().IsRegular() {
				return fn(treeItem{rel: filepath.ToSlash(rel), from: p, folder: d.IsDir()})
			}
			return nil // neither: skipped, as said below
		})
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			t.files++
			t.total += info.Size()
		default:
			c.warn("skipping %s: not a regular file or folder", p)
		}
		return nil
	})
	return t, err
}

// tree finds what a path of the workspace holds, for a copy, from what this device knows,
// and counts its files and their size.
func (w *Workspace) tree(ctx context.Context, src string, recursive bool) (tree, error) {
	top, t, err := w.treeTop(ctx, src, recursive)
	if err != nil || !top.IsFolder {
		return t, err
	}
	t.walk = func(fn func(treeItem) error) error {
		if err := fn(treeItem{rel: ".", from: top.Path, folder: true}); err != nil {
			return err
		}
		return w.WalkEach(top.Path, func(e Entry) error {
			return fn(treeItem{rel: relativeTo(top, e), from: e.Path, folder: e.IsFolder})
		})
	}
	err = w.WalkEach(top.Path, func(e Entry) error {
		if !e.IsFolder {
			t.files++
			t.total += int64(e.Size)
		}
		return nil
	})
	return t, err
}

// treeTop is what tree finds first: the entry at src, and a tree of its name (the
// workspace's for the root) holding it alone if it is a file. A folder without recursive
// is refused.
func (w *Workspace) treeTop(ctx context.Context, src string, recursive bool) (Entry, tree, error) {
	top, err := w.Stat(src)
	if err != nil {
		return top, tree{}, err
	}
	t := tree{name: top.Name, folder: top.IsFolder}
	if top.Path == "/" {
		info, err := w.Info(ctx)
		if err != nil {
			return top, tree{}, err
		}
		t.name = info.Name
		if t.name == "" {
			t.name = "workspace " + parsec.ShortID(w.id)
		}
	}
	if !top.IsFolder {
		t.walk, t.files, t.total = single(treeItem{rel: ".", from: top.Path}), 1, int64(top.Size)
		return top, t, nil
	}
	if !recursive {
		return top, t, parsec.Errorf(parsec.Invalid, "%s is a folder: use -r to copy it and everything in it", top.Path)
	}
	return top, t, nil
}

// relativeTo is the path of e, an entry of top's tree, relative to top.
func relativeTo(top, e Entry) string {
	return strings.TrimPrefix(strings.TrimPrefix(e.Path, top.Path), "/")
}

// put writes a tree's files at target in the workspace, then creates its empty folders
// (inside a Change). The tree is walked once to check the names of its files, keeping
// them while they fit in one chunk; a larger tree is walked again to write it, a chunk at
// a time (see WriteFiles): open gives the sources of a chunk's files, read where they come
// from, and what to do once they are written.
func (w *Workspace) put(ctx context.Context, t tree, target string, o CopyOptions, open func([]treeItem) ([]FileSource, func())) error {
	var chunk []treeItem
	var empty emptyFolders
	whole := true // every file is in chunk
	err := t.walk(func(it treeItem) error {
		if empty.see(it); it.folder {
			return nil
		}
		if _, _, err := w.resolveParentForWrite(path.Join(target, it.rel)); err != nil {
			return err
		}
		if whole && len(chunk) == writeChunk {
			whole, chunk = false, nil
		}
		if whole {
			chunk = append(chunk, it)
		}
		return nil
	})
	if err != nil {
		return err
	}
	progress := t.progress(o)
	write := func(items []treeItem) error {
		sources, done := open(items)
		defer done()
		// A change that is sent once written sends its new files as it goes.
		return w.writeFiles(ctx, sources, progress, !o.NoSync)
	}
	if whole {
		if len(chunk) > 0 {
			err = write(chunk)
		}
	} else {
		empty = emptyFolders{}
		err = t.walk(func(it treeItem) error {
			if empty.see(it); it.folder {
				return nil
			}
			if chunk = append(chunk, it); len(chunk) < writeChunk {
				return nil
			}
			items := chunk
			chunk = nil
			return write(items)
		})
		if err == nil && len(chunk) > 0 {
			err = write(chunk)
		}
	}
	if err != nil {
		return err
	}
	for _, f := range empty.done() {
		if err := w.Mkdir(ctx, path.Join(target, f), true); err != nil {
			return err
		}
	}
	return nil
}

// Upload copies a local file, or with Recursive a local folder tree, into the workspace at
// dst (see Landing), as one change (see Change). The whole tree is one batch (saved by
// chunks of many files, see WriteFiles): contents are encrypted and uploaded in parallel,
// in flat memory whatever the sizes, then the files appear. Existing files are replaced,
// as new versions.
func (w *Workspace) Upload(ctx context.Context, local, dst string, o CopyOptions) (CopyResult, error) {
	t, err := w.c.localTree(local, o.Recursive)
	if err != nil {
		return CopyResult{}, err
	}
	res := CopyResult{Files: t.files, Bytes: t.total}
	err = w.Change(ctx, o.NoSync, func() error {
		if res.Path, err = w.Landing(dst, t.name, t.folder); err != nil {
			return err
		}
		return w.put(ctx, t, res.Path, o, func(items []treeItem) ([]FileSource, func()) {
			sources := make([]FileSource, len(items))
			for i, it := range items {
				sources[i] = FileSource{Path: path.Join(res.Path, it.rel), Open: func() (io.ReadCloser, error) { return os.Open(it.from) }}
			}
			return sources, func() {}
		})
	})
	return res, err
}

// Download copies a file, or with Recursive a folder tree, of the workspace to this
// computer, after receiving the workspace's changes: into local when it is an existing
// folder, else as local itself (a local path written with a trailing separator must be an
// existing folder). Every block is checked against its file's signed manifest; files are
// streamed to disk in flat memory, and a tree is read as it is walked (see WalkEach), a
// chunk of files at a time, so that memory does not grow with the tree's size. Large files
// go to the disk as they are written and leave the page cache (internal/writeback).
func (w *Workspace) Download(ctx context.Context, src, local string, o CopyOptions) (CopyResult, error) {
	if err := w.Pull(ctx); err != nil {
		return CopyResult{}, err
	}
	top, t, err := w.treeTop(ctx, src, o.Recursive)
	if err != nil {
		return CopyResult{}, err
	}
	target := local
	fi, err := os.Stat(target)
	switch {
	case err == nil && fi.IsDir():
		target = filepath.Join(target, t.name)
	case err == nil && t.folder:
		return CopyResult{}, parsec.Errorf(parsec.Exists, "%s exists and is not a folder", local)
	case err != nil && !os.IsNotExist(err):
		return CopyResult{}, err
	case err != nil && (strings.HasSuffix(local, "/") || strings.HasSuffix(local, string(filepath.Separator))):
		return CopyResult{}, parsec.Errorf(parsec.NotFound, "%s: no such folder", local)
	}
	if !top.IsFolder {
		create := func() (io.WriteCloser, error) { return createPart(target) }
		if err := w.ReadFiles(ctx, []FileTarget{{Path: top.Path, Create: create}}, t.progress(o)); err != nil {
			return CopyResult{}, err
		}
		return CopyResult{Files: 1, Bytes: t.total, Path: target}, nil
	}
	// A tree is read as it is walked, downloadChunk files at a time, in flat memory
	// whatever its size; the progress's total needs a first walk.
	if o.Progress != nil {
		err := w.WalkEach(top.Path, func(e Entry) error {
			t.total += int64(e.Size)
			return nil
		})
		if err != nil {
			return CopyResult{}, err
		}
	}
	progress := t.progress(o)
	if err := os.MkdirAll(target, 0o755); err != nil {
		return CopyResult{}, err
	}
	res := CopyResult{Path: target}
	// The files of a chunk are read while the walk goes on to find the next one, which
	// waits for its turn: its blocks are fetched once the chunk before has asked for all
	// of its own, as its last batches are written (see pace), so that the fetches go on
	// from one chunk to the next. The first chunk is smaller, to start sooner.
	chunks := make(chan []FileTarget, 1)
	read := make(chan error, 1)
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()
	go func() {
		g, gctx := errgroup.WithContext(readCtx)
		p, issued := newPace().next()
		for {
			var chunk []FileTarget
			var more bool
			select {
			case chunk, more = <-chunks:
			case <-gctx.Done(): // the walk failed, or stopped for good, or a read failed
			}
			if !more || gctx.Err() != nil {
				break
			}
			cp := p
			g.Go(func() error { return w.readFiles(gctx, chunk, progress, cp) })
			select {
			case <-issued:
			case <-gctx.Done():
			}
			p, issued = p.next()
		}
		err := g.Wait()
		if err != nil {
			stopReading()
		}
		read <- cmp.Or(err, readCtx.Err())
	}()
	var chunk []FileTarget
	size := min(downloadChunk, firstDownloadChunk)
	flush := func() error {
		select {
		case chunks <- chunk:
			chunk, size = nil, downloadChunk
			return nil
		case <-readCtx.Done():
			return errReadStopped
		}
	}
	err = w.WalkEach(top.Path, func(e Entry) error {
		p := filepath.Join(target, filepath.FromSlash(relativeTo(top, e)))
		if e.IsFolder {
			return os.MkdirAll(p, 0o755)
		}
		chunk = append(chunk, FileTarget{Path: e.Path, Create: func() (io.WriteCloser, error) { return createPart(p) }, ID: e.ID, Apart: true, file: e.file})
		res.Files++
		res.Bytes += int64(e.Size)
		if len(chunk) == size {
			return flush()
		}
		return nil
	})
	if err == nil && len(chunk) > 0 {
		err = flush()
	}
	close(chunks)
	if err != nil && !errors.Is(err, errReadStopped) {
		stopReading() // the walk's error is the one to tell
		<-read
		return CopyResult{}, err
	}
	if err := <-read; err != nil {
		return CopyResult{}, err
	}
	if err != nil { // the reads stopped without failing: the caller's context ended
		return CopyResult{}, cmp.Or(ctx.Err(), err)
	}
	return res, nil
}

// errReadStopped stops a download's walk when reading its files failed: that error is
// the one Download returns.
var errReadStopped = errors.New("the download's reads stopped")

// downloadChunk is how many files Download reads at a time: what a download of a tree
// holds in memory (their manifests, names and pieces), whatever the tree's size.
var downloadChunk = 4096

// firstDownloadChunk is the size of a download's first chunk, walked before any block is
// fetched.
const firstDownloadChunk = 512

// Copy copies src, a file or with Recursive a folder tree of this workspace, to dst in
// workspace to (see Landing), as one change of to (see Change). Within one workspace (to
// is w) nothing is uploaded, contents are shared, and nothing may be replaced. Between two
// workspaces the files are streamed: read, decrypted and re-encrypted on the way, in flat
// memory; existing files are replaced, as new versions.
func (w *Workspace) Copy(ctx context.Context, src string, to *Workspace, dst string, o CopyOptions) (CopyResult, error) {
	var res CopyResult
	if to == w {
		err := w.Change(ctx, o.NoSync, func() error {
			t, err := w.tree(ctx, src, o.Recursive)
			if err != nil {
				return err
			}
			res.Files, res.Bytes = t.files, t.total
			if res.Path, err = w.Landing(dst, t.name, t.folder); err != nil {
				return err
			}
			return w.CopyWithin(ctx, src, res.Path)
		})
		return res, err
	}
	if err := w.Pull(ctx); err != nil {
		return res, err
	}
	t, err := w.tree(ctx, src, o.Recursive)
	if err != nil {
		return res, err
	}
	res.Files, res.Bytes = t.files, t.total
	select {
	case w.c.crossCopies <- struct{}{}:
		defer func() { <-w.c.crossCopies }()
	case <-ctx.Done():
		return res, ctx.Err()
	}
	err = to.Change(ctx, o.NoSync, func() error {
		if res.Path, err = to.Landing(dst, t.name, t.folder); err != nil {
			return err
		}
		// Each chunk's files are streamed from this workspace as WriteFiles reads them.
		return to.put(ctx, t, res.Path, o, func(items []treeItem) ([]FileSource, func()) {
			from, dsts := make([]string, len(items)), make([]string, len(items))
			for i, it := range items {
				from[i], dsts[i] = it.from, path.Join(res.Path, it.rel)
			}
			st := newStream(ctx, w, from, dsts)
			return st.sources, st.close
		})
	})
	return res, err
}

// A stream pipes files of one workspace into WriteFiles of another: the files are read in
// one batch (one ReadFiles, started at the first Open), in the order WriteFiles opens them,
// each through its own pipe. When WriteFiles opens files again (it starts over when the
// workspace's key changed meanwhile), each file is read on its own from then on.
type stream struct {
	sources []FileSource

	ctx     context.Context
	src     *Workspace
	from    []string
	readers []*io.PipeReader
	writers []*io.PipeWriter
	start   sync.Once
	workers sync.WaitGroup

	mu      sync.Mutex
	opened  []bool
	retried bool
}

func newStream(ctx context.Context, src *Workspace, from, to []string) *stream {
	s := &stream{ctx: ctx, src: src, from: from, opened: make([]bool, len(from))}
	for i := range from {
		r, w := io.Pipe()
		s.readers, s.writers = append(s.readers, r), append(s.writers, w)
		s.sources = append(s.sources, FileSource{Path: to[i], Open: func() (io.ReadCloser, error) { return s.open(i), nil }})
	}
	return s
}

func (s *stream) open(i int) io.ReadCloser {
	s.mu.Lock()
	if s.opened[i] {
		s.retried = true
	}
	s.opened[i] = true
	retried := s.retried
	s.mu.Unlock()
	if retried {
		r, w := io.Pipe()
		s.workers.Go(func() { w.CloseWithError(s.src.ReadFile(s.ctx, s.from[i], w)) })
		return r
	}
	s.start.Do(func() { s.workers.Go(s.readAll) })
	return s.readers[i]
}

// readAll reads every file, in order, into its pipe.
func (s *stream) readAll() {
	targets := make([]FileTarget, len(s.from))
	for i, w := range s.writers {
		targets[i] = FileTarget{Path: s.from[i], Create: func() (io.WriteCloser, error) { return w, nil }}
	}
	err := s.src.ReadFiles(s.ctx, targets, nil)
	if err == nil {
		err = io.ErrUnexpectedEOF // for a pipe that was not written to, if any
	}
	for _, w := range s.writers {
		w.CloseWithError(err) // no effect on the pipes already closed
	}
}

// close ends the reads WriteFiles left unfinished, and waits for them.
func (s *stream) close() {
	for _, r := range s.readers {
		r.Close()
	}
	s.workers.Wait()
}

// FreeName returns p when nothing is there, else the same name with " (copy N)" added
// before its extension, free in the same folder: where an interface keeps both when a name
// is taken.
func (w *Workspace) FreeName(p string) (string, error) {
	w.lockRead()
	defer w.mu.Unlock()
	parent, name, err := w.resolveParent(p)
	if err != nil {
		if parsec.IsKind(err, parsec.NotFound) {
			return path.Clean("/" + p), nil // the folder does not exist yet: nothing is taken
		}
		return "", err
	}
	if _, taken := parent.Children[name]; !taken {
		return path.Join(path.Dir(path.Clean("/"+p)), name), nil
	}
	return path.Join(path.Dir(path.Clean("/"+p)), conflictName(parent.Children, name, "copy")), nil
}

// MoveTo moves src, a file or with Recursive a folder tree of this workspace, to dst in
// workspace to: within one workspace it is Move; between two, a Copy (streamed, see Copy),
// then src removed from this workspace as a second change (its history keeps it). When the
// removal fails, the copy stays and the error says so; src is not removed when it changed
// meanwhile (another member wrote in it while it was copied: the copy holds it as it was),
// an error of kind parsec.Conflict.
func (w *Workspace) MoveTo(ctx context.Context, src string, to *Workspace, dst string, o CopyOptions) (CopyResult, error) {
	if to == w {
		target, err := w.Move(ctx, src, dst, o.NoSync)
		return CopyResult{Path: target}, err
	}
	if !o.NoSync {
		if err := w.Pull(ctx); err != nil {
			return CopyResult{}, err
		}
	}
	// What is copied is src as this device holds it now (Copy receives the changes again,
	// seldom any): the removal checks that src is still so after receiving them once more.
	copied, err := w.treeStamp(src)
	if err != nil {
		return CopyResult{}, err
	}
	res, err := w.Copy(ctx, src, to, dst, o)
	if err != nil {
		return res, err
	}
	err = w.Change(ctx, o.NoSync, func() error {
		if now, err := w.treeStamp(src); err != nil || now != copied {
			return cmp.Or(err, parsec.Errorf(parsec.Conflict, "%s changed while it was copied", src))
		}
		return w.Remove(ctx, src, true)
	})
	return res, parsec.Wrap(err, "copied to %s, but not removed from here", res.Path)
}

// treeStamp digests the entries of the tree at p (or the file): their paths, IDs, versions
// and local changes, so that a change of any of them gives another digest.
func (w *Workspace) treeStamp(p string) ([sha256.Size]byte, error) {
	h := sha256.New()
	err := w.WalkEach(p, func(e Entry) error {
		fmt.Fprintf(h, "%q %x %d %d %d %t\n", e.Path, e.ID[:], e.Version, e.Size, e.Updated, e.NeedSync)
		return nil
	})
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum, err
}

// A partFile is a downloaded file put in its place once complete: a download that fails
// (a block that does not match its manifest, the server gone, Ctrl-C) leaves what was at
// the target as it was, and no partial file.
//
// Where the file system has them (Linux), a new file is written without a name and
// linked to its target once complete: one system call that takes the folder's lock, where
// a file written under a name of its own and renamed takes two (the most costly steps of
// a download of small files), and a download killed midway leaves nothing behind. A file
// that replaces another is written beside it under a name of its own and renamed over it
// (a download killed midway leaves that file); so is every file where unnamed files
// cannot be made or linked. One that appears at the target while the file is written is
// replaced too: the file is linked beside it, then renamed over it.
type partFile struct {
	*writeback.File
	part    string // the name it is written under; "" while it has none
	target  string
	unnamed bool
}

func createPart(target string) (io.WriteCloser, error) {
	if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
		if f, err := createUnnamed(target); err == nil {
			return &partFile{File: f, target: target, unnamed: true}, nil
		}
	}
	// Any failure: the named file's creation tells it, for target.
	part := partName(target)
	f, err := writeback.Create(part)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = target // the file the person asked for
		}
		return nil, err
	}
	return &partFile{File: f, part: part, target: target}, nil
}

// createUnnamed is writeback.CreateUnnamed; tests make it fail, as on a file system without
// unnamed files.
var createUnnamed = writeback.CreateUnnamed

// partName is a name beside target for a file that will replace it.
func partName(target string) string {
	dir, base := filepath.Split(target)
	return filepath.Join(dir, "."+base[:min(len(base), 200)]+"."+strconv.FormatUint(rand.Uint64(), 36)+".part")
}

// Close puts the file in place.
func (p *partFile) Close() error {
	if p.unnamed {
		err := p.File.Link(p.target)
		if err == nil {
			if err = p.File.Close(); err != nil {
				os.Remove(p.target)
			}
			return err
		}
		if !errors.Is(err, fs.ErrExist) {
			p.File.Close()
			return err
		}
		// Something is at the target: the file gets a name beside it, then replaces it.
		p.part = partName(p.target)
		if err := p.File.Link(p.part); err != nil {
			p.File.Close()
			return err
		}
	}
	err := p.File.Close()
	if err == nil {
		err = os.Rename(p.part, p.target)
	}
	if err != nil {
		os.Remove(p.part)
	}
	return err
}

// Abort drops what was written.
func (p *partFile) Abort() {
	p.File.Close()
	if p.part != "" {
		os.Remove(p.part)
	}
}
