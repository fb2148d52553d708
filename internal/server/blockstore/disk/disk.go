package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/diskspace"
)

// tempPrefix starts the name of every temporary file. A block's name is 32 hex digits, so
// the two can never be confused.
const tempPrefix = ".tmp-"

// staleAfter is the age from which Open considers a temporary file a leftover of a crash
// rather than a write in progress in another process sharing the directory.
const staleAfter = time.Hour

// Store is a blockstore.Store in a directory. It is safe for concurrent use, also by
// several processes sharing the directory. It is a blockstore.Packing of the database of
// small blocks and of files for the others.
type Store struct {
	*blockstore.Packing
	small *packed
	files *files
}

// files keeps each large block in a file of its own.
type files struct {
	dir    string
	closed atomic.Bool
}

var _ blockstore.Store = (*Store)(nil)

// Open opens the store in dir, creating the directory (mode 0700) and the database of
// small blocks (mode 0600) if needed, and removes the temporary files older than an hour
// that an interrupted write left behind. That clean-up reads every directory of the store
// once.
func Open(dir string) (*Store, error) { return open(dir, maxPacked) }

// open is Open with the blocks of up to maxSmall bytes packed (maxPacked, except in the
// benchmarks that compare both ways of storing blocks).
func open(dir string, maxSmall int) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open block store %q: %w", dir, err)
	}
	small, err := openPacked(context.Background(), dir)
	if err != nil {
		return nil, fmt.Errorf("open block store %q: database of small blocks: %w", dir, err)
	}
	f := &files{dir: dir}
	if err := f.removeStaleTemp(time.Now().Add(-staleAfter)); err != nil {
		small.Close()
		return nil, fmt.Errorf("open block store %q: %w", dir, err)
	}
	return &Store{Packing: blockstore.NewPacking(small, f, maxSmall, batchWriters), small: small, files: f}, nil
}

// blockPath returns the directory and the name of the file of a large block.
func (s *Store) blockPath(org parsec.OrganizationID, id parsec.BlockID) (dir, file string) {
	return s.files.blockPath(org, id)
}

// FreeSpace implements diskspace.Reporter: the room left in the store's directory.
func (s *Store) FreeSpace() (int64, error) { return diskspace.Free(s.files.dir) }

// removeStaleTemp removes the temporary files last modified before the given time.
func (f *files) removeStaleTemp(before time.Time) error {
	return filepath.WalkDir(f.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile
			}
			return err
		}
		if d.IsDir() || !strings.HasPrefix(d.Name(), tempPrefix) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if info.ModTime().Before(before) {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
}

// paths returns the directory and the file name of a block, after checking that the store
// is open, ctx is not done and org is acceptable. op and the IDs give errors their context.
func (f *files) paths(ctx context.Context, op string, org parsec.OrganizationID, id parsec.BlockID) (dir, file string, err error) {
	if err := f.check(ctx, op, org, id); err != nil {
		return "", "", err
	}
	dir, file = f.blockPath(org, id)
	return dir, file, nil
}

// check fails unless the store is open, ctx is not done and org is acceptable (an
// organization's directory cannot be the database of small blocks).
func (f *files) check(ctx context.Context, op string, org parsec.OrganizationID, id parsec.BlockID) error {
	if f.closed.Load() {
		return parsec.Errorf(parsec.Unavailable, "%s block %s of organization %q: block store closed", op, id, org)
	}
	if err := ctx.Err(); err != nil {
		return parsec.Errorf(parsec.Cancelled, "%s block %s of organization %q: %w", op, id, org, err)
	}
	if err := blockstore.CheckOrganization(org); err != nil {
		return fmt.Errorf("%s block %s: %w", op, id, err)
	}
	if strings.HasPrefix(string(org), packedFile) {
		return parsec.Errorf(parsec.Invalid, "%s block %s: organization ID %q names the database of small blocks", op, id, org)
	}
	return nil
}

// blockPath returns the directory and the name of the file of a large block.
func (f *files) blockPath(org parsec.OrganizationID, id parsec.BlockID) (dir, file string) {
	hex := id.String()
	dir = filepath.Join(f.dir, string(org), hex[:2])
	return dir, filepath.Join(dir, hex)
}

// wrap gives a file system error its context and kind.
func wrap(op string, org parsec.OrganizationID, id parsec.BlockID, err error) error {
	var pe *parsec.Error
	switch {
	case errors.As(err, &pe):
		return parsec.Errorf(pe.Kind, "%s block %s of organization %q: %w", op, id, org, err)
	case errors.Is(err, fs.ErrNotExist):
		return parsec.Errorf(parsec.NotFound, "%s block %s of organization %q: no such block", op, id, org)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return parsec.Errorf(parsec.Cancelled, "%s block %s of organization %q: %w", op, id, org, err)
	}
	return fmt.Errorf("%s block %s of organization %q: %w", op, id, org, err)
}

// Put implements blockstore.Store for a large block.
func (f *files) Put(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, data []byte) error {
	dir, file, err := f.paths(ctx, "put", org, id)
	if err != nil {
		return err
	}
	err = f.write(ctx, dir, file, func(w *os.File) error {
		_, err := w.Write(data)
		return err
	})
	if err != nil {
		return wrap("put", org, id, err)
	}
	return nil
}

// PutStream implements blockstore.Store for a large block.
func (f *files) PutStream(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, r io.Reader, size int64) error {
	dir, file, err := f.paths(ctx, "put", org, id)
	if err != nil {
		return err
	}
	err = f.write(ctx, dir, file, func(w *os.File) error {
		return blockstore.CopyExactly(w, blockstore.ContextReader(ctx, r), size)
	})
	if err != nil {
		return wrap("put", org, id, err)
	}
	return nil
}

// testOnlyFsyncEach makes PutBatch sync each file and directory even where syncfs exists,
// for the benchmarks that compare both.
var testOnlyFsyncEach = false

// batchWriters is how many goroutines of a PutBatch create and write files at once.
// Creating a file costs tens to hundreds of microseconds of kernel time, most of it
// waiting, so a few writers go faster than one even on two cores; many more bring nothing
// (see BenchmarkPutBatch).
const batchWriters = 16

// PutBatch implements blockstore.Store for large blocks of distinct IDs (Packing refuses a
// batch naming one twice).
func (f *files) PutBatch(ctx context.Context, org parsec.OrganizationID, blocks []blockstore.Block) error {
	if len(blocks) == 0 {
		return f.check(ctx, "put", org, parsec.BlockID{})
	}
	if err := f.check(ctx, "put", org, blocks[0].ID); err != nil {
		return err
	}
	return f.putFiles(ctx, org, blocks)
}

// putFiles writes large blocks to their files: to temporary files first, by batchWriters
// goroutines, made durable together (one syncfs on Linux, else an fsync per file), renamed
// to their names, and the renames made durable the same way (else an fsync per
// directory). A failure before the renames leaves no block changed.
func (f *files) putFiles(ctx context.Context, org parsec.OrganizationID, blocks []blockstore.Block) error {
	type job struct {
		dir, file, tmp string
		data           []byte
		renamed        bool
	}
	jobs := make([]job, len(blocks))
	var dirs []string
	for i, b := range blocks {
		dir, file := f.blockPath(org, b.ID)
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir) // at most 256
		}
		jobs[i] = job{dir: dir, file: file, data: b.Data}
	}
	orgDir := filepath.Dir(dirs[0])
	useSyncfs := haveSyncfs && !testOnlyFsyncEach
	for _, dir := range dirs {
		// With syncfs, the first one makes the new directories durable with the files.
		if err := f.makeDirs(dir, !useSyncfs); err != nil {
			return wrap("put", org, blocks[0].ID, err)
		}
	}
	var fsys *os.File
	if useSyncfs {
		// Opened before the files are written: syncfs reports the write-back errors of the
		// file system since its file was opened, so one opened later would miss those of
		// the pages written back meanwhile (by the kernel's own flushing).
		var err error
		if fsys, err = os.Open(orgDir); err != nil {
			return wrap("put", org, blocks[0].ID, err)
		}
		defer fsys.Close()
	}

	// Whatever happens, no temporary file stays behind.
	defer func() {
		for _, j := range jobs {
			if j.tmp != "" && !j.renamed {
				os.Remove(j.tmp)
			}
		}
	}()
	err := parallel(ctx, len(jobs), batchWriters, func(i int) error {
		j := &jobs[i]
		f, err := os.CreateTemp(j.dir, tempPrefix+filepath.Base(j.file)+"-*")
		if err != nil {
			return wrap("put", org, blocks[i].ID, err)
		}
		j.tmp = f.Name()
		_, err = f.Write(j.data)
		if err == nil && !useSyncfs {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return wrap("put", org, blocks[i].ID, err)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil && err == ctx.Err() {
			return parsec.Errorf(parsec.Cancelled, "put %d blocks of organization %q: %w", len(jobs), org, err)
		}
		return err
	}
	if useSyncfs {
		if err := syncFS(fsys); err != nil {
			return fmt.Errorf("put %d blocks of organization %q: %w", len(jobs), org, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return parsec.Errorf(parsec.Cancelled, "put %d blocks of organization %q: %w", len(jobs), org, err)
	}
	// From here on, every rename is attempted: the blocks are durable already.
	errs := make([]error, len(jobs))
	parallel(context.WithoutCancel(ctx), len(jobs), batchWriters, func(i int) error {
		j := &jobs[i]
		if err := os.Rename(j.tmp, j.file); err != nil {
			errs[i] = wrap("put", org, blocks[i].ID, err)
		} else {
			j.renamed = true
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if useSyncfs {
		err = syncFS(fsys)
	} else {
		err = parallel(context.WithoutCancel(ctx), len(dirs), batchWriters, func(i int) error { return syncDir(dirs[i]) })
	}
	if err != nil {
		return fmt.Errorf("put %d blocks of organization %q: %w", len(jobs), org, err)
	}
	return nil
}

// parallel runs fn(0) … fn(n-1) on at most workers goroutines and returns the first error;
// once fn failed or ctx is done, the calls not started yet are skipped.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range n {
		g.Go(func() error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return fn(i)
		})
	}
	return g.Wait()
}

// write creates the block's directory if needed, lets fill write the block into a
// temporary file there, syncs it and renames it to file, then syncs the directory.
func (f *files) write(ctx context.Context, dir, file string, fill func(*os.File) error) (err error) {
	if err := f.mkdirs(dir); err != nil {
		return err
	}
	w, err := os.CreateTemp(dir, tempPrefix+filepath.Base(file)+"-*")
	if err != nil {
		return err
	}
	tmp := w.Name()
	defer func() {
		if err != nil {
			w.Close()
			os.Remove(tmp)
		}
	}()
	if err := fill(w); err != nil {
		return err
	}
	if err := w.Sync(); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		return err
	}
	return syncDir(dir)
}

// mkdirs creates dir and its parent (the organization's directory) if they are missing,
// and syncs the directory holding each one it creates, so that a durable block is never
// left in a directory that a crash could forget.
func (f *files) mkdirs(dir string) error { return f.makeDirs(dir, true) }

// makeDirs is mkdirs, syncing the parents of the directories it creates only if sync is
// set: PutBatch makes them durable with the blocks.
func (f *files) makeDirs(dir string, sync bool) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	orgDir := filepath.Dir(dir)
	for _, d := range []string{orgDir, dir} {
		err := os.Mkdir(d, 0o700)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if !sync {
			continue
		}
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Get implements blockstore.Store for a large block.
func (f *files) Get(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, error) {
	_, file, err := f.paths(ctx, "get", org, id)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, wrap("get", org, id, err)
	}
	return data, nil
}

// Open implements blockstore.Store for a large block: the reader is an *os.File.
func (f *files) Open(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) (io.ReadCloser, int64, error) {
	_, file, err := f.paths(ctx, "open", org, id)
	if err != nil {
		return nil, 0, err
	}
	r, err := os.Open(file)
	if err != nil {
		return nil, 0, wrap("open", org, id, err)
	}
	info, err := r.Stat()
	if err != nil {
		r.Close()
		return nil, 0, wrap("open", org, id, err)
	}
	return r, info.Size(), nil
}

// Delete implements blockstore.Store for a large block. Empty directories are left in place.
func (f *files) Delete(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) error {
	dir, file, err := f.paths(ctx, "delete", org, id)
	if err != nil {
		return err
	}
	err = os.Remove(file)
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return wrap("delete", org, id, err)
	}
	return nil
}

// Close implements blockstore.Store: later calls fail.
func (f *files) Close() error {
	f.closed.Store(true)
	return nil
}
