package client

import (
	"cmp"
	"context"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// Version is one version of a file or folder, as the server keeps it.
type Version struct {
	Version   uint64
	Author    parsec.DeviceID
	Timestamp parsec.DateTime
	IsFolder  bool
	Size      uint64 // files only
}

// History lists every version of the entry at a path, oldest first. Each is validated like
// any manifest read from the server. The workspace's changes are received first, so that
// the history reaches the newest version.
func (w *Workspace) History(ctx context.Context, p string) ([]Version, error) {
	if err := w.Pull(ctx); err != nil {
		return nil, err
	}
	w.lockRead()
	m, err := w.resolve(p)
	w.mu.Unlock()
	if err != nil {
		return nil, err
	}
	id := m.Head().ID
	w.lockRead()
	held := w.baseVersion(id)
	w.mu.Unlock()
	if held == 0 {
		return nil, parsec.Errorf(parsec.NotFound, "%s has never been synced: it has no history yet", p)
	}
	// The history reaches at least the version this device holds.
	latest, err := w.c.readVlobs(ctx, w.id, map[parsec.VlobID]uint64{id: held}, readOpts{})
	if err != nil {
		return nil, err
	}
	last := latest[0].Head().Version
	var out []Version
	for first := uint64(1); first <= last; first += protocol.MaxBatchItems {
		var items []protocol.VlobVersion
		for v := first; v <= last && v < first+protocol.MaxBatchItems; v++ {
			items = append(items, protocol.VlobVersion{VlobID: id, Version: v})
		}
		var rep protocol.VlobReadRep
		if err := w.c.Call(ctx, protocol.CmdVlobReadVersions, protocol.VlobReadVersionsReq{RealmID: w.id, Items: items}, &rep); err != nil {
			return nil, err
		}
		got := make(map[uint64]bool, len(items))
		for _, it := range rep.Items {
			if it.VlobID != id || it.Version < first || it.Version >= first+uint64(len(items)) || got[it.Version] {
				return nil, parsec.Errorf(parsec.Tampered, "the server returned version %d of manifest %s when asked for versions %d to %d of %s",
					it.Version, parsec.ShortID(it.VlobID), first, first+uint64(len(items))-1, parsec.ShortID(id))
			}
			got[it.Version] = true
		}
		// Every version up to the last exists: one missing is hidden, and asking on
		// would not bring it (a version number the server made huge would keep the loop
		// asking for nothing, batch after batch).
		for _, it := range items {
			if !got[it.Version] {
				return nil, parsec.Errorf(parsec.Tampered, "the server hides version %d of %s", it.Version, p)
			}
		}
		ms, err := w.c.openVlobs(ctx, w.id, rep, nil)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			v := Version{Version: m.Head().Version, Author: m.Head().Author, Timestamp: m.Head().Timestamp, IsFolder: m.IsFolder()}
			if f, ok := m.(*manifest.FileManifest); ok {
				v.Size = f.Size
			}
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b Version) int { return cmp.Compare(a.Version, b.Version) })
	for i, v := range out {
		if v.Version != uint64(i+1) {
			return nil, parsec.Errorf(parsec.Tampered, "the server hides version %d of %s", i+1, p)
		}
		if i > 0 && v.Timestamp <= out[i-1].Timestamp {
			return nil, parsec.Errorf(parsec.Tampered, "version %d of %s is dated %s, not after version %d (%s): versions are never backdated",
				v.Version, p, v.Timestamp, i, out[i-1].Timestamp)
		}
	}
	if uint64(len(out)) != last {
		return nil, parsec.Errorf(parsec.Tampered, "the server returned %d versions of %s, which has %d", len(out), p, last)
	}
	return out, nil
}

// Snapshot is a read-only view of a workspace as it was at a given time.
type Snapshot struct {
	w  *Workspace
	at parsec.DateTime
}

// At returns the workspace as it was at time t.
func (w *Workspace) At(t parsec.DateTime) *Snapshot { return &Snapshot{w: w, at: t} }

// readOpts reads as of the snapshot's time; entries written invalid are skipped, saying so.
func (s *Snapshot) readOpts() readOpts {
	return readOpts{at: s.at, skip: func(it protocol.VlobItem, err error) {
		s.w.c.warn("workspace %s as of %s: skipping an entry that cannot be read: %v", parsec.ShortID(s.w.id), s.at, err)
	}, check: s.notRolledBack}
}

// notRolledBack refuses versions older than those this device holds and that were
// already written at the snapshot's time: the server returned versions that were no
// longer current then. (A version held that was written later says nothing of what was
// current at that time.)
func (s *Snapshot) notRolledBack(ms []manifest.Manifest) error {
	ids := make([]parsec.VlobID, len(ms))
	for i, m := range ms {
		ids[i] = m.Head().ID
	}
	w := s.w
	w.lockRead()
	held, err := w.entriesByID(ids)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	for _, m := range ms {
		h := m.Head()
		e := held[h.ID]
		if e == nil || e.base == nil {
			continue
		}
		if b := e.base.Head(); b.Timestamp <= s.at && h.Version < b.Version {
			return parsec.Errorf(parsec.Tampered, "asked for manifest %s as of %s, the server returned version %d, older than version %d, of %s, which this device holds",
				parsec.ShortID(h.ID), s.at, h.Version, b.Version, b.Timestamp)
		}
	}
	return nil
}

// manifestAt reads a vlob as it was at the snapshot's time.
func (s *Snapshot) manifestAt(ctx context.Context, id parsec.VlobID) (manifest.Manifest, error) {
	ms, err := s.w.c.readVlobs(ctx, s.w.id, map[parsec.VlobID]uint64{id: 0}, s.readOpts())
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, nil
	}
	return ms[0], nil
}

// resolve walks a path at the snapshot's time.
func (s *Snapshot) resolve(ctx context.Context, p string) (manifest.Manifest, error) {
	names, err := splitPath(p)
	if err != nil {
		return nil, err
	}
	cur, err := s.manifestAt(ctx, s.w.id)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		return nil, parsec.Errorf(parsec.NotFound, "the workspace did not exist yet at %s", s.at)
	}
	for i, n := range names {
		f, ok := cur.(*manifest.FolderManifest)
		if !ok {
			return nil, parsec.Errorf(parsec.Invalid, "/%s was a file at %s", strings.Join(names[:i], "/"), s.at)
		}
		id, ok := f.Children[n]
		if ok {
			cur, err = s.manifestAt(ctx, id)
			if err != nil {
				return nil, err
			}
		}
		if !ok || cur == nil {
			return nil, parsec.Errorf(parsec.NotFound, "/%s did not exist at %s", strings.Join(names[:i+1], "/"), s.at)
		}
	}
	return cur, nil
}

// List lists a folder as it was (a file lists as itself).
func (s *Snapshot) List(ctx context.Context, p string) ([]Entry, error) {
	m, err := s.resolve(ctx, p)
	if err != nil {
		return nil, err
	}
	names, _ := splitPath(p)
	base := "/" + strings.Join(names, "/")
	f, ok := m.(*manifest.FolderManifest)
	if !ok {
		return []Entry{snapshotEntry(names[len(names)-1], base, m)}, nil
	}
	byID, err := s.children(ctx, f)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for name, id := range f.Children {
		if m := byID[id]; m != nil {
			out = append(out, snapshotEntry(name, strings.TrimSuffix(base, "/")+"/"+name, m))
		}
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// children reads a folder's children as they were, by ID (those that did not exist yet are
// missing), in one batch.
func (s *Snapshot) children(ctx context.Context, f *manifest.FolderManifest) (map[parsec.VlobID]manifest.Manifest, error) {
	ids := map[parsec.VlobID]uint64{}
	for _, id := range f.Children {
		ids[id] = 0
	}
	ms, err := s.w.c.readVlobs(ctx, s.w.id, ids, s.readOpts())
	if err != nil {
		return nil, err
	}
	byID := make(map[parsec.VlobID]manifest.Manifest, len(ms))
	for _, m := range ms {
		byID[m.Head().ID] = m
	}
	return byID, nil
}

func snapshotEntry(name, p string, m manifest.Manifest) Entry {
	h := m.Head()
	e := Entry{Name: name, Path: p, ID: h.ID, IsFolder: m.IsFolder(), Created: h.Created, Updated: h.Updated, Version: h.Version, Author: h.Author}
	if f, ok := m.(*manifest.FileManifest); ok {
		e.Size = f.Size
	}
	return e
}

// ReadFile writes a file's content as it was to dst.
func (s *Snapshot) ReadFile(ctx context.Context, p string, dst io.Writer) error {
	m, err := s.resolve(ctx, p)
	if err != nil {
		return err
	}
	fm, ok := m.(*manifest.FileManifest)
	if !ok {
		return parsec.Errorf(parsec.Invalid, "%s was a folder at %s", p, s.at)
	}
	return s.w.c.download(ctx, s.w.id, []download{{fm: fm, create: func() (io.WriteCloser, error) { return nopCloser{dst}, nil }}}, nil)
}

// Restore makes the content a file had at time t its new content (a new version: nothing
// is lost). If the file no longer exists at that path, it is created again there. A folder
// is restored with everything it held then: each file gets its content of then, folders
// removed since are created again, and what was added since is left as it is. A folder is
// read as it was a level at a time and restored writeChunk files at a time, each chunk
// saved: a restore stopped midway keeps what it restored (run it again to finish).
func (w *Workspace) Restore(ctx context.Context, p string, t parsec.DateTime) error {
	snap := w.At(t)
	old, err := snap.resolve(ctx, p)
	if err != nil {
		return err
	}
	files := map[string]*manifest.FileManifest{}
	var folders []string
	apply := func() error {
		unlock, err := w.lockWrite(ctx)
		if err != nil {
			return err
		}
		defer unlock()
		if err := w.checkWritable(); err != nil {
			return err
		}
		var changed []parsec.VlobID
		for _, f := range folders {
			names, _ := splitPath(f)
			c, _, err := w.mkdirAll(names, true)
			if err != nil {
				return err
			}
			changed = append(changed, c...)
		}
		for _, fp := range slices.Sorted(maps.Keys(files)) {
			fm := files[fp]
			c, err := w.putFile(fp, &manifest.FileManifest{Size: fm.Size, BlockSize: fm.BlockSize, Blocks: slices.Clone(fm.Blocks)})
			if err != nil {
				return err
			}
			changed = append(changed, c...)
		}
		folders, files = nil, map[string]*manifest.FileManifest{}
		return w.save(ctx, changed, nil)
	}
	switch m := old.(type) {
	case *manifest.FileManifest:
		files[path.Clean("/"+p)] = m
	case *manifest.FolderManifest:
		err := snap.tree(ctx, path.Clean("/"+p), m, map[parsec.VlobID]bool{m.ID: true}, func(p string, m manifest.Manifest) error {
			if fm, ok := m.(*manifest.FileManifest); ok {
				if files[p] = fm; len(files) >= writeChunk {
					return apply()
				}
				return nil
			}
			folders = append(folders, p)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return apply()
}

// tree calls fn with what a folder held at the snapshot's time, at path p: itself first,
// then each file and folder in it, a folder before its content, reading each level's
// manifests in one batch. A folder met twice (a cycle a member wrote) is walked once.
func (s *Snapshot) tree(ctx context.Context, p string, f *manifest.FolderManifest, seen map[parsec.VlobID]bool, fn func(string, manifest.Manifest) error) error {
	if err := fn(p, f); err != nil {
		return err
	}
	byID, err := s.children(ctx, f)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(f.Children)) {
		child := path.Join(p, name)
		switch m := byID[f.Children[name]].(type) {
		case *manifest.FileManifest:
			if err := fn(child, m); err != nil {
				return err
			}
		case *manifest.FolderManifest:
			if seen[m.ID] {
				continue
			}
			seen[m.ID] = true
			if err := s.tree(ctx, child, m, seen, fn); err != nil {
				return err
			}
		}
	}
	return nil
}
