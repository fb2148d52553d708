package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"
	"golang.org/x/text/unicode/norm"

	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Workspace is this device's view of a workspace: the manifests of its folders and files,
// as last read from the server (base) and with the local changes not pushed yet (local).
// Every change is written to the local cache first, then pushed by Push or Sync. A
// Workspace is safe for concurrent use; its operations are serialized.
type Workspace struct {
	c  *Client
	id parsec.VlobID

	mu sync.Mutex
	// entries holds the entries a change is working on, until it is saved (see pin and
	// save). Every other entry, folder or file, stays in the local cache and is read from
	// it when needed (get), through recent: the memory a workspace takes does not grow with
	// its folders or files.
	entries map[parsec.VlobID]*entry
	// recent keeps the stored entries last read or saved, decoded: a path's folders, or a
	// file worked on by one call after another (a mount's create, write, flush), are not
	// read again each time.
	recent recentEntries
	// damaged holds the entries whose copy in the local cache cannot be read: they are
	// taken for not known here, and the next sync fetches them again.
	damaged map[parsec.VlobID]bool
	// readErr is the last error reading an entry from the cache, which a sync under way
	// must not take for an entry not known (see pull).
	readErr error
	// unsent is what a pull under way knows of the changes not sent yet, listed when first
	// needed (see changesUnsent); nil until then.
	unsent     *unsentChanges
	checkpoint uint64 // the change checkpoint the entries are at
	gen        uint64 // the cache's generation the entries are at (see lockWrite)
	// knownAt is the last certificate timestamp this process knew when it polled the
	// change log at checkpoint (zero before its first poll): what changes after it are
	// dated after (checkNewSincePoll).
	knownAt parsec.DateTime
	// unreadable says, by entry, what was last said of an entry skipped because it cannot
	// be read, so that it is said once.
	unreadable map[parsec.VlobID]string
	// leftOut says the same of entries the local cache cannot give back (see leftOut); it
	// has its own lock, since entries are decoded on every core.
	leftOutMu   sync.Mutex
	saidLeftOut map[parsec.VlobID]string
}

// change is when an entry last changed, and by which device.
type change struct {
	at parsec.DateTime
	by parsec.DeviceID
}

// note makes c the newest of c and m's last change.
func (c *change) note(m manifest.Manifest) {
	if h := m.Head(); h.Updated > c.at {
		c.at, c.by = h.Updated, h.Author
	}
}

// entry is one manifest of the workspace.
type entry struct {
	base  manifest.Manifest // the last version known on the server; nil if never synced
	local manifest.Manifest // the local version when it has changes to push, else nil
}

func (e *entry) current() manifest.Manifest {
	if e.local != nil {
		return e.local
	}
	return e.base
}

// currentFolder returns the entry's current version if it is a folder (e may be nil).
func (e *entry) currentFolder() (*manifest.FolderManifest, bool) {
	if e == nil {
		return nil, false
	}
	f, ok := e.current().(*manifest.FolderManifest)
	return f, ok
}

func (e *entry) baseVersion() uint64 {
	if e.base == nil {
		return 0
	}
	return e.base.Head().Version
}

// Entry describes a file or folder.
type Entry struct {
	Name     string
	Path     string
	ID       parsec.VlobID
	IsFolder bool
	Size     uint64 // files only
	Created  parsec.DateTime
	Updated  parsec.DateTime
	Version  uint64 // last version synced (0: never)
	NeedSync bool   // has local changes not pushed yet
	Author   parsec.DeviceID

	file *manifest.FileManifest // a file's manifest, as listed: what Download reads
}

// Workspace opens a workspace of this user by ID, loading what the local cache holds.
func (c *Client) Workspace(ctx context.Context, id parsec.VlobID) (*Workspace, error) {
	c.mu.Lock()
	if c.open == nil {
		c.open = map[parsec.VlobID]*Workspace{}
	}
	w := c.open[id]
	c.mu.Unlock()
	if w != nil {
		return w, nil
	}
	if _, ok := c.certRealm(id); !ok {
		return nil, parsec.Errorf(parsec.NotFound, "workspace %s not found", parsec.ShortID(id))
	}
	w = &Workspace{c: c, id: id, unreadable: map[parsec.VlobID]string{}}
	if err := w.label(ctx); err != nil {
		return nil, err
	}
	if err := w.load(ctx); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if existing := c.open[id]; existing != nil {
		return existing, nil
	}
	c.open[id] = w
	return w, nil
}

// labelBatch is how many manifests of a cache written by an earlier version are labelled
// in one transaction.
const labelBatch = 32768

// label gives the manifests that a cache written by an earlier version holds their labels
// (see localdb.Vlob), once, and has the next sync look into every folder, and fetch the
// entries whose copy cannot be read: that version looked for missing children at every
// sync, this one in the folders a sync brings (see localdb.Checkpoint).
func (w *Workspace) label(ctx context.Context) error {
	if waiting, err := w.c.cache.NeedsLabels(ctx, w.id); err != nil || !waiting {
		return err
	}
	release, err := w.c.cache.LockRealm(w.id)
	if err != nil {
		return err
	}
	defer release()
	var folders, missing []parsec.VlobID
	var after parsec.VlobID
	for {
		var batch []localdb.Vlob
		err := w.c.cache.Unlabeled(ctx, w.id, after, labelBatch, func(v localdb.Vlob) error {
			errs := []error{v.Damaged}
			for _, b := range [][]byte{v.Base, v.Local} { // the local version, if any, last
				if b != nil {
					s, err := manifest.Peek(b)
					errs = append(errs, err)
					v.Folder, v.Updated = v.Folder || s.Folder, s.Updated
				}
			}
			if errors.Join(errs...) != nil {
				v.Folder, v.Updated = false, 0
				missing = append(missing, v.ID)
			} else if v.Folder {
				folders = append(folders, v.ID)
			}
			batch = append(batch, localdb.Vlob{ID: v.ID, Folder: v.Folder, Updated: v.Updated})
			return nil
		})
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			break
		}
		after = batch[len(batch)-1].ID
		// With the rows' labels, what the next sync looks into, in one transaction: a
		// labelling stopped midway goes on from the rows left.
		if err := w.c.cache.Label(ctx, w.id, batch, append(folders, missing...)); err != nil {
			return err
		}
		folders, missing = folders[:0], missing[:0]
	}
	return nil
}

// loadBatch is how many manifests read from the local cache are decoded together.
const loadBatch = 256

// load reads the workspace's checkpoint from the local cache, and forgets what memory holds
// of its entries: they are read from the cache again as they are needed.
func (w *Workspace) load(ctx context.Context) error {
	// The generation is read first: a write that comes in between makes it older than the
	// rows, and the next lockWrite reads them again.
	gen, err := w.c.cache.Generation(ctx, w.id)
	if err != nil {
		return err
	}
	checkpoint, err := w.c.cache.Checkpoint(ctx, w.id)
	if err != nil {
		return err
	}
	w.entries, w.checkpoint, w.gen = map[parsec.VlobID]*entry{}, checkpoint, gen
	w.recent, w.damaged = recentEntries{}, nil
	return nil
}

// recentEntries is a small cache of stored entries, the oldest let go first, bounded by
// their number and by the size of their manifests (see approxSize).
type recentEntries struct {
	byID  map[parsec.VlobID]recentEntry
	order []parsec.VlobID // in the order they came, from head on; IDs no longer in byID are skipped
	head  int
	size  int
}

type recentEntry struct {
	e    *entry
	size int
}

// recentCap and recentSize bound what recent keeps; the entry put last is kept whatever
// its size, so that a folder read again and again is decoded once.
const (
	recentCap  = 512
	recentSize = 8 << 20
)

func (r *recentEntries) get(id parsec.VlobID) *entry { return r.byID[id].e }

func (r *recentEntries) put(id parsec.VlobID, e *entry) {
	if r.byID == nil {
		r.byID = make(map[parsec.VlobID]recentEntry)
	}
	size := 0
	for _, m := range []manifest.Manifest{e.base, e.local} {
		if m != nil {
			size += approxSize(m)
		}
	}
	if old, ok := r.byID[id]; ok {
		r.size -= old.size
	} else {
		r.order = append(r.order, id)
	}
	r.byID[id] = recentEntry{e: e, size: size}
	r.size += size
	for (len(r.byID) > recentCap || r.size > recentSize) && len(r.byID) > 1 {
		oldest := r.order[r.head]
		r.head++
		switch old, ok := r.byID[oldest]; {
		case oldest == id:
			r.order = append(r.order, id) // put again: it goes last
		case ok:
			delete(r.byID, oldest)
			r.size -= old.size
		}
	}
	if r.head > len(r.order)/2 || len(r.order) > 2*len(r.byID)+recentCap {
		// Compacted, each entry held once, where it was put last: an entry forgotten (see
		// keep) and put again is appended again.
		seen := make(map[parsec.VlobID]bool, len(r.byID))
		kept := make([]parsec.VlobID, 0, len(r.byID))
		for i := len(r.order) - 1; i >= r.head; i-- {
			if id := r.order[i]; !seen[id] {
				if _, ok := r.byID[id]; ok {
					seen[id] = true
					kept = append(kept, id)
				}
			}
		}
		slices.Reverse(kept)
		r.order, r.head = kept, 0
	}
}

func (r *recentEntries) forget(id parsec.VlobID) {
	if old, ok := r.byID[id]; ok {
		delete(r.byID, id)
		r.size -= old.size
	}
}

// isFolder says whether an entry is a folder, in either version.
func (e *entry) isFolder() bool {
	return (e.base != nil && e.base.IsFolder()) || (e.local != nil && e.local.IsFolder())
}

// get returns entry id as this device knows it: from memory, or else from the local cache
// (through recent), for reading only: change an entry through pin or keep. Nil when the
// entry is not known here, or cannot be read.
func (w *Workspace) get(id parsec.VlobID) *entry {
	e, _ := w.lookup(id)
	return e
}

// lookup is get, with the error that kept it from reading the local cache: an entry it
// returns nil for without an error is not known here (or its copy is damaged, see
// damaged), one with an error may be there (see merge).
func (w *Workspace) lookup(id parsec.VlobID) (*entry, error) {
	if e, ok := w.entries[id]; ok {
		return e, nil
	}
	if w.damaged[id] {
		return nil, nil
	}
	if e := w.recent.get(id); e != nil {
		return e, nil
	}
	var out *entry
	found := false
	err := w.c.cache.GetVlobs(context.Background(), w.id, []parsec.VlobID{id}, func(v localdb.Vlob) error {
		found = true
		out = w.decodeEntry(v)
		return nil
	})
	switch {
	case parsec.IsKind(err, parsec.Invalid):
		w.leftOut(id, err) // a damaged copy: left out below
		found = true
	case err != nil:
		// The cache cannot be read (the disk, say): the entry is not taken for unknown.
		w.c.warn("workspace %s: entry %s cannot be read from the local cache: %v", parsec.ShortID(w.id), parsec.ShortID(id), err)
		w.readErr = parsec.Wrap(err, "workspace %s: entry %s cannot be read from the local cache", parsec.ShortID(w.id), parsec.ShortID(id))
		return nil, w.readErr
	}
	if out == nil {
		if found {
			w.leaveOut(id)
		}
		return nil, nil
	}
	w.recent.put(id, out)
	return out, nil
}

// leaveOut takes entry id, whose copy in the local cache cannot be read, for not known here:
// the next sync fetches it again.
func (w *Workspace) leaveOut(id parsec.VlobID) {
	if w.damaged == nil {
		w.damaged = map[parsec.VlobID]bool{}
	}
	w.damaged[id] = true
}

// pin returns entry id like get, kept in memory until it is saved unchanged (see save):
// what a change works on.
func (w *Workspace) pin(id parsec.VlobID) *entry {
	e := w.get(id)
	if e != nil {
		w.keep(id, e)
	}
	return e
}

// keep keeps e, entry id read by get or made anew, in memory until it is saved.
func (w *Workspace) keep(id parsec.VlobID, e *entry) {
	w.entries[id] = e
	w.recent.forget(id)
}

// pinAll pins the entries ids (see pin), reading those not in memory from the local cache
// together.
func (w *Workspace) pinAll(ids []parsec.VlobID) error {
	var load []parsec.VlobID
	for _, id := range ids {
		if _, ok := w.entries[id]; !ok {
			load = append(load, id)
		}
	}
	var mu sync.Mutex
	return w.eachStored(load, func(id parsec.VlobID, e *entry) {
		mu.Lock()
		w.keep(id, e)
		mu.Unlock()
	})
}

// baseVersion returns the version of entry id last synced here (0: never, or not known).
func (w *Workspace) baseVersion(id parsec.VlobID) uint64 {
	return w.versions([]parsec.VlobID{id})[id]
}

// versions returns the versions of entries ids last synced here, leaving out those not
// known here; an entry known but never synced has version 0.
func (w *Workspace) versions(ids []parsec.VlobID) map[parsec.VlobID]uint64 {
	out := make(map[parsec.VlobID]uint64, len(ids))
	var stored []parsec.VlobID
	for _, id := range ids {
		switch e, ok := w.entries[id]; {
		case ok:
			if e.current() != nil {
				out[id] = e.baseVersion()
			}
		case w.damaged[id]:
		default:
			stored = append(stored, id)
		}
	}
	if len(stored) == 0 {
		return out
	}
	err := w.c.cache.Versions(context.Background(), w.id, stored, func(id parsec.VlobID, v uint64) { out[id] = v })
	if err != nil {
		w.c.warn("workspace %s: the versions of entries cannot be read from the local cache: %v", parsec.ShortID(w.id), err)
		w.readErr = parsec.Wrap(err, "workspace %s: the versions of entries cannot be read from the local cache", parsec.ShortID(w.id))
	}
	return out
}

// leftOut says that the local copy of entry id cannot be read.
func (w *Workspace) leftOut(id parsec.VlobID, err error) {
	why := err.Error()
	w.leftOutMu.Lock()
	said := w.saidLeftOut[id] == why
	if !said {
		if w.saidLeftOut == nil {
			w.saidLeftOut = map[parsec.VlobID]string{}
		}
		w.saidLeftOut[id] = why
	}
	w.leftOutMu.Unlock()
	if !said {
		w.c.warn("workspace %s: the local copy of entry %s cannot be read, it is left out: %v", parsec.ShortID(w.id), parsec.ShortID(id), err)
	}
}

// decodeEntry decodes an entry kept in the local cache; nil when it has no version, or when
// it cannot be read: one entry the cache cannot give back is left out (the next sync
// fetches it again, as a child its folder names), not the whole workspace.
func (w *Workspace) decodeEntry(v localdb.Vlob) *entry {
	if v.Damaged != nil {
		w.leftOut(v.ID, v.Damaged)
		return nil
	}
	e := &entry{}
	var err error
	var errs []error
	if v.Base != nil {
		e.base, err = manifest.DecodeTrusted(v.Base)
		errs = append(errs, err)
	}
	if v.Local != nil {
		e.local, err = manifest.DecodeTrusted(v.Local)
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		w.leftOut(v.ID, err)
		return nil
	}
	if e.current() == nil {
		return nil
	}
	return e
}

// lockWrite locks the workspace for a change, in this process (w.mu) and among the
// processes of the device (the cache's lock): the CLI, the GUI and a mount may run at once
// on one device, and each changes the cache from its copy in memory. When another process
// wrote since this copy was read, it is read again first, so that no change of the other
// is overwritten. The returned function unlocks.
func (w *Workspace) lockWrite(ctx context.Context) (func(), error) {
	w.mu.Lock()
	release, err := w.c.cache.LockRealm(w.id)
	if err != nil {
		w.mu.Unlock()
		return nil, err
	}
	unlock := func() {
		if len(w.entries) > 0 {
			// What a change that failed left pinned, unsaved, is forgotten: memory
			// never holds a change the cache does not.
			w.load(context.WithoutCancel(ctx))
		}
		release()
		w.mu.Unlock()
	}
	gen, err := w.c.cache.Generation(ctx, w.id)
	if err == nil && gen != w.gen {
		err = w.load(ctx)
	}
	if err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// lockRead locks the workspace for reading, in this process. When another process of the
// device wrote since the entries in memory were read, they are forgotten first: a read that
// starts after that change sees it, and does not mix entries decoded before it with entries
// read after it (one that runs while the other process writes may still see part of it).
func (w *Workspace) lockRead() {
	w.mu.Lock()
	if gen, err := w.c.cache.Generation(context.Background(), w.id); err == nil && gen != w.gen {
		w.load(context.Background())
	}
}

// ID returns the workspace's ID.
func (w *Workspace) ID() parsec.VlobID { return w.id }

// save writes entries to the local cache in one transaction (with the checkpoint when not
// nil). It is the moment a change is acknowledged: after it, the change survives a crash.
func (w *Workspace) save(ctx context.Context, ids []parsec.VlobID, checkpoint *localdb.Checkpoint) error {
	// Each entry is encoded as the cache stores it: a change of many files is never all
	// encoded in memory at once.
	rows := func(yield func(localdb.Vlob) bool) {
		for _, id := range slices.Compact(sortedIDs(ids)) {
			e := w.entries[id]
			if e == nil {
				continue
			}
			if !yield(storedVlob(id, e)) {
				return
			}
		}
	}
	gen, err := w.c.cache.PutVlobsSeq(ctx, w.id, rows, checkpoint)
	return w.saved(ctx, ids, gen, err)
}

// saved ends a save of entries ids, which gave the cache's generation gen, or failed.
func (w *Workspace) saved(ctx context.Context, ids []parsec.VlobID, gen uint64, err error) error {
	if err != nil {
		// Nothing was kept: forget the changes in memory too, so that both agree, even
		// when what stopped the save is the caller's context ending.
		w.load(context.WithoutCancel(ctx))
		return err
	}
	w.gen = gen
	// What is saved needs no memory any more: it goes back to the cache.
	for _, id := range ids {
		if e, ok := w.entries[id]; ok {
			delete(w.entries, id)
			delete(w.damaged, id)
			w.recent.put(id, e)
		}
	}
	return nil
}

// A background save is a save of entries encoded first, written to the cache by another
// goroutine while this one goes on; end finishes it like save (call it once, with the
// workspace locked as when it started).
type backgroundSave struct {
	ids  []parsec.VlobID
	gen  uint64
	err  error
	done chan struct{}
}

func (w *Workspace) saveInBackground(ctx context.Context, ids []parsec.VlobID) *backgroundSave {
	var rows []localdb.Vlob
	for _, id := range slices.Compact(sortedIDs(ids)) {
		if e := w.entries[id]; e != nil {
			rows = append(rows, storedVlob(id, e))
		}
	}
	b := &backgroundSave{ids: ids, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		// What the server took is saved even if the caller stops meanwhile.
		b.gen, b.err = w.c.cache.PutVlobsSeq(context.WithoutCancel(ctx), w.id, slices.Values(rows), nil)
	}()
	return b
}

func (b *backgroundSave) end(ctx context.Context, w *Workspace) error {
	<-b.done
	return w.saved(ctx, b.ids, b.gen, b.err)
}

// storedVlob is entry id as the local cache stores it.
func storedVlob(id parsec.VlobID, e *entry) localdb.Vlob {
	v := localdb.Vlob{ID: id, BaseVersion: e.baseVersion(), NeedSync: e.local != nil}
	if e.base != nil {
		v.Base = manifest.Encode(e.base)
	}
	if e.local != nil {
		v.Local = manifest.Encode(e.local)
	}
	if m := e.current(); m != nil {
		v.Folder, v.Updated = m.IsFolder(), m.Head().Updated
	}
	return v
}

func sortedIDs(ids []parsec.VlobID) []parsec.VlobID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, compareIDs)
	return ids
}

func compareIDs(a, b parsec.VlobID) int { return bytes.Compare(a[:], b[:]) }

// root returns the root folder. Before the workspace's first sync brings it (or its
// creator's first push sends it), it is an empty folder that exists only once something is
// put in it (see edit): reading does not create anything to push.
func (w *Workspace) root() *manifest.FolderManifest {
	if e := w.get(w.id); e != nil {
		if f, ok := e.current().(*manifest.FolderManifest); ok {
			return f
		}
	}
	return w.emptyRoot()
}

func (w *Workspace) emptyRoot() *manifest.FolderManifest {
	now := w.c.now()
	return &manifest.FolderManifest{
		Header:   manifest.Header{ID: w.id, Parent: w.id, Created: now, Updated: now},
		Children: map[string]parsec.VlobID{},
	}
}

// splitPath cleans a workspace path into its names ("/" gives none).
func splitPath(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	clean := path.Clean(p)
	if clean == "/" {
		return nil, nil
	}
	names := strings.Split(clean[1:], "/")
	for i, n := range names {
		nn, err := manifest.ParseEntryName(n)
		if err != nil {
			return nil, parsec.Errorf(parsec.Invalid, "invalid name %q in path %q: %v", n, p, err)
		}
		names[i] = nn // NFC: manifests only hold normalized names
	}
	return names, nil
}

// resolve finds the manifest at a path.
func (w *Workspace) resolve(p string) (manifest.Manifest, error) {
	e, err := w.resolveEntry(p)
	if err != nil {
		return nil, err
	}
	return e.current(), nil
}

// resolveEntry finds the entry at a path (the root folder before it exists is an entry of
// its own, not kept).
func (w *Workspace) resolveEntry(p string) (*entry, error) {
	names, err := splitPath(p)
	if err != nil {
		return nil, err
	}
	cur := w.get(w.id)
	if cur == nil || cur.current() == nil || !cur.current().IsFolder() {
		cur = &entry{base: w.emptyRoot()}
	}
	for i, n := range names {
		f, ok := cur.current().(*manifest.FolderManifest)
		if !ok {
			return nil, parsec.Errorf(parsec.Invalid, "%s is a file, not a folder", "/"+strings.Join(names[:i], "/"))
		}
		id, ok := f.Children[n]
		if !ok {
			return nil, parsec.Errorf(parsec.NotFound, "%s: no such file or folder", "/"+strings.Join(names[:i+1], "/"))
		}
		e := w.get(id)
		if e == nil || e.current() == nil {
			return nil, parsec.Errorf(parsec.Unavailable, "%s is not synced yet: run a sync", "/"+strings.Join(names[:i+1], "/"))
		}
		cur = e
	}
	return cur, nil
}

// resolveParent finds the folder that holds (or will hold) a path, and the entry's name.
func (w *Workspace) resolveParent(p string) (*manifest.FolderManifest, string, error) {
	names, err := splitPath(p)
	if err != nil {
		return nil, "", err
	}
	if len(names) == 0 {
		return nil, "", parsec.Errorf(parsec.Invalid, "the root folder cannot be changed this way")
	}
	parent, err := w.resolve("/" + strings.Join(names[:len(names)-1], "/"))
	if err != nil {
		return nil, "", err
	}
	f, ok := parent.(*manifest.FolderManifest)
	if !ok {
		return nil, "", parsec.Errorf(parsec.Invalid, "/%s is a file, not a folder", strings.Join(names[:len(names)-1], "/"))
	}
	return f, names[len(names)-1], nil
}

// edit returns the local (editable) version of an entry, copying the base on first change.
func (w *Workspace) edit(id parsec.VlobID) manifest.Manifest {
	e := w.pin(id)
	if e == nil && id == w.id {
		e = &entry{local: w.emptyRoot()}
		w.entries[id] = e
	}
	if e.local == nil {
		e.local = cloneManifest(e.base)
	}
	return e.local
}

func (w *Workspace) editFolder(id parsec.VlobID) *manifest.FolderManifest {
	return w.edit(id).(*manifest.FolderManifest)
}

// LastChange returns when the workspace last changed as this device knows it (the newest
// entry's last change, sent or not) and by which device; zero when nothing is known yet.
func (w *Workspace) LastChange() (parsec.DateTime, parsec.DeviceID) {
	w.lockRead()
	defer w.mu.Unlock()
	var last change
	err := w.c.cache.Newest(context.Background(), w.id, func(v localdb.Vlob) bool {
		e := w.decodeEntry(v)
		if e != nil {
			last.note(e.current())
		}
		return e == nil // a copy that cannot be read: the next newest
	})
	if err != nil {
		w.c.warn("workspace %s: its last change cannot be read from the local cache: %v", parsec.ShortID(w.id), err)
	}
	for _, e := range w.entries {
		if m := e.current(); m != nil {
			last.note(m)
		}
	}
	return last.at, last.by
}

func toEntry(name, p string, e *entry) Entry {
	m := e.current()
	h := m.Head()
	out := Entry{Name: name, Path: p, ID: h.ID, IsFolder: m.IsFolder(), Created: h.Created, Updated: h.Updated, Author: h.Author,
		Version: e.baseVersion(), NeedSync: e.local != nil}
	if f, ok := m.(*manifest.FileManifest); ok {
		out.Size, out.file = f.Size, f
		if e.local != nil {
			// A change not sent yet is edited in place (see edit): the entry keeps a copy
			// of it as listed (blocks are replaced, never edited).
			c := *f
			out.file = &c
		}
	}
	return out
}

// Stat describes the entry at a path.
func (w *Workspace) Stat(p string) (Entry, error) {
	w.lockRead()
	defer w.mu.Unlock()
	e, err := w.resolveEntry(p)
	if err != nil {
		return Entry{}, err
	}
	names, _ := splitPath(p)
	name := "/"
	if len(names) > 0 {
		name = names[len(names)-1]
	}
	return toEntry(name, "/"+strings.Join(names, "/"), e), nil
}

// List lists a folder's entries by name (a file lists as itself).
func (w *Workspace) List(p string) ([]Entry, error) {
	return w.list(p, false)
}

// Walk lists a folder's whole tree, folders before their content, by name.
func (w *Workspace) Walk(p string) ([]Entry, error) {
	return w.list(p, true)
}

func (w *Workspace) list(p string, recursive bool) ([]Entry, error) {
	w.lockRead()
	defer w.mu.Unlock()
	e, err := w.resolveEntry(p)
	if err != nil {
		return nil, err
	}
	names, _ := splitPath(p)
	base := "/" + strings.Join(names, "/")
	f, ok := e.current().(*manifest.FolderManifest)
	if !ok {
		return []Entry{toEntry(names[len(names)-1], base, e)}, nil
	}
	if !recursive {
		return w.children(base, f)
	}
	return w.walkTree(base, f)
}

// maxTreeDepth bounds how deep a walk of a workspace's tree goes.
const maxTreeDepth = 512

// walkTree lists the whole tree under folder f at path base, folders before their content, by
// name, with the workspace locked all along (see eachInTree).
func (w *Workspace) walkTree(base string, f *manifest.FolderManifest) ([]Entry, error) {
	var out []Entry
	err := w.eachInTree(base, f.ID, func(read func()) { read() }, false, func(e Entry) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// WalkEach calls fn with each entry of a folder's whole tree (or with the file at p),
// folders before their content, by name, as Walk lists them, but one folder at a time,
// and a large folder listChunk entries at a time: what it holds is the names of the
// folders on the way to the current one, and a chunk of their entries, whatever the size
// of the tree. fn is called with the workspace unlocked, so that it may read it (as
// Download does); a change made during the walk may or may not be seen. An entry that a
// folder names but that cannot be read here stops the walk with an error, once fn has
// had the entries before it: what copies a tree must not leave part of it out.
func (w *Workspace) WalkEach(p string, fn func(Entry) error) error {
	w.lockRead()
	e, err := w.resolveEntry(p)
	if err != nil {
		w.mu.Unlock()
		return err
	}
	names, _ := splitPath(p)
	base := "/" + strings.Join(names, "/")
	f, ok := e.current().(*manifest.FolderManifest)
	if !ok {
		top := toEntry(names[len(names)-1], base, e)
		w.mu.Unlock()
		return fn(top)
	}
	w.mu.Unlock()
	return w.eachInTree(base, f.ID, func(read func()) {
		w.lockRead()
		defer w.mu.Unlock()
		read()
	}, true, fn)
}

// eachInTree calls fn with each entry of the tree under folder top at path base, folders
// before their content, by name. The tree is what members wrote, and a member may write
// folders inside each other: a folder is entered only from the folder its manifest names
// as its parent, and only once, so that a cycle or a folder listed twice is walked once; a
// tree deeper than maxTreeDepth is an error. Each folder's names, then each chunk of
// listChunk of its entries, are read from the workspace inside section, which holds the
// lock as the caller needs; fn is called outside it. With whole, an entry a folder names
// that cannot be read here is an error (see allListed): what copies the tree must not
// leave it out.
func (w *Workspace) eachInTree(base string, top parsec.VlobID, section func(read func()), whole bool, fn func(Entry) error) error {
	entered := map[parsec.VlobID]bool{}
	var walk func(base string, id, parent parsec.VlobID, depth int) error
	walk = func(base string, id, parent parsec.VlobID, depth int) error {
		if depth > maxTreeDepth {
			return parsec.Errorf(parsec.Invalid, "%s is more than %d folders deep", base, maxTreeDepth)
		}
		var kids []child
		section(func() {
			var f *manifest.FolderManifest
			ok := false
			if e := w.get(id); e != nil {
				f, ok = e.current().(*manifest.FolderManifest)
			}
			switch {
			case !ok:
				// Not a folder (or no longer known here): nothing to enter.
			case depth > 1 && f.Parent != parent:
				w.c.warn("%s: folder %s is listed in %s but says its parent is %s: its content is listed only there", base, parsec.ShortID(id), parsec.ShortID(parent), parsec.ShortID(f.Parent))
			default:
				entered[id] = true
				kids = childrenByName(f)
			}
		})
		// A large folder is read listChunk entries at a time, so that fn has the first
		// ones without waiting for the cache to give the rest.
		for len(kids) > 0 {
			some := kids[:min(len(kids), listChunk)]
			kids = kids[len(some):]
			var children []Entry
			var err error
			section(func() {
				if children, err = w.childrenOf(base, some); err == nil && whole {
					err = allListed(base, some, children)
				}
			})
			if err != nil {
				return err
			}
			for _, e := range children {
				if err := fn(e); err != nil {
					return err
				}
				if !e.IsFolder || entered[e.ID] {
					continue
				}
				if err := walk(e.Path, e.ID, id, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(base, top, parsec.VlobID{}, 1)
}

// listChunk is how many entries of a folder a walk reads from the local cache at a time.
var listChunk = 512

// child is an entry a folder names.
type child struct {
	name string
	id   parsec.VlobID
}

// childrenByName lists what folder f names, by name.
func childrenByName(f *manifest.FolderManifest) []child {
	kids := make([]child, 0, len(f.Children))
	for name, id := range f.Children {
		kids = append(kids, child{name, id})
	}
	slices.SortFunc(kids, func(a, b child) int { return strings.Compare(a.name, b.name) })
	return kids
}

// allListed checks that children, what childrenOf listed of kids (children of a folder
// at path base), holds every entry kids name: one whose copy here cannot be read
// (damaged, or not synced yet) is an error, for a copy that would otherwise go on without
// it.
func allListed(base string, kids []child, children []Entry) error {
	if len(children) >= len(kids) {
		return nil
	}
	listed := make(map[parsec.VlobID]bool, len(children))
	for _, e := range children {
		listed[e.ID] = true
	}
	for _, k := range kids {
		if !listed[k.id] { // a name for an entry listed under another is not missing
			return parsec.Errorf(parsec.Unavailable, "%s cannot be read from this device's local cache: run a sync, then try again", path.Join(base, k.name))
		}
	}
	return nil
}

// children lists the entries of a folder that are known locally, by name.
func (w *Workspace) children(base string, f *manifest.FolderManifest) ([]Entry, error) {
	return w.childrenOf(base, childrenByName(f))
}

// childrenOf lists the entries kids name (children of a folder at path base, by name)
// that are known locally, by name.
func (w *Workspace) childrenOf(base string, kids []child) ([]Entry, error) {
	out := make([]Entry, 0, len(kids))
	names := make(map[parsec.VlobID]string, len(kids))
	var stored []parsec.VlobID
	for _, k := range kids {
		if e, ok := w.entries[k.id]; ok {
			if e.current() != nil {
				out = append(out, toEntry(k.name, path.Join(base, k.name), e))
			}
			continue
		}
		if !w.damaged[k.id] {
			names[k.id] = k.name
			stored = append(stored, k.id) // those not synced yet are not there
		}
	}
	if len(stored) > 0 {
		var mu sync.Mutex
		err := w.eachStored(stored, func(id parsec.VlobID, e *entry) {
			name := names[id]
			mu.Lock()
			out = append(out, toEntry(name, path.Join(base, name), e))
			mu.Unlock()
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// eachStored reads entries ids from the local cache and calls fn with each that can be
// read, decoding them on every core; fn must be safe for concurrent use.
func (w *Workspace) eachStored(ids []parsec.VlobID, fn func(parsec.VlobID, *entry)) error {
	if len(ids) == 0 {
		return nil
	}
	g := new(errgroup.Group)
	g.SetLimit(runtime.GOMAXPROCS(0))
	batch := make([]localdb.Vlob, 0, loadBatch)
	var mu sync.Mutex
	var unreadable []parsec.VlobID
	flush := func() {
		todo := batch
		g.Go(func() error {
			for _, v := range todo {
				if e := w.decodeEntry(v); e != nil {
					fn(v.ID, e)
				} else {
					mu.Lock()
					unreadable = append(unreadable, v.ID)
					mu.Unlock()
				}
			}
			return nil
		})
		batch = make([]localdb.Vlob, 0, loadBatch)
	}
	err := w.c.cache.GetVlobs(context.Background(), w.id, ids, func(v localdb.Vlob) error {
		if batch = append(batch, v); len(batch) == loadBatch {
			flush()
		}
		return nil
	})
	if len(batch) > 0 {
		flush()
	}
	g.Wait()
	for _, id := range unreadable {
		w.leaveOut(id) // as get leaves it out
	}
	if err != nil {
		return parsec.Wrap(err, "workspace %s", parsec.ShortID(w.id))
	}
	return nil
}

// checkWritable refuses changes the server would refuse: READER, archived workspace.
func (w *Workspace) checkWritable() error {
	w.c.mu.Lock()
	role, _ := w.c.certs.RealmRole(w.id, w.c.dev.UserID)
	r, _ := w.c.certs.Realm(w.id)
	w.c.mu.Unlock()
	archiving := ""
	if r.Archiving != nil {
		archiving = r.Archiving.Configuration
	}
	return writable(role, archiving, "this workspace")
}

func roleName(r parsec.RealmRole) string {
	if r == parsec.RoleNone {
		return "no longer a member"
	}
	return "a " + strings.ToLower(r.Label())
}

// Mkdir creates a folder; with parents, the missing folders above it too, and an existing
// folder is not an error.
func (w *Workspace) Mkdir(ctx context.Context, p string, parents bool) error {
	unlock, err := w.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := w.checkWritable(); err != nil {
		return err
	}
	names, err := splitPath(p)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		if parents {
			return nil
		}
		return parsec.Errorf(parsec.Exists, "/ already exists")
	}
	changed, _, err := w.mkdirAll(names, parents)
	if err != nil {
		return err
	}
	return w.save(ctx, changed, nil)
}

// mkdirAll makes sure the folder names exists; it returns the changed entries and the
// folder's ID.
func (w *Workspace) mkdirAll(names []string, parents bool) ([]parsec.VlobID, parsec.VlobID, error) {
	var changed []parsec.VlobID
	cur := w.root()
	if len(names) == 0 {
		return nil, cur.ID, nil
	}
	for i, n := range names {
		last := i == len(names)-1
		if id, ok := cur.Children[n]; ok {
			e := w.get(id)
			if e == nil || e.current() == nil {
				return nil, parsec.VlobID{}, parsec.Errorf(parsec.Unavailable, "/%s is not synced yet: run a sync", strings.Join(names[:i+1], "/"))
			}
			f, ok := e.current().(*manifest.FolderManifest)
			if !ok {
				return nil, parsec.VlobID{}, parsec.Errorf(parsec.Exists, "/%s exists and is a file", strings.Join(names[:i+1], "/"))
			}
			if last && !parents {
				return nil, parsec.VlobID{}, parsec.Errorf(parsec.Exists, "/%s already exists", strings.Join(names[:i+1], "/"))
			}
			cur = f
			continue
		}
		if !last && !parents {
			return nil, parsec.VlobID{}, parsec.Errorf(parsec.NotFound, "/%s: no such folder (use -p to create it)", strings.Join(names[:i+1], "/"))
		}
		now := w.c.now()
		f := &manifest.FolderManifest{
			Header:   manifest.Header{ID: w.c.newID(), Parent: cur.ID, Created: now, Updated: now},
			Children: map[string]parsec.VlobID{},
		}
		w.entries[f.ID] = &entry{local: f}
		parent := w.editFolder(cur.ID)
		parent.Children[n] = f.ID
		parent.Updated = now
		changed = append(changed, f.ID, cur.ID)
		cur = f
	}
	return changed, cur.ID, nil
}

// ancestors lists the folders above entry id, from its parent up to the root, as far as
// they are known here: the last one may be a folder not synced yet. The parents are what
// the manifests say, and they can loop (a member's forged manifest, or folders moved into
// each other on two devices at once): a loop is an error naming its folders, not a walk
// without end.
func (w *Workspace) ancestors(id parsec.VlobID) ([]parsec.VlobID, error) {
	var up []parsec.VlobID
	seen := map[parsec.VlobID]bool{id: true}
	for cur := id; ; {
		e := w.get(cur)
		if e == nil || e.current() == nil || e.current().Head().IsRoot() {
			return up, nil
		}
		cur = e.current().Head().Parent
		if seen[cur] {
			chain := []string{parsec.ShortID(id)}
			for _, p := range append(up, cur) {
				chain = append(chain, parsec.ShortID(p))
			}
			return up, parsec.Errorf(parsec.Invalid, "the parents of %s loop: %s", parsec.ShortID(id), strings.Join(chain, " → "))
		}
		seen[cur] = true
		up = append(up, cur)
	}
}

// Rename moves an entry to another path (another folder, another name, or both). The
// destination must not exist.
func (w *Workspace) Rename(ctx context.Context, from, to string) error {
	unlock, err := w.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := w.checkWritable(); err != nil {
		return err
	}
	src, srcName, err := w.resolveParent(from)
	if err != nil {
		return err
	}
	id, ok := src.Children[srcName]
	if !ok {
		return parsec.Errorf(parsec.NotFound, "%s: no such file or folder", from)
	}
	dst, dstName, err := w.resolveParent(to)
	if err != nil {
		return err
	}
	if _, ok := dst.Children[dstName]; ok {
		return parsec.Errorf(parsec.Exists, "%s already exists", to)
	}
	// A folder cannot move into itself.
	up, err := w.ancestors(dst.ID)
	if err != nil {
		return parsec.Wrap(err, "cannot move %s to %s", from, to)
	}
	if dst.ID == id || slices.Contains(up, id) {
		return parsec.Errorf(parsec.Invalid, "cannot move %s into itself", from)
	}
	now := w.c.now()
	changed := []parsec.VlobID{src.ID, dst.ID}
	s := w.editFolder(src.ID)
	delete(s.Children, srcName)
	s.Updated = now
	d := w.editFolder(dst.ID)
	d.Children[dstName] = id
	d.Updated = now
	if src.ID != dst.ID {
		m := w.edit(id)
		m.Head().Parent = dst.ID
		changed = append(changed, id)
	}
	return w.save(ctx, changed, nil)
}

// Remove removes a file, or a folder: an empty one, or any with recursive. Old versions
// stay readable in the history.
func (w *Workspace) Remove(ctx context.Context, p string, recursive bool) error {
	unlock, err := w.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := w.checkWritable(); err != nil {
		return err
	}
	parent, name, err := w.resolveParent(p)
	if err != nil {
		return err
	}
	id, ok := parent.Children[name]
	if !ok {
		return parsec.Errorf(parsec.NotFound, "%s: no such file or folder", p)
	}
	if e := w.get(id); e != nil && e.current() != nil {
		if f, ok := e.current().(*manifest.FolderManifest); ok && len(f.Children) > 0 && !recursive {
			return parsec.Errorf(parsec.Invalid, "%s is a folder that is not empty (use -r)", p)
		}
	}
	changed := []parsec.VlobID{parent.ID}
	if e := w.get(id); e != nil && e.local != nil && e.base != nil && e.local.Head().Parent != e.base.Head().Parent {
		// Moved here, the move not sent: removed from the folder it was in before, as if
		// never moved, so that the merge sees a removal (which a change received meanwhile
		// wins over, see restoreChanged), not a move to a folder that does not name it.
		w.edit(id).Head().Parent = e.base.Head().Parent
		changed = append(changed, id)
	}
	f := w.editFolder(parent.ID)
	delete(f.Children, name)
	f.Updated = w.c.now()
	return w.save(ctx, changed, nil)
}

// conflictName returns a name for a copy of name that is not taken in children: "stem
// (label N).ext", N counting from 1. A name too long for that loses whole characters at
// the end of its stem, and an extension too long to leave room for the stem is not kept
// apart: the result is always a valid entry name (UTF-8, NFC, not too long).
func conflictName(children map[string]parsec.VlobID, name, label string) string {
	for n := 1; ; n++ {
		tag := fmt.Sprintf(" (%s %d)", label, n)
		stem, ext := name, ""
		if i := strings.LastIndexByte(name, '.'); i > 0 && utf8.UTFMax+len(tag)+len(name[i:]) <= manifest.MaxEntryNameLength {
			stem, ext = name[:i], name[i:]
		}
		candidate := norm.NFC.String(stem + tag + ext)
		for len(candidate) > manifest.MaxEntryNameLength && stem != "" {
			// A rune at a time: a byte cut could split one, and other devices refuse
			// names that are not valid UTF-8.
			_, size := utf8.DecodeLastRuneInString(stem)
			stem = stem[:len(stem)-size]
			candidate = norm.NFC.String(stem + tag + ext)
		}
		if _, taken := children[candidate]; !taken {
			return candidate
		}
	}
}

// cloneManifest returns a deep copy of m.
func cloneManifest(m manifest.Manifest) manifest.Manifest {
	switch m := m.(type) {
	case *manifest.FolderManifest:
		c := *m
		c.Children = maps.Clone(m.Children)
		if c.Children == nil {
			c.Children = map[string]parsec.VlobID{}
		}
		return &c
	case *manifest.FileManifest:
		c := *m
		c.Blocks = slices.Clone(m.Blocks)
		return &c
	}
	panic("client: unknown manifest type")
}
