package mount

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Options tune a mount.
type Options struct {
	// Workspace, when set, mounts that workspace alone, as the mount point itself; else
	// every workspace of the user is a folder of the mount point, named after it.
	Workspace parsec.VlobID
	// SpoolDir is where files open for writing are spooled (a private folder is made in
	// it); the system's temporary folder when empty. What a mount of the same device kept
	// there for later (a file closed while the server was unreachable) is sent by this one.
	SpoolDir string
	// Warn, if set, hears what the person should know: sync failures, server errors a
	// program only sees as EIO.
	Warn func(msg string)
	// Notice, if set, hears what changed that the person should know of: a workspace
	// renamed or made read-only, content kept earlier being sent.
	Notice func(msg string)
	// Debug logs every FUSE request.
	Debug bool
	// At, when set, shows the workspaces as they were then, read-only (each read whole
	// from the server's history when first shown).
	At parsec.DateTime

	// testOnlySynced, if set, hears of each background sync of a workspace, done.
	testOnlySynced func(ws parsec.VlobID, err error)
}

// A Mount is a mounted folder. Wait for it to be unmounted (Unmount, or fusermount3 -u
// from outside), then Finish to send what is left.
type Mount struct {
	c      *client.Client
	opts   Options
	dir    string
	spool  string   // this mount's private folder in Options.SpoolDir
	lock   *os.File // holds spool's lock while the mount runs (makeSpool)
	server *fuse.Server
	ctx    context.Context // the syncers' and the watcher's, cancelled by Finish
	cancel context.CancelFunc
	bg     sync.WaitGroup
	owner  fuse.Owner

	mu         sync.Mutex
	workspaces map[parsec.VlobID]*workspace
}

// Attribute and entry timeouts: how long the kernel may trust what it was told. Others'
// changes show after at most this long once received.
const cacheTimeout = time.Second

// New mounts the workspaces at dir (an existing folder) and serves it until unmounted.
// It first syncs what it mounts; when that fails (offline), the mount shows what the
// device has, and says so. What earlier mounts of the device kept for later is sent.
func New(ctx context.Context, c *client.Client, dir string, opts Options) (*Mount, error) {
	root := opts.SpoolDir
	if root == "" {
		root = os.TempDir()
	}
	spool, lock, err := makeSpool(root)
	if err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m := &Mount{c: c, opts: opts, dir: dir, spool: spool, lock: lock, ctx: bg, cancel: cancel,
		owner:      fuse.Owner{Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())},
		workspaces: map[parsec.VlobID]*workspace{}}
	fail := func(err error) (*Mount, error) {
		cancel()
		m.bg.Wait()
		os.RemoveAll(spool)
		lock.Close()
		return nil, err
	}
	var top fs.InodeEmbedder
	if !opts.Workspace.IsZero() {
		info, err := c.FindWorkspace(ctx, opts.Workspace.String())
		if err != nil {
			return fail(err)
		}
		ws, err := m.workspace(ctx, info)
		if err != nil {
			return fail(err)
		}
		top = &node{ws: ws, id: ws.id, dir: true}
	} else {
		infos, err := c.Workspaces(ctx)
		if err != nil {
			return fail(err)
		}
		for _, info := range infos {
			if _, err := m.workspace(ctx, info); err != nil {
				return fail(err)
			}
		}
		top = &rootNode{m: m}
	}
	if opts.At.IsZero() {
		m.adopt()
	}
	timeout := cacheTimeout
	fsOpts := &fs.Options{
		EntryTimeout: &timeout, AttrTimeout: &timeout, NegativeTimeout: &timeout,
		UID: m.owner.Uid, GID: m.owner.Gid,
		MountOptions: fuse.MountOptions{
			FsName: "parsec", Name: "parsec", Debug: opts.Debug,
			MaxWrite: 1 << 20, DisableXAttrs: true,
		},
	}
	m.server, err = fs.Mount(dir, top, fsOpts)
	if err != nil {
		return fail(fmt.Errorf("cannot mount %s: %w", dir, err))
	}
	if opts.At.IsZero() {
		m.bg.Go(m.watch) // the past does not change
	}
	return m, nil
}

func (m *Mount) warn(format string, args ...any) {
	if m.opts.Warn != nil {
		m.opts.Warn(fmt.Sprintf(format, args...))
	}
}

func (m *Mount) notice(format string, args ...any) {
	if m.opts.Notice != nil {
		m.opts.Notice(fmt.Sprintf(format, args...))
	}
}

// Wait waits until the folder is unmounted.
func (m *Mount) Wait() { m.server.Wait() }

// Unmount unmounts the folder; it fails while programs use it (the folder is busy).
func (m *Mount) Unmount() error { return m.server.Unmount() }

// Finish, once the folder is unmounted, saves what closed files left unsaved (their content
// is saved when they are closed; this is what could not be, the server being unreachable)
// and syncs every workspace. It returns what stays on this device to send later, one
// sentence each saying what sends it: changes saved on the device (the next sync or mount
// of the workspace), and the content of files closed while it could not be saved (kept in
// the spool folder for the next mount). The error says what could not be kept.
func (m *Mount) Finish(ctx context.Context) (kept []string, err error) {
	m.cancel()
	m.bg.Wait()
	defer m.lock.Close()
	var errs []error
	left := false
	for _, ws := range m.mounted() {
		for _, f := range ws.writePending(ctx) {
			left = true
			p, _ := f.path()
			if err := ws.keep(f); err != nil {
				errs = append(errs, fmt.Errorf("workspace %s: %w", ws.label(), err))
				continue
			}
			kept = append(kept, fmt.Sprintf("workspace %s: what was written to %s (the next mount sends it)", ws.label(), p))
		}
		if ws.past {
			continue
		}
		if err := ws.w.Sync(ctx); err != nil || ws.w.NeedSync() {
			if err == nil {
				err = errors.New("changes left to send")
			}
			kept = append(kept, fmt.Sprintf("workspace %s: changes saved on this device (the next sync or mount sends them): %v", ws.label(), err))
		}
	}
	if !left {
		os.RemoveAll(m.spool)
	}
	slices.Sort(kept)
	return kept, errors.Join(errs...)
}

// Sync saves what closed files left unsaved, syncs every mounted workspace and reads what
// the certificates say of it (name, role, archiving) now, as the background syncers do
// soon after each change.
func (m *Mount) Sync(ctx context.Context) error {
	var errs []error
	for _, ws := range m.mounted() {
		if left := ws.writePending(ctx); len(left) > 0 {
			errs = append(errs, fmt.Errorf("workspace %s: %d closed file(s) not saved yet", ws.label(), len(left)))
		}
		if !ws.past {
			errs = append(errs, parsec.Wrap(ws.w.Sync(ctx), "workspace %s", ws.label()))
			ws.refreshInfo(ctx)
		}
	}
	return errors.Join(errs...)
}

// mounted returns the workspaces mounted so far.
func (m *Mount) mounted() []*workspace {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := make([]*workspace, 0, len(m.workspaces))
	for _, ws := range m.workspaces {
		all = append(all, ws)
	}
	return all
}

// workspace returns the state of a mounted workspace, opening it and starting its syncer
// the first time.
func (m *Mount) workspace(ctx context.Context, info client.WorkspaceInfo) (*workspace, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ws := m.workspaces[info.ID]; ws != nil {
		ws.setInfo(info)
		return ws, nil
	}
	w, err := m.c.Workspace(ctx, info.ID)
	if err != nil {
		return nil, err
	}
	ws := &workspace{m: m, id: info.ID, w: w, src: w, kick: make(chan struct{}, 1), files: map[parsec.VlobID]*openFile{}}
	if !m.opts.At.IsZero() {
		past, err := w.At(m.opts.At).Load(ctx)
		if err != nil {
			return nil, err
		}
		ws.src, ws.past = past, true
		ws.setInfo(info)
		m.workspaces[info.ID] = ws
		return ws, nil
	}
	ws.setInfo(info)
	if err := w.Sync(ctx); err != nil {
		m.warn("workspace %s not synced (%v): showing what this device has", ws.label(), err)
	}
	m.workspaces[info.ID] = ws
	m.bg.Go(ws.syncer)
	return ws, nil
}

// watch follows the server's events and has the workspaces concerned synced.
func (m *Mount) watch() {
	err := m.c.Watch(m.ctx, func(ch client.Change) {
		if ch.IsNews() {
			return
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		for id, ws := range m.workspaces {
			if ch.Realm.IsZero() || ch.Realm == id {
				ws.kickSync()
			}
		}
	})
	if err != nil {
		m.warn("no longer receiving the server's events: %v", err)
	}
}

// folderNames names the workspaces' folders: by name, a name that cannot be read or is
// taken twice gets the workspace's short ID.
func folderNames(infos []client.WorkspaceInfo) map[string]client.WorkspaceInfo {
	count := map[string]int{}
	for _, info := range infos {
		count[info.Name]++
	}
	out := map[string]client.WorkspaceInfo{}
	for _, info := range infos {
		name := strings.ReplaceAll(info.Name, "/", "_")
		switch {
		case name == "" || name == "." || name == "..":
			name = "workspace " + parsec.ShortID(info.ID)
		case count[info.Name] > 1:
			name += " (" + parsec.ShortID(info.ID) + ")"
		}
		out[name] = info
	}
	return out
}

// rootNode is the mount point when it shows every workspace.
type rootNode struct {
	fs.Inode
	m *Mount
}

var (
	_ fs.NodeLookuper  = (*rootNode)(nil)
	_ fs.NodeReaddirer = (*rootNode)(nil)
	_ fs.NodeGetattrer = (*rootNode)(nil)
	_ fs.NodeSetattrer = (*rootNode)(nil)
	_ fs.NodeStatfser  = (*rootNode)(nil)
	_ fs.NodeMkdirer   = (*rootNode)(nil)
	_ fs.NodeCreater   = (*rootNode)(nil)
	_ fs.NodeRenamer   = (*rootNode)(nil)
	_ fs.NodeUnlinker  = (*rootNode)(nil)
	_ fs.NodeRmdirer   = (*rootNode)(nil)
)

func (r *rootNode) workspaces(ctx context.Context) (map[string]client.WorkspaceInfo, syscall.Errno) {
	infos, err := r.m.c.Workspaces(ctx)
	if err != nil {
		return nil, r.m.errno(err)
	}
	return folderNames(infos), 0
}

func (r *rootNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	names, errno := r.workspaces(ctx)
	if errno != 0 {
		return nil, errno
	}
	info, ok := names[name]
	if !ok {
		return nil, syscall.ENOENT
	}
	ws, err := r.m.workspace(ctx, info)
	if err != nil {
		return nil, r.m.errno(err)
	}
	e, err := ws.src.Stat("/")
	if err != nil {
		return nil, r.m.errno(err)
	}
	ws.attr(e, &out.Attr)
	return r.NewInode(ctx, &node{ws: ws, id: ws.id, dir: true}, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: ino(ws.id)}), 0
}

func (r *rootNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	names, errno := r.workspaces(ctx)
	if errno != 0 {
		return nil, errno
	}
	entries := make([]fuse.DirEntry, 0, len(names))
	for name, info := range names {
		entries = append(entries, fuse.DirEntry{Name: name, Mode: syscall.S_IFDIR, Ino: ino(info.ID)})
	}
	slices.SortFunc(entries, func(a, b fuse.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	return fs.NewListDirStream(entries), 0
}

func (r *rootNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o555
	out.Nlink = 2
	out.Owner = r.m.owner
	return 0
}

func (r *rootNode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	return syscall.EROFS
}

func (r *rootNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	statfs(out)
	return 0
}

// The mount point holds workspaces only: they are created, renamed and removed with the
// workspace commands.

func (r *rootNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EACCES
}

func (r *rootNode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	return nil, nil, 0, syscall.EACCES
}

func (r *rootNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	return syscall.EACCES
}

func (r *rootNode) Unlink(ctx context.Context, name string) syscall.Errno { return syscall.EACCES }

func (r *rootNode) Rmdir(ctx context.Context, name string) syscall.Errno { return syscall.EACCES }

// statfs answers programs that check the free space first: the server decides, so the
// numbers are large.
func statfs(out *fuse.StatfsOut) {
	out.Bsize, out.Frsize, out.NameLen = 4096, 4096, 255
	out.Blocks, out.Bfree, out.Bavail = 1<<40, 1<<40, 1<<40
	out.Files, out.Ffree = 1<<32, 1<<32
}
