// Package pgsmall keeps the small blocks of a server whose block store is S3 in its
// PostgreSQL metadata database, one row each in the table small_blocks (made by the
// metadata store's migrations): a batch of small blocks is one transaction and a download
// of many one query per thousand, where S3 would take a request (and, on AWS, a charge)
// for each. It implements blockstore.Small; blockstore.Packing puts it in front of the S3
// store.
//
// A committed transaction is durable as PostgreSQL's settings make it (synchronous_commit
// on, its default: on disk, and on the synchronous standbys if any, before the commit
// returns). Like every block store, it keeps opaque encrypted bytes and never looks
// inside them.
package pgsmall

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
)

// MaxSize is the size up to which a block goes to the database rather than to S3: the
// same as the disk store's database of small blocks, the last block of most files.
const MaxSize = 64 << 10

// getManyChunk is how many blocks GetMany asks for in one query.
const getManyChunk = 1000

// answerTimeout bounds each operation, as the metadata store bounds its transactions: a
// database that takes requests and never answers them (hung, or behind a network that drops
// packets) fails the operation rather than holding it forever. Without it, the removal of
// the rows that large blocks replace, which blockstore.Packing runs whatever its caller's
// context, would wait for as long as the database does.
const answerTimeout = 30 * time.Second

// testOnlyAnswerTimeout is answerTimeout, lowered by tests.
var testOnlyAnswerTimeout = answerTimeout

// errNoAnswer is the cause of a context of bounded that ran out.
var errNoAnswer = errors.New("the database of small blocks did not answer in time")

// bounded returns ctx, ended after testOnlyAnswerTimeout (see noAnswer).
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, testOnlyAnswerTimeout, errNoAnswer)
}

// noAnswer replaces err, the failure of an operation under a context of bounded, by one
// saying that the database did not answer when that context ran out: a failure of the
// store, not a cancellation by the caller (it does not wrap context.DeadlineExceeded).
func noAnswer(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errNoAnswer) {
		return fmt.Errorf("database of small blocks: no answer within %v (%v)", testOnlyAnswerTimeout, err)
	}
	return err
}

// Store is a blockstore.Small in the table small_blocks of a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
}

var _ blockstore.Small = (*Store)(nil)

// New returns the small blocks of the database of pool, which the caller keeps and closes.
// The table must exist: the metadata store's migrations make it.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Get implements blockstore.Small.
func (s *Store) Get(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, bool, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	var data []byte
	err := s.pool.QueryRow(ctx, `SELECT data FROM small_blocks WHERE org = $1 AND id = $2`, string(org), id[:]).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, noAnswer(ctx, err)
	}
	if data == nil {
		data = []byte{} // an empty block is a block
	}
	return data, true, nil
}

// getManyQuery reads many blocks by ID, one lookup of the primary key (org, id) each: with
// id = ANY($2), or a plain join, the planner may read all of the organization's blocks and
// filter them (or hash them) when its statistics know nothing of the organization (a new
// one, or a new database); a lateral subquery with a LIMIT is not merged into a join.
const getManyQuery = `SELECT b.id, b.data FROM unnest($2::bytea[]) AS ids(id)
	CROSS JOIN LATERAL (SELECT id, data FROM small_blocks WHERE org = $1 AND id = ids.id LIMIT 1) b`

// deleteQuery removes one small block.
const deleteQuery = `DELETE FROM small_blocks WHERE org = $1 AND id = $2`

// GetMany implements blockstore.Small.
func (s *Store) GetMany(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) (map[parsec.BlockID][]byte, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	out := make(map[parsec.BlockID][]byte, len(ids))
	for chunk := range slices.Chunk(ids, getManyChunk) {
		rows, err := s.pool.Query(ctx, getManyQuery, string(org), idBytes(chunk))
		if err != nil {
			return nil, noAnswer(ctx, err)
		}
		for rows.Next() {
			var raw, data []byte
			if err := rows.Scan(&raw, &data); err != nil {
				rows.Close()
				return nil, noAnswer(ctx, err)
			}
			var id parsec.BlockID
			if len(raw) != len(id) {
				rows.Close()
				return nil, fmt.Errorf("a block ID of %d bytes in small_blocks", len(raw))
			}
			copy(id[:], raw)
			if data == nil {
				data = []byte{}
			}
			out[id] = data
		}
		if err := rows.Err(); err != nil {
			return nil, noAnswer(ctx, err)
		}
	}
	return out, nil
}

// AnyOf implements blockstore.Small.
func (s *Store) AnyOf(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) (bool, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	var found bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM unnest($2::bytea[]) AS ids(id)
		CROSS JOIN LATERAL (SELECT 1 FROM small_blocks WHERE org = $1 AND id = ids.id LIMIT 1) b)`, string(org), idBytes(ids)).Scan(&found)
	return found, noAnswer(ctx, err)
}

// Update implements blockstore.Small: one statement for the blocks put, one for those gone,
// in one transaction.
func (s *Store) Update(ctx context.Context, org parsec.OrganizationID, put []blockstore.Block, gone []parsec.BlockID) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if len(put) > 0 {
			ids := make([][]byte, len(put))
			data := make([][]byte, len(put))
			for i := range put {
				ids[i] = put[i].ID[:]
				data[i] = put[i].Data
				if data[i] == nil {
					data[i] = []byte{} // NOT NULL
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO small_blocks (org, id, data)
				SELECT $1, id, data FROM unnest($2::bytea[], $3::bytea[]) AS b (id, data)
				ON CONFLICT (org, id) DO UPDATE SET data = excluded.data`, string(org), ids, data)
			if err != nil {
				return err
			}
		}
		if len(gone) > 0 {
			// One statement per row, by whole key, sent together: with id = ANY($2), the
			// planner may read all of the organization's small blocks and filter them
			// (see getManyQuery), and this runs for every batch holding large blocks.
			var b pgx.Batch
			for _, id := range gone {
				b.Queue(deleteQuery, string(org), id[:])
			}
			if err := tx.SendBatch(ctx, &b).Close(); err != nil {
				return err
			}
		}
		return nil
	})
	return noAnswer(ctx, err)
}

// Close implements blockstore.Small. The pool is the caller's: it stays open.
func (s *Store) Close() error { return nil }

func idBytes(ids []parsec.BlockID) [][]byte {
	out := make([][]byte, len(ids))
	for i := range ids {
		out[i] = ids[i][:]
	}
	return out
}
