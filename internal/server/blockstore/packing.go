package blockstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/parsec-go/parsec/internal/parsec"
)

// Small keeps small blocks as rows of a database, where a Store would otherwise make a file
// or an object of each (see Packing). Implementations are safe for concurrent use.
type Small interface {
	// Get returns the block under (org, id) and true, or nil and false if there is none
	// here. An empty block is an empty, non-nil slice.
	Get(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, bool, error)

	// GetMany returns, by ID, the blocks under ids that are here.
	GetMany(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) (map[parsec.BlockID][]byte, error)

	// AnyOf reports whether a block is here under any of ids.
	AnyOf(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) (bool, error)

	// Update stores the blocks put (each replacing any block under its ID; the IDs are
	// distinct) and removes the blocks under the IDs gone, in one transaction: when it
	// returns nil, all of it is durable; otherwise none of it happened.
	Update(ctx context.Context, org parsec.OrganizationID, put []Block, gone []parsec.BlockID) error

	// Close releases what the Small holds of its own (not a connection pool it was given).
	Close() error
}

// Packing is a Store that keeps the blocks of up to a given size (the last block of a file,
// or a small file's only one) in a Small, one row each, and the others in another Store.
// Creating a file or an object costs far more than a row of a batch written in one
// transaction, and an object store charges a request for each.
//
// Reads look in the Small first, then in the other store: a block put small after a large
// one hides the large one (Delete removes both), and a large block put after a small one
// removes the row once the large one is durable, so a crash in between leaves the previous
// block readable, as a failed Put may. A store written before blocks were packed is
// therefore read as it is, without a migration; its small blocks move to the Small only
// when they are put again.
type Packing struct {
	small    Small
	large    Store
	maxSmall int
	workers  int
	closed   atomic.Bool
}

var (
	_ Store      = (*Packing)(nil)
	_ ManyGetter = (*Packing)(nil)
)

// NewPacking returns a Store keeping the blocks of up to maxSmall bytes in small and the
// others in large; it reads up to workers large blocks at once in GetMany (unless large is
// a ManyGetter). Closing it closes both.
func NewPacking(small Small, large Store, maxSmall, workers int) *Packing {
	return &Packing{small: small, large: large, maxSmall: maxSmall, workers: workers}
}

// check fails unless the store is open, ctx is not done and org is acceptable.
func (p *Packing) check(ctx context.Context, op string, org parsec.OrganizationID, id parsec.BlockID) error {
	if p.closed.Load() {
		return parsec.Errorf(parsec.Unavailable, "%s block %s of organization %q: block store closed", op, id, org)
	}
	if err := ctx.Err(); err != nil {
		return parsec.Errorf(parsec.Cancelled, "%s block %s of organization %q: %w", op, id, org, err)
	}
	if err := CheckOrganization(org); err != nil {
		return fmt.Errorf("%s block %s: %w", op, id, err)
	}
	return nil
}

// smallErr gives an error of the Small its context and kind; what says the error is about
// (`block <id>`, `<n> blocks`).
func smallErr(ctx context.Context, op, what string, org parsec.OrganizationID, err error) error {
	var pe *parsec.Error
	switch {
	case errors.As(err, &pe):
		return parsec.Errorf(pe.Kind, "%s %s of organization %q: %w", op, what, org, err)
	case ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return parsec.Errorf(parsec.Cancelled, "%s %s of organization %q: %w", op, what, org, err)
	}
	return fmt.Errorf("%s %s of organization %q: %w", op, what, org, err)
}

func blockWhat(id parsec.BlockID) string { return "block " + id.String() }

// Put implements Store.
func (p *Packing) Put(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, data []byte) error {
	if err := p.check(ctx, "put", org, id); err != nil {
		return err
	}
	if len(data) <= p.maxSmall {
		if err := p.small.Update(ctx, org, []Block{{ID: id, Data: data}}, nil); err != nil {
			return smallErr(ctx, "put", blockWhat(id), org, err)
		}
		return nil
	}
	if err := p.large.Put(ctx, org, id, data); err != nil {
		return err
	}
	return p.unshadow(ctx, "put", blockWhat(id), org, []parsec.BlockID{id})
}

// unshadow removes from the Small the blocks under the IDs of large blocks just stored,
// which they would hide. The large blocks being durable already, it runs even if ctx is done.
func (p *Packing) unshadow(ctx context.Context, op, what string, org parsec.OrganizationID, ids []parsec.BlockID) error {
	ctx = context.WithoutCancel(ctx)
	found, err := p.small.AnyOf(ctx, org, ids)
	if err == nil && found {
		err = p.small.Update(ctx, org, nil, ids)
	}
	if err != nil {
		return smallErr(ctx, op, what, org, err)
	}
	return nil
}

// PutBatch implements Store: the large blocks go to the other store's PutBatch, then the
// small ones to the Small in one transaction, which also removes the rows that the large
// ones replace.
func (p *Packing) PutBatch(ctx context.Context, org parsec.OrganizationID, blocks []Block) error {
	if len(blocks) == 0 {
		return p.check(ctx, "put", org, parsec.BlockID{})
	}
	if err := p.check(ctx, "put", org, blocks[0].ID); err != nil {
		return err
	}
	seen := make(map[parsec.BlockID]bool, len(blocks))
	var small, large []Block
	for _, b := range blocks {
		if seen[b.ID] {
			return parsec.Errorf(parsec.Invalid, "put block %s of organization %q: twice in one batch", b.ID, org)
		}
		seen[b.ID] = true
		if len(b.Data) <= p.maxSmall {
			small = append(small, b)
		} else {
			large = append(large, b)
		}
	}
	what := fmt.Sprintf("%d blocks", len(blocks))
	var gone []parsec.BlockID
	if len(large) > 0 {
		if err := p.large.PutBatch(ctx, org, large); err != nil {
			return err
		}
		gone = make([]parsec.BlockID, len(large))
		for i, b := range large {
			gone[i] = b.ID
		}
		if len(small) == 0 {
			return p.unshadow(ctx, "put", what, org, gone)
		}
	}
	if err := p.small.Update(ctx, org, small, gone); err != nil {
		return smallErr(ctx, "put", what, org, err)
	}
	return nil
}

// PutStream implements Store. A block small enough for the Small is read into memory first.
func (p *Packing) PutStream(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, r io.Reader, size int64) error {
	if err := p.check(ctx, "put", org, id); err != nil {
		return err
	}
	if size < 0 {
		return parsec.Errorf(parsec.Invalid, "put block %s of organization %q: negative size %d", id, org, size)
	}
	if size > int64(p.maxSmall) {
		if err := p.large.PutStream(ctx, org, id, r, size); err != nil {
			return err
		}
		return p.unshadow(ctx, "put", blockWhat(id), org, []parsec.BlockID{id})
	}
	var buf bytes.Buffer
	buf.Grow(int(size))
	if err := CopyExactly(&buf, ContextReader(ctx, r), size); err != nil {
		return smallErr(ctx, "put", blockWhat(id), org, err)
	}
	if err := p.small.Update(ctx, org, []Block{{ID: id, Data: buf.Bytes()}}, nil); err != nil {
		return smallErr(ctx, "put", blockWhat(id), org, err)
	}
	return nil
}

// Get implements Store.
func (p *Packing) Get(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, error) {
	if err := p.check(ctx, "get", org, id); err != nil {
		return nil, err
	}
	data, ok, err := p.small.Get(ctx, org, id)
	if err != nil {
		return nil, smallErr(ctx, "get", blockWhat(id), org, err)
	}
	if ok {
		return data, nil
	}
	return p.large.Get(ctx, org, id)
}

// GetMany implements ManyGetter: the small blocks come from one call of the Small, the
// others from the other store.
func (p *Packing) GetMany(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) ([][]byte, error) {
	if len(ids) == 0 {
		return nil, p.check(ctx, "get", org, parsec.BlockID{})
	}
	if err := p.check(ctx, "get", org, ids[0]); err != nil {
		return nil, err
	}
	small, err := p.small.GetMany(ctx, org, ids)
	if err != nil {
		return nil, smallErr(ctx, "get", fmt.Sprintf("%d blocks", len(ids)), org, err)
	}
	out := make([][]byte, len(ids))
	var rest []int // indexes of the blocks not in the Small
	for i, id := range ids {
		if data, ok := small[id]; ok {
			out[i] = data
		} else {
			rest = append(rest, i)
		}
	}
	if len(rest) == 0 {
		return out, nil
	}
	restIDs := make([]parsec.BlockID, len(rest))
	for j, i := range rest {
		restIDs[j] = ids[i]
	}
	large, err := GetMany(ctx, p.large, org, restIDs, p.workers)
	if err != nil {
		return nil, err
	}
	for j, i := range rest {
		out[i] = large[j]
	}
	return out, nil
}

// Open implements Store. A small block is read whole into memory.
func (p *Packing) Open(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) (io.ReadCloser, int64, error) {
	if err := p.check(ctx, "open", org, id); err != nil {
		return nil, 0, err
	}
	data, ok, err := p.small.Get(ctx, org, id)
	if err != nil {
		return nil, 0, smallErr(ctx, "open", blockWhat(id), org, err)
	}
	if ok {
		return io.NopCloser(bytes.NewReader(data)), int64(len(data)), nil
	}
	return p.large.Open(ctx, org, id)
}

// Delete implements Store: it removes the block from the Small and from the other store,
// wherever it is.
func (p *Packing) Delete(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) error {
	if err := p.check(ctx, "delete", org, id); err != nil {
		return err
	}
	ids := []parsec.BlockID{id}
	packed, err := p.small.AnyOf(ctx, org, ids)
	if err == nil && packed {
		err = p.small.Update(ctx, org, nil, ids)
	}
	if err != nil {
		return smallErr(ctx, "delete", blockWhat(id), org, err)
	}
	err = p.large.Delete(ctx, org, id)
	if packed && parsec.KindOf(err) == parsec.NotFound {
		return nil
	}
	return err
}

// Close implements Store: it closes the Small and the other store, and makes later calls
// fail.
func (p *Packing) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	return errors.Join(p.small.Close(), p.large.Close())
}

// CopyExactly copies size bytes of r to w, and fails with an error of kind Invalid unless r
// then ends.
func CopyExactly(w io.Writer, r io.Reader, size int64) error {
	n, err := io.CopyN(w, r, size)
	if err == io.EOF {
		return parsec.Errorf(parsec.Invalid, "block shorter than its announced size: %d bytes, want %d", n, size)
	}
	if err != nil {
		return err
	}
	return CheckEnd(r, size)
}

// CheckEnd checks that r, which yielded a block's announced size bytes, has nothing more to
// read: an error of kind Invalid if it has.
func CheckEnd(r io.Reader, size int64) error {
	var extra [1]byte
	for {
		n, err := r.Read(extra[:])
		if n > 0 {
			return parsec.Errorf(parsec.Invalid, "block longer than its announced size %d", size)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// ContextReader returns a reader of r that stops reading once ctx is done.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
