package client

import (
	"context"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// A Past is a workspace as it was at a time, read whole from the server's history at once
// (each folder level in one batch, every version checked), then browsed from memory: what
// a read-only mount of the past needs. Reading a file's content still asks the server.
type Past struct {
	w        *Workspace
	at       parsec.DateTime
	entries  map[string]Entry    // by path
	children map[string][]string // a folder's child paths, by name
	files    map[string]*manifest.FileManifest
}

// Load reads the whole workspace as it was at the snapshot's time.
func (s *Snapshot) Load(ctx context.Context) (*Past, error) {
	root, err := s.manifestAt(ctx, s.w.id)
	if err != nil {
		return nil, err
	}
	folder, ok := root.(*manifest.FolderManifest)
	if root == nil || !ok {
		return nil, parsec.Errorf(parsec.NotFound, "the workspace did not exist yet at %s", s.at)
	}
	p := &Past{w: s.w, at: s.at, entries: map[string]Entry{"/": snapshotEntry("/", "/", folder)},
		children: map[string][]string{}, files: map[string]*manifest.FileManifest{}}
	seen := map[parsec.VlobID]bool{folder.ID: true}
	var walk func(dir string, f *manifest.FolderManifest, depth int) error
	walk = func(dir string, f *manifest.FolderManifest, depth int) error {
		byID, err := s.children(ctx, f)
		if err != nil {
			return err
		}
		for _, name := range slices.Sorted(maps.Keys(f.Children)) {
			m := byID[f.Children[name]]
			if m == nil || seen[m.Head().ID] || depth > maxTreeDepth {
				continue // not there yet then, or met twice (a cycle)
			}
			seen[m.Head().ID] = true
			child := path.Join(dir, name)
			p.entries[child] = snapshotEntry(name, child, m)
			p.children[dir] = append(p.children[dir], child)
			switch m := m.(type) {
			case *manifest.FileManifest:
				p.files[child] = m
			case *manifest.FolderManifest:
				if err := walk(child, m, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk("/", folder, 1); err != nil {
		return nil, err
	}
	return p, nil
}

// At returns the time the Past shows.
func (p *Past) At() parsec.DateTime { return p.at }

func cleanPath(p string) string { return path.Clean("/" + strings.TrimPrefix(p, "/")) }

// Stat describes the entry at a path as it was.
func (p *Past) Stat(at string) (Entry, error) {
	e, ok := p.entries[cleanPath(at)]
	if !ok {
		return Entry{}, parsec.Errorf(parsec.NotFound, "%s did not exist at %s", at, p.at)
	}
	return e, nil
}

// List lists a folder as it was (a file lists as itself), by name.
func (p *Past) List(at string) ([]Entry, error) {
	e, err := p.Stat(at)
	if err != nil {
		return nil, err
	}
	if !e.IsFolder {
		return []Entry{e}, nil
	}
	out := make([]Entry, 0, len(p.children[e.Path]))
	for _, c := range p.children[e.Path] {
		out = append(out, p.entries[c])
	}
	return out, nil
}

// OpenFile returns a reader of the file at a path as it was.
func (p *Past) OpenFile(at string) (*FileReader, error) {
	fm, ok := p.files[cleanPath(at)]
	if !ok {
		if _, err := p.Stat(at); err != nil {
			return nil, err
		}
		return nil, parsec.Errorf(parsec.Invalid, "%s was a folder at %s", at, p.at)
	}
	return &FileReader{w: p.w, fm: fm}, nil
}

// ReadFile writes the content a file had to dst.
func (p *Past) ReadFile(ctx context.Context, at string, dst io.Writer) error {
	r, err := p.OpenFile(at)
	if err != nil {
		return err
	}
	return p.w.c.download(ctx, p.w.id, []download{{fm: r.fm, create: func() (io.WriteCloser, error) { return nopCloser{dst}, nil }}}, nil)
}
