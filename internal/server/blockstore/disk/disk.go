package disk

import (
	"bytes"
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
// several processes sharing the directory.
type Store struct {
	dir    string
	small  *packed
	closed atomic.Bool

	// maxPacked is the constant maxPacked, except in the benchmarks that compare both ways
	// of storing blocks.
	maxPacked int
}

var _ blockstore.Store = (*Store)(nil)

// Open opens the store in dir, creating the directory (mode 0700) and the database of
// small blocks (mode 0600) if needed, and removes the temporary files older than an hour
// that an interrupted write left behind. That clean-up reads every directory of the store
// once.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open block store %q: %w", dir, err)
	}
	small, err := openPacked(context.Background(), dir)
	if err != nil {
		return nil, fmt.Errorf("open block store %q: database of small blocks: %w", dir, err)
	}
	s := &Store{dir: dir, small: small, maxPacked: maxPacked}
	if err := s.removeStaleTemp(time.Now().Add(-staleAfter)); err != nil {
		small.close()
		return nil, fmt.Errorf("open block store %q: %w", dir, err)
	}
	return s, nil
}

// removeStaleTemp removes the temporary files last modified before the given time.
func (s *Store) removeStaleTemp(before time.Time) error {
	return filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
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
func (s *Store) paths(ctx context.Context, op string, org parsec.OrganizationID, id parsec.BlockID) (dir, file string, err error) {
	if err := s.check(ctx, op, org, id); err != nil {
		return "", "", err
	}
	dir, file = s.blockPath(org, id)
	return dir, file, nil
}

// check fails unless the store is open, ctx is not done and org is acceptable.
func (s *Store) check(ctx context.Context, op string, org parsec.OrganizationID, id parsec.BlockID) error {
	if s.closed.Load() {
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
func (s *Store) blockPath(org parsec.OrganizationID, id parsec.BlockID) (dir, file string) {
	hex := id.String()
	dir = filepath.Join(s.dir, string(org), hex[:2])
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

// Put implements blockstore.Store.
func (s *Store) Put(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, data []byte) error {
	dir, file, err := s.paths(ctx, "put", org, id)
	if err != nil {
		return err
	}
	if len(data) <= s.maxPacked {
		if _, err := s.small.update(ctx, org, []blockstore.Block{{ID: id, Data: data}}, nil); err != nil {
			return wrap("put", org, id, err)
		}
		return nil
	}
	err = s.write(ctx, dir, file, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
	if err == nil {
		err = s.unshadow(ctx, org, []parsec.BlockID{id})
	}
	if err != nil {
		return wrap("put", org, id, err)
	}
	return nil
}

// unshadow removes from the database of small blocks the blocks under the IDs of large
// blocks just written to files, which they would hide. A crash before it leaves the
// previous (small) block readable, as a failed Put may. The files being durable already,
// it runs even if ctx is done.
func (s *Store) unshadow(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) error {
	ctx = context.WithoutCancel(ctx)
	found, err := s.small.anyOf(ctx, org, ids)
	if err != nil || !found {
		return err
	}
	_, err = s.small.update(ctx, org, nil, ids)
	return err
}

// PutStream implements blockstore.Store.
func (s *Store) PutStream(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, r io.Reader, size int64) error {
	dir, file, err := s.paths(ctx, "put", org, id)
	if err != nil {
		return err
	}
	if size < 0 {
		return parsec.Errorf(parsec.Invalid, "put block %s of organization %q: negative size %d", id, org, size)
	}
	if size <= int64(s.maxPacked) {
		var buf bytes.Buffer
		buf.Grow(int(size))
		if err := blockstore.CopyExactly(&buf, blockstore.ContextReader(ctx, r), size); err != nil {
			return wrap("put", org, id, err)
		}
		if _, err := s.small.update(ctx, org, []blockstore.Block{{ID: id, Data: buf.Bytes()}}, nil); err != nil {
			return wrap("put", org, id, err)
		}
		return nil
	}
	err = s.write(ctx, dir, file, func(f *os.File) error {
		return blockstore.CopyExactly(f, blockstore.ContextReader(ctx, r), size)
	})
	if err == nil {
		err = s.unshadow(ctx, org, []parsec.BlockID{id})
	}
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

// PutBatch implements blockstore.Store. The large blocks are written to files (see
// putFiles), then the small ones stored in the database in one transaction, which also
// removes from it the small blocks that the large ones replace.
func (s *Store) PutBatch(ctx context.Context, org parsec.OrganizationID, blocks []blockstore.Block) error {
	if len(blocks) == 0 {
		// Nothing to write, but the same answer as a batch would get if the store is
		// closed, ctx done or org refused.
		return s.check(ctx, "put", org, parsec.BlockID{})
	}
	if err := s.check(ctx, "put", org, blocks[0].ID); err != nil {
		return err
	}
	seen := make(map[parsec.BlockID]bool, len(blocks))
	var small, large []blockstore.Block
	for _, b := range blocks {
		if seen[b.ID] {
			return parsec.Errorf(parsec.Invalid, "put block %s of organization %q: twice in one batch", b.ID, org)
		}
		seen[b.ID] = true
		if len(b.Data) <= s.maxPacked {
			small = append(small, b)
		} else {
			large = append(large, b)
		}
	}
	var gone []parsec.BlockID
	if len(large) > 0 {
		if err := s.putFiles(ctx, org, large); err != nil {
			return err
		}
		gone = make([]parsec.BlockID, len(large))
		for i, b := range large {
			gone[i] = b.ID
		}
	}
	var err error
	if len(small) == 0 {
		err = s.unshadow(ctx, org, gone)
	} else {
		_, err = s.small.update(ctx, org, small, gone)
	}
	if err != nil {
		if ctx.Err() != nil {
			return parsec.Errorf(parsec.Cancelled, "put %d blocks of organization %q: %w", len(blocks), org, err)
		}
		return fmt.Errorf("put %d blocks of organization %q: %w", len(blocks), org, err)
	}
	return nil
}

// putFiles writes large blocks to their files: to temporary files first, by batchWriters
// goroutines, made durable together (one syncfs on Linux, else an fsync per file), renamed
// to their names, and the renames made durable the same way (else an fsync per
// directory). A failure before the renames leaves no block changed.
func (s *Store) putFiles(ctx context.Context, org parsec.OrganizationID, blocks []blockstore.Block) error {
	type job struct {
		dir, file, tmp string
		data           []byte
		renamed        bool
	}
	jobs := make([]job, len(blocks))
	var dirs []string
	for i, b := range blocks {
		dir, file := s.blockPath(org, b.ID)
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir) // at most 256
		}
		jobs[i] = job{dir: dir, file: file, data: b.Data}
	}
	orgDir := filepath.Dir(dirs[0])
	useSyncfs := haveSyncfs && !testOnlyFsyncEach
	for _, dir := range dirs {
		// With syncfs, the first one makes the new directories durable with the files.
		if err := s.makeDirs(dir, !useSyncfs); err != nil {
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
func (s *Store) write(ctx context.Context, dir, file string, fill func(*os.File) error) (err error) {
	if err := s.mkdirs(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(file)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := fill(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
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
func (s *Store) mkdirs(dir string) error { return s.makeDirs(dir, true) }

// makeDirs is mkdirs, syncing the parents of the directories it creates only if sync is
// set: PutBatch makes them durable with the blocks.
func (s *Store) makeDirs(dir string, sync bool) error {
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

// Get implements blockstore.Store. It looks in the database of small blocks first: a block
// found there is the last one put (a large block put later removes it).
func (s *Store) Get(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, error) {
	if err := s.check(ctx, "get", org, id); err != nil {
		return nil, err
	}
	data, ok, err := s.small.get(ctx, org, id)
	if err != nil {
		return nil, wrap("get", org, id, err)
	}
	if ok {
		return data, nil
	}
	_, file := s.blockPath(org, id)
	data, err = os.ReadFile(file)
	if err != nil {
		return nil, wrap("get", org, id, err)
	}
	return data, nil
}

// GetMany implements blockstore.ManyGetter: the small blocks are read from the database
// a hundred at a time, the others each from its file, several at once.
func (s *Store) GetMany(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, s.check(ctx, "get", org, parsec.BlockID{})
	}
	if err := s.check(ctx, "get", org, ids[0]); err != nil {
		return nil, err
	}
	small, err := s.small.getMany(ctx, org, ids)
	if err != nil {
		return nil, fmt.Errorf("get %d blocks of organization %q: %w", len(ids), org, err)
	}
	out := make([][]byte, len(ids))
	var files []int // indexes of the blocks not in the database
	for i, id := range ids {
		if data, ok := small[id]; ok {
			out[i] = data
		} else {
			files = append(files, i)
		}
	}
	err = parallel(ctx, len(files), batchWriters, func(j int) error {
		i := files[j]
		_, file := s.blockPath(org, ids[i])
		data, err := os.ReadFile(file)
		if err != nil {
			return wrap("get", org, ids[i], err)
		}
		out[i] = data
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Open implements blockstore.Store. The reader of a large block is an *os.File; a small
// block is read whole into memory.
func (s *Store) Open(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) (io.ReadCloser, int64, error) {
	if err := s.check(ctx, "open", org, id); err != nil {
		return nil, 0, err
	}
	data, ok, err := s.small.get(ctx, org, id)
	if err != nil {
		return nil, 0, wrap("open", org, id, err)
	}
	if ok {
		return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
	}
	_, file := s.blockPath(org, id)
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, wrap("open", org, id, err)
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, wrap("open", org, id, err)
	}
	return f, info.Size(), nil
}

// Delete implements blockstore.Store: it removes the block from the database of small
// blocks and its file, wherever it is. Empty directories are left in place.
func (s *Store) Delete(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) error {
	dir, file, err := s.paths(ctx, "delete", org, id)
	if err != nil {
		return err
	}
	ids := []parsec.BlockID{id}
	packed, err := s.small.anyOf(ctx, org, ids)
	if err == nil && packed {
		_, err = s.small.update(ctx, org, nil, ids)
	}
	if err != nil {
		return wrap("delete", org, id, err)
	}
	err = os.Remove(file)
	if err == nil {
		err = syncDir(dir)
	} else if packed && errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return wrap("delete", org, id, err)
	}
	return nil
}

// FreeSpace implements diskspace.Reporter: the room left in the store's directory.
func (s *Store) FreeSpace() (int64, error) { return diskspace.Free(s.dir) }

// Close implements blockstore.Store. It closes the database of small blocks and makes later
// calls fail.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.small.close()
}
