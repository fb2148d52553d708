package client

import (
	"context"
	"encoding/binary"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Operations a file system needs beside those of a person's commands: reading a file at
// any offset, and replacing the content of a file known by its ID (wherever it is now).
// The mount (internal/mount) calls these; they use the same transfers and checks as the
// rest of the library.

// readAhead is how much of a file a FileReader fetches at once, from the first byte
// asked: sequential reads then cost one request per window, and memory stays at one
// window per open file whatever its size.
const readAhead = 4 << 20

// A FileReader reads one version of a file (the one current when it was opened) at any
// offset. Every block is decrypted and checked against the file's signed manifest. It is
// safe for concurrent use.
type FileReader struct {
	w  *Workspace
	fm *manifest.FileManifest

	mu     sync.Mutex
	winOff uint64 // the cached window: the file's bytes [winOff, winOff+len(win))
	win    []byte
}

// OpenFile returns a reader of the file at p as this device knows it now.
func (w *Workspace) OpenFile(p string) (*FileReader, error) {
	w.lockRead()
	defer w.mu.Unlock()
	m, err := w.resolve(p)
	if err != nil {
		return nil, err
	}
	fm, ok := m.(*manifest.FileManifest)
	if !ok {
		return nil, parsec.Errorf(parsec.Invalid, "%s is a folder", p)
	}
	return &FileReader{w: w, fm: fm}, nil
}

// ID returns the file's ID.
func (r *FileReader) ID() parsec.VlobID { return r.fm.ID }

// Size returns the size of the version read.
func (r *FileReader) Size() uint64 { return r.fm.Size }

// ReadAt reads len(dst) bytes at off (fewer at the end of the file, with io.EOF).
func (r *FileReader) ReadAt(ctx context.Context, dst []byte, off int64) (int, error) {
	if off < 0 {
		return 0, parsec.Errorf(parsec.Invalid, "negative offset %d", off)
	}
	start := uint64(off)
	if start >= r.fm.Size {
		return 0, io.EOF
	}
	end := min(start+uint64(len(dst)), r.fm.Size)
	r.mu.Lock()
	defer r.mu.Unlock()
	if start < r.winOff || end > r.winOff+uint64(len(r.win)) {
		win, err := r.fetch(ctx, start, max(end-start, readAhead))
		if err != nil {
			return 0, err
		}
		r.winOff, r.win = start, win
	}
	n := copy(dst, r.win[start-r.winOff:end-r.winOff])
	if end == r.fm.Size && n < len(dst) {
		return n, io.EOF
	}
	return n, nil
}

// fetch reads the bytes [off, off+n) of the file (cut at its end) in one request.
func (r *FileReader) fetch(ctx context.Context, off, n uint64) ([]byte, error) {
	spans := r.fm.Spans(off, n)
	var ids []parsec.BlockID
	access := map[parsec.BlockID]manifest.BlockAccess{}
	total := uint64(0)
	for _, s := range spans {
		total += s.Size
		if s.Block == nil {
			continue
		}
		if have, asked := access[s.Block.ID]; !asked {
			access[s.Block.ID] = *s.Block
			ids = append(ids, s.Block.ID)
		} else if !sameBlock(have, *s.Block) {
			return nil, parsec.Errorf(parsec.Tampered, "the manifest of file %s describes its block %s twice, differently", parsec.ShortID(r.fm.ID), parsec.ShortID(s.Block.ID))
		}
	}
	keys, err := r.w.c.keysOf(ctx, r.w.id)
	if err != nil {
		return nil, err
	}
	blocks, release, err := r.w.c.readBlocks(ctx, r.w.id, keys, ids, access)
	if err != nil {
		return nil, err
	}
	defer release()
	out := make([]byte, 0, total)
	for _, s := range spans {
		if s.Block == nil {
			out = append(out, make([]byte, s.Size)...)
			continue
		}
		out = append(out, blocks[s.Block.ID][s.InBlock:s.InBlock+s.Size]...)
	}
	return out, nil
}

// A ContentStamp identifies a file's content (its size and blocks): a program that read a
// file and writes it back can tell whether someone changed it meanwhile.
type ContentStamp struct {
	size   uint64
	blocks string // the block IDs, in order
}

func stampOf(f *manifest.FileManifest) ContentStamp {
	ids := make([]byte, 0, len(f.Blocks)*len(parsec.BlockID{}))
	for _, b := range f.Blocks {
		ids = append(ids, b.ID[:]...)
	}
	return ContentStamp{size: f.Size, blocks: string(ids)}
}

// Stamp returns the stamp of file id's content as this device knows it now.
func (w *Workspace) Stamp(id parsec.VlobID) (ContentStamp, error) {
	w.lockRead()
	defer w.mu.Unlock()
	e := w.get(id)
	if e == nil || e.current() == nil {
		return ContentStamp{}, parsec.Errorf(parsec.NotFound, "entry %s is not known", parsec.ShortID(id))
	}
	fm, ok := e.current().(*manifest.FileManifest)
	if !ok {
		return ContentStamp{}, parsec.Errorf(parsec.Invalid, "%s is a folder", parsec.ShortID(id))
	}
	return stampOf(fm), nil
}

// WriteContentSince replaces the content of file id, wherever it is in the workspace now,
// with what open gives, made from the file as it was at since: a new version, saved on this
// device (Push or Sync sends it), uploaded first in flat memory as WriteFiles does. When the
// file's content changed meanwhile (another member's version arrived), the new
// content goes beside it as a conflict copy ("name (sync conflict N).ext"), as a sync does,
// and nothing is lost. It returns the stamp of what it wrote, and whether it made a copy.
func (w *Workspace) WriteContentSince(ctx context.Context, id parsec.VlobID, since ContentStamp, open func() (io.ReadCloser, error)) (ContentStamp, bool, error) {
	unlock, err := w.lockWrite(ctx)
	if err != nil {
		return ContentStamp{}, false, err
	}
	defer unlock()
	m, err := w.writableEntry(id)
	if err != nil {
		return ContentStamp{}, false, err
	}
	current, ok := m.(*manifest.FileManifest)
	if !ok {
		return ContentStamp{}, false, parsec.Errorf(parsec.Invalid, "%s is a folder", parsec.ShortID(id))
	}
	contents, err := w.uploadAnew(ctx, []FileSource{{Path: parsec.ShortID(id), Open: open}}, nil)
	if err != nil {
		return ContentStamp{}, false, err
	}
	c := contents[0]
	if stampOf(current) == since {
		f := w.edit(id).(*manifest.FileManifest)
		f.Size, f.BlockSize, f.Blocks, f.Updated = c.Size, c.BlockSize, c.Blocks, w.c.now()
		return stampOf(f), false, w.save(ctx, []parsec.VlobID{id}, nil)
	}
	now := w.c.now()
	cp := &manifest.FileManifest{Header: manifest.Header{ID: w.c.newID(), Created: now, Updated: now},
		Size: c.Size, BlockSize: c.BlockSize, Blocks: c.Blocks}
	changed := w.placeConflictCopy(id, current.Parent, cp)
	return stampOf(current), true, w.save(ctx, changed, nil)
}

// SetUpdated sets when entry id's content last changed, as file systems let programs do
// (touch, cp -p, rsync -a): saved on this device, sent with the next Push or Sync.
func (w *Workspace) SetUpdated(ctx context.Context, id parsec.VlobID, t parsec.DateTime) error {
	if t.IsZero() {
		return parsec.Errorf(parsec.Invalid, "a file cannot be dated %s", t)
	}
	unlock, err := w.lockWrite(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	m, err := w.writableEntry(id)
	if err != nil || m.Head().Updated == t {
		return err
	}
	w.edit(id).Head().Updated = t
	return w.save(ctx, []parsec.VlobID{id}, nil)
}

// writableEntry returns entry id's manifest, when this user may change it (under w.mu).
func (w *Workspace) writableEntry(id parsec.VlobID) (manifest.Manifest, error) {
	if err := w.checkWritable(); err != nil {
		return nil, err
	}
	e := w.get(id)
	if e == nil || e.current() == nil {
		return nil, parsec.Errorf(parsec.NotFound, "entry %s: no such file or folder", parsec.ShortID(id))
	}
	return e.current(), nil
}

// MarshalBinary encodes the stamp, for a mount that keeps a file's unsent content on the
// device across runs.
func (s ContentStamp) MarshalBinary() ([]byte, error) {
	return append(binary.BigEndian.AppendUint64(nil, s.size), s.blocks...), nil
}

// UnmarshalBinary decodes what MarshalBinary encoded.
func (s *ContentStamp) UnmarshalBinary(b []byte) error {
	if len(b) < 8 || (len(b)-8)%len(parsec.BlockID{}) != 0 {
		return parsec.Errorf(parsec.Invalid, "malformed content stamp of %d bytes", len(b))
	}
	s.size, s.blocks = binary.BigEndian.Uint64(b), string(b[8:])
	return nil
}

// PathOf returns where entry id is in the workspace now, as this device knows it; an error
// of kind NotFound when it was removed (no folder holds it any more).
func (w *Workspace) PathOf(id parsec.VlobID) (string, error) {
	w.lockRead()
	defer w.mu.Unlock()
	return w.pathOf(id)
}

// Reinstate puts file id back in the workspace once it was removed (a file that a mount
// was writing while another member removed it, so that what was written is not lost): in
// the folder it was last in, or in the root when that folder is no longer in the
// workspace either, as a conflict copy named after name ("name (sync conflict N).ext"),
// saved on this device. It returns the file's path; a file still in the workspace stays
// where it is.
func (w *Workspace) Reinstate(ctx context.Context, id parsec.VlobID, name string) (string, error) {
	unlock, err := w.lockWrite(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	if p, err := w.pathOf(id); err == nil {
		return p, nil
	}
	m, err := w.writableEntry(id)
	if err != nil {
		return "", err
	}
	if m.IsFolder() {
		return "", parsec.Errorf(parsec.Invalid, "%s is a folder", parsec.ShortID(id))
	}
	parent := m.Head().Parent
	if pe := w.get(parent); pe == nil || pe.current() == nil || !pe.current().IsFolder() {
		parent = w.id
	} else if _, err := w.pathOf(parent); err != nil {
		parent = w.id
	}
	if name == "" {
		name = "file " + parsec.ShortID(id)
	}
	changed := w.insertCopy(parent, name, id)
	if m.Head().Parent != parent {
		w.edit(id).Head().Parent = parent // id is among the changed already
	}
	if err := w.save(ctx, changed, nil); err != nil {
		return "", err
	}
	return w.pathOf(id)
}

// pathOf is PathOf under w.mu.
func (w *Workspace) pathOf(id parsec.VlobID) (string, error) {
	up, err := w.ancestors(id)
	if err != nil {
		return "", err
	}
	gone := parsec.Errorf(parsec.NotFound, "entry %s is no longer in the workspace", parsec.ShortID(id))
	if e := w.get(id); e == nil || e.current() == nil {
		return "", gone
	}
	names := make([]string, 0, len(up))
	child := id
	for _, parent := range up {
		e := w.get(parent)
		if e == nil {
			return "", gone
		}
		f, ok := e.current().(*manifest.FolderManifest)
		if !ok {
			return "", gone
		}
		name := ""
		for n, c := range f.Children {
			if c == child {
				name = n
				break
			}
		}
		if name == "" {
			return "", gone
		}
		names = append(names, name)
		child = parent
	}
	if child != w.id {
		return "", gone
	}
	slices.Reverse(names)
	return "/" + strings.Join(names, "/"), nil
}
