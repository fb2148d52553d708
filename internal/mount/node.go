package mount

import (
	"context"
	"encoding/binary"
	"io"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// node is a folder or a file of a workspace (the workspace's root folder is the node
// whose ID is the workspace's). Operations find it by its path, which the kernel's renames
// keep up to date.
type node struct {
	fs.Inode
	ws  *workspace
	id  parsec.VlobID
	dir bool
}

var (
	_ fs.NodeGetattrer = (*node)(nil)
	_ fs.NodeSetattrer = (*node)(nil)
	_ fs.NodeLookuper  = (*node)(nil)
	_ fs.NodeReaddirer = (*node)(nil)
	_ fs.NodeMkdirer   = (*node)(nil)
	_ fs.NodeCreater   = (*node)(nil)
	_ fs.NodeUnlinker  = (*node)(nil)
	_ fs.NodeRmdirer   = (*node)(nil)
	_ fs.NodeRenamer   = (*node)(nil)
	_ fs.NodeOpener    = (*node)(nil)
	_ fs.NodeReader    = (*node)(nil)
	_ fs.NodeWriter    = (*node)(nil)
	_ fs.NodeFlusher   = (*node)(nil)
	_ fs.NodeFsyncer   = (*node)(nil)
	_ fs.NodeReleaser  = (*node)(nil)
	_ fs.NodeStatfser  = (*node)(nil)
)

// ino is an entry's inode number, from its ID: the same entry keeps it across lookups.
func ino(id parsec.VlobID) uint64 {
	n := binary.BigEndian.Uint64(id[8:])
	if n <= fuse.FUSE_ROOT_ID || n == ^uint64(0) {
		n = binary.BigEndian.Uint64(id[:8]) | 2
	}
	return n
}

// path returns the node's path in its workspace, and false once it was removed.
func (n *node) path() (string, bool) {
	var names []string
	cur := n.EmbeddedInode()
	for {
		if nd, ok := cur.Operations().(*node); ok && nd.id == n.ws.id {
			break
		}
		name, parent := cur.Parent()
		if parent == nil {
			return "", false
		}
		names = append(names, name)
		cur = parent
	}
	slices.Reverse(names)
	return "/" + strings.Join(names, "/"), true
}

// childPath returns the path of child name of n. A name longer than a workspace holds
// fails with ENAMETOOLONG, as on other file systems (statfs says 255 too); one the
// workspace cannot hold otherwise (not UTF-8, a control character) with EINVAL.
func (n *node) childPath(name string) (string, syscall.Errno) {
	if len(name) > manifest.MaxEntryNameLength {
		return "", syscall.ENAMETOOLONG
	}
	if _, err := manifest.ParseEntryName(name); err != nil {
		return "", syscall.EINVAL
	}
	p, ok := n.path()
	if !ok {
		return "", syscall.ENOENT
	}
	return path.Join(p, name), 0
}

func (n *node) errno(err error) syscall.Errno { return n.ws.m.errno(err) }

// writable refuses changes in a workspace this user cannot change.
func (n *node) writable() syscall.Errno {
	if n.ws.readOnly.Load() {
		return syscall.EROFS
	}
	return 0
}

// attr describes an entry as stat(2) shows it.
func (ws *workspace) attr(e client.Entry, out *fuse.Attr) {
	out.Ino = ino(e.ID)
	perm := uint32(0o644)
	out.Mode = syscall.S_IFREG
	out.Nlink = 1
	if e.IsFolder {
		perm, out.Mode, out.Nlink = 0o755, syscall.S_IFDIR, 2
	}
	if ws.readOnly.Load() {
		perm &^= 0o222
	}
	out.Mode |= perm
	out.Size = e.Size
	if fi, ok := ws.spooled(e.ID); ok {
		out.Size = uint64(fi.Size())
		t := fi.ModTime()
		out.SetTimes(&t, &t, &t)
	} else {
		t := e.Updated.Time()
		out.SetTimes(&t, &t, &t)
	}
	out.Blocks = (out.Size + 511) / 512
	out.Blksize = 4096
	out.Owner = ws.m.owner
}

// child returns the inode of entry e, a child of n.
func (n *node) child(ctx context.Context, e client.Entry) *fs.Inode {
	mode := uint32(syscall.S_IFREG)
	if e.IsFolder {
		mode = syscall.S_IFDIR
	}
	return n.NewInode(ctx, &node{ws: n.ws, id: e.ID, dir: e.IsFolder}, fs.StableAttr{Mode: mode, Ino: ino(e.ID)})
}

func (n *node) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	p, ok := n.path()
	if !ok {
		// Removed while open: the size of what its handles read.
		e := client.Entry{ID: n.id, IsFolder: n.dir}
		if f := n.ws.file(n.id); f != nil {
			e.Size = f.size()
		}
		n.ws.attr(e, &out.Attr)
		return 0
	}
	e, err := n.ws.src.Stat(p)
	if err != nil {
		return n.errno(err)
	}
	n.ws.attr(e, &out.Attr)
	return 0
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	p, errno := n.childPath(name)
	if errno == syscall.EINVAL {
		return nil, syscall.ENOENT // a file the workspace cannot hold does not exist
	}
	if errno != 0 {
		return nil, errno
	}
	e, err := n.ws.src.Stat(p)
	if err != nil {
		return nil, n.errno(err)
	}
	n.ws.attr(e, &out.Attr)
	return n.child(ctx, e), 0
}

func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	p, ok := n.path()
	if !ok {
		return nil, syscall.ENOENT
	}
	entries, err := n.ws.src.List(p)
	if err != nil {
		return nil, n.errno(err)
	}
	out := make([]fuse.DirEntry, len(entries))
	for i, e := range entries {
		out[i] = fuse.DirEntry{Name: e.Name, Mode: syscall.S_IFREG, Ino: ino(e.ID)}
		if e.IsFolder {
			out[i].Mode = syscall.S_IFDIR
		}
	}
	return fs.NewListDirStream(out), 0
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out)
	return 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if errno := n.writable(); errno != 0 {
		return nil, errno
	}
	p, errno := n.childPath(name)
	if errno != 0 {
		return nil, errno
	}
	if err := n.ws.w.Mkdir(ctx, p, false); err != nil {
		return nil, n.errno(err)
	}
	n.ws.kickSync()
	return n.Lookup(ctx, name, out)
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	if errno := n.writable(); errno != 0 {
		return nil, nil, 0, errno
	}
	p, errno := n.childPath(name)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	empty := client.FileSource{Path: p, Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("")), nil }}
	if err := n.ws.w.WriteFiles(ctx, []client.FileSource{empty}, nil); err != nil {
		return nil, nil, 0, n.errno(err)
	}
	n.ws.kickSync()
	ch, errno := n.Lookup(ctx, name, out)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	c := ch.Operations().(*node)
	f := n.ws.acquire(c.id, c.path)
	if err := f.spoolEmpty(ctx); err != nil {
		n.ws.release(ctx, f)
		return nil, nil, 0, n.errno(err)
	}
	return ch, &handle{f: f, write: true}, 0, 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.remove(ctx, name, false)
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.remove(ctx, name, true)
}

func (n *node) remove(ctx context.Context, name string, dir bool) syscall.Errno {
	ctx = uninterrupted(ctx)
	if errno := n.writable(); errno != 0 {
		return errno
	}
	p, errno := n.childPath(name)
	if errno != 0 {
		return errno
	}
	e, err := n.ws.src.Stat(p)
	if err != nil {
		return n.errno(err)
	}
	if errno := n.ws.kindErrno(p, e, dir); errno != 0 {
		return errno
	}
	n.ws.removedHere(e.ID, true)
	if err := n.ws.w.Remove(ctx, p, false); err != nil {
		n.ws.removedHere(e.ID, false)
		return n.errno(err)
	}
	n.ws.kickSync()
	return 0
}

// kindErrno checks that the entry at p is what an operation wants: a file, or an empty
// folder.
func (ws *workspace) kindErrno(p string, e client.Entry, dir bool) syscall.Errno {
	switch {
	case dir && !e.IsFolder:
		return syscall.ENOTDIR
	case !dir && e.IsFolder:
		return syscall.EISDIR
	case dir:
		children, err := ws.src.List(p)
		if err != nil {
			return ws.m.errno(err)
		}
		if len(children) > 0 {
			return syscall.ENOTEMPTY
		}
	}
	return 0
}

// Rename renames or moves an entry; like rename(2), it replaces a file, or an empty folder
// with a folder.
func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if errno := n.writable(); errno != 0 {
		return errno
	}
	np, ok := newParent.(*node)
	if !ok || np.ws != n.ws {
		return syscall.EXDEV
	}
	if flags&fs.RENAME_EXCHANGE != 0 {
		return syscall.EINVAL
	}
	from, errno := n.childPath(name)
	if errno != 0 {
		return errno
	}
	to, errno := np.childPath(newName)
	if errno != 0 {
		return errno
	}
	src, err := n.ws.src.Stat(from)
	if err != nil {
		return n.errno(err)
	}
	if dst, err := n.ws.src.Stat(to); err == nil {
		if flags&renameNoReplace != 0 {
			return syscall.EEXIST
		}
		if dst.ID == src.ID {
			return 0
		}
		if errno := n.ws.kindErrno(to, dst, src.IsFolder); errno != 0 {
			return errno
		}
		n.ws.removedHere(dst.ID, true)
		if err := n.ws.w.Remove(ctx, to, false); err != nil {
			n.ws.removedHere(dst.ID, false)
			return n.errno(err)
		}
	} else if !parsec.IsKind(err, parsec.NotFound) {
		return n.errno(err)
	}
	if err := n.ws.w.Rename(ctx, from, to); err != nil {
		return n.errno(err)
	}
	n.ws.kickSync()
	return 0
}

// A handle is an open file descriptor of a file.
type handle struct {
	f     *openFile
	write bool
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if n.dir {
		return nil, 0, syscall.EISDIR
	}
	write := flags&syscall.O_ACCMODE != syscall.O_RDONLY
	if write {
		if errno := n.writable(); errno != 0 {
			return nil, 0, errno
		}
	}
	f := n.ws.acquire(n.id, n.path)
	var err error
	if write && flags&syscall.O_TRUNC != 0 {
		err = f.truncate(ctx, 0)
	} else {
		err = f.open()
	}
	if err != nil {
		n.ws.release(ctx, f)
		return nil, 0, n.errno(err)
	}
	return &handle{f: f, write: write}, 0, 0
}

func (n *node) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	ctx = uninterrupted(ctx)
	h, ok := fh.(*handle)
	if !ok {
		return nil, syscall.EBADF
	}
	k, err := h.f.readAt(ctx, dest, off)
	if err != nil {
		return nil, n.errno(err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

func (n *node) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	ctx = uninterrupted(ctx)
	h, ok := fh.(*handle)
	if !ok || !h.write {
		return 0, syscall.EBADF
	}
	k, err := h.f.writeAt(ctx, data, off)
	if err != nil {
		return uint32(k), n.errno(err)
	}
	return uint32(k), 0
}

// uninterrupted keeps a request going when the program that made it gets a signal (Go's
// preemption signal, a terminal resize, a profiler's tick): the kernel then interrupts the
// request, and failing it would hand the program EINTR (or EIO, a change's saving cut
// short) from an open, a read, a write, a close, a rename or a removal, which few programs
// retry. What was asked is done, or fails on its own (the client's
// requests have their own timeouts).
func uninterrupted(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// Flush is called at every close(2): what was written becomes a new version then.
func (n *node) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	ctx = uninterrupted(ctx)
	if h, ok := fh.(*handle); ok && h.write {
		return n.saved(h.f, h.f.save(ctx))
	}
	return 0
}

// Fsync saves what was written as a new version, on this device (sent soon after).
func (n *node) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	ctx = uninterrupted(ctx)
	if h, ok := fh.(*handle); ok && h.write {
		return n.saved(h.f, h.f.save(ctx))
	}
	return 0
}

// saved answers a close, an fsync or a truncate that saved what was written with err.
// Saving content uploads it: when the server is unreachable, what was written stays in
// the spool, on disk, noted for the next mount should this one end first (keep), and is
// saved when the server is back (the last close leaves it to the syncer), which is no
// error for the program.
func (n *node) saved(f *openFile, err error) syscall.Errno {
	if parsec.IsKind(err, parsec.Unavailable) {
		return n.errno(n.ws.keep(f))
	}
	return n.errno(err)
}

func (n *node) Release(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	ctx = uninterrupted(ctx)
	if h, ok := fh.(*handle); ok {
		n.ws.release(ctx, h.f)
	}
	return 0
}

// Setattr changes a file's size (truncate) and its modification time (touch, cp -p,
// rsync -a); modes and owners are not kept, and changing them is not an error.
func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	ctx = uninterrupted(ctx)
	size, setSize := in.GetSize()
	mtime, setTime := in.GetMTime()
	if setSize || setTime {
		if errno := n.writable(); errno != 0 {
			return errno
		}
	}
	h, _ := fh.(*handle)
	if setSize {
		if n.dir {
			return syscall.EISDIR
		}
		f := n.ws.acquire(n.id, n.path) // one more handle: the spool stays until the end
		err := f.truncate(ctx, size)
		if err == nil && (h == nil || setTime) {
			if errno := n.saved(f, f.save(ctx)); errno != 0 {
				err = errno
			}
		}
		n.ws.release(ctx, f)
		if err != nil {
			return n.errno(err)
		}
	}
	if setTime {
		if h != nil {
			// What was written is saved first, so that its date does not replace this one.
			if errno := n.saved(h.f, h.f.save(ctx)); errno != 0 {
				return errno
			}
		}
		if err := n.ws.w.SetUpdated(ctx, n.id, parsec.FromTime(mtime)); err != nil {
			return n.errno(err)
		}
		n.ws.kickSync()
	}
	return n.Getattr(ctx, fh, out)
}

// renameNoReplace is rename(2)'s RENAME_NOREPLACE (Linux).
const renameNoReplace = 0x1
