package blockstore

import (
	"context"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sync/errgroup"

	"github.com/parsec-go/parsec/internal/parsec"
)

// Block is a block's ID and its (encrypted) bytes.
type Block struct {
	ID   parsec.BlockID
	Data []byte
}

// Store keeps the opaque bytes of blocks, per organization. Implementations are safe for
// concurrent use by many goroutines.
//
// For every method, if ctx is already done when it is called (or becomes done while it
// runs and the implementation can notice), the method fails with an error that wraps
// ctx.Err(); a write that fails this way leaves nothing visible under the ID.
//
// Errors carry a parsec.Kind: NotFound for a missing block, Invalid for an argument the
// implementation refuses (for example an organization ID it cannot store safely), and
// Unavailable once the store is closed. Any other failure of the storage itself is Other.
type Store interface {
	// Put stores data under (org, id). Two things might happen:
	//  - it returns nil: the block is durably stored (it survives a crash of the process
	//    or of the machine from that moment on) and replaces any previous block with that
	//    ID, so putting the same block twice is harmless;
	//  - it returns an error: the block under (org, id) is either absent or the complete
	//    previous block, or the complete new one; never a part of either.
	// Put does not retain data after it returns.
	Put(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, data []byte) error

	// PutBatch stores several blocks, each like Put, usually much faster than one Put
	// after the other (the disk store makes them durable together). The IDs must be
	// distinct: a batch naming one twice fails with an error of kind Invalid and stores
	// nothing. Two things might happen:
	//  - it returns nil: every block is durably stored;
	//  - it returns an error: each block under (org, id) is either absent or the complete
	//    previous block, or the complete new one; never a part of either. Some blocks may
	//    be stored and others not.
	// PutBatch does not retain the blocks' data after it returns.
	PutBatch(ctx context.Context, org parsec.OrganizationID, blocks []Block) error

	// Get returns the whole block stored under (org, id), or an error of kind NotFound if
	// there is none. The caller owns the returned slice.
	Get(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, error)

	// Open returns a reader of the block stored under (org, id) and its size in bytes, or
	// an error of kind NotFound if there is none. The caller must close the reader. The
	// reader yields exactly the size announced, as the block was when Open was called,
	// even if the block is overwritten or deleted meanwhile.
	Open(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) (io.ReadCloser, int64, error)

	// PutStream stores the next size bytes of r under (org, id), like Put. The reader
	// must yield exactly size bytes and then io.EOF: if it yields fewer (including because
	// it fails), or more, PutStream fails with an error (kind Invalid for a wrong size) and
	// the block under (org, id) is as it was before the call. Nothing is visible under
	// the ID until the whole block has been written durably.
	PutStream(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, r io.Reader, size int64) error

	// Delete removes the block stored under (org, id), or returns an error of kind
	// NotFound if there is none. Readers opened before Delete may still read it.
	Delete(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) error

	// Close releases the resources of the store. After Close, every method fails with an
	// error of kind Unavailable. Readers returned by Open remain usable until closed.
	Close() error
}

// ManyGetter is a Store that reads many blocks at once faster than with a Get each (the
// disk store reads its small blocks with a query per batch rather than per block).
type ManyGetter interface {
	// GetMany returns the blocks stored under (org, ids[i]), in the order of ids, like Get
	// each: it fails, with an error of kind NotFound, if one of them is missing. A block
	// asked for twice may come back twice as the same slice.
	GetMany(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) ([][]byte, error)
}

// GetMany reads the blocks stored under (org, ids[i]), in the order of ids: with one call
// to s's GetMany if it has one, else with Get, on up to workers goroutines at once.
func GetMany(ctx context.Context, s Store, org parsec.OrganizationID, ids []parsec.BlockID, workers int) ([][]byte, error) {
	if m, ok := s.(ManyGetter); ok {
		return m.GetMany(ctx, org, ids)
	}
	out := make([][]byte, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(workers, 1))
	for i, id := range ids {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err // a read failed or ctx is done: the rest are skipped
			}
			var err error
			out[i], err = s.Get(gctx, org, id)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckOrganization refuses an organization ID that a store could not use safely as one
// element of a path or an object key: empty, "." or "..", holding a separator, a control
// character or invalid UTF-8, or longer than 255 bytes. IDs are validated before they
// reach a store; stores check again rather than trust them to name a place.
func CheckOrganization(org parsec.OrganizationID) error {
	s := string(org)
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\\") || len(s) > 255 ||
		!utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		return parsec.Errorf(parsec.Invalid, "organization ID %q cannot name a place in a block store", s)
	}
	return nil
}
