package disk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/sqlitefile"
)

// maxPacked is the size up to which a block is stored in the database of small blocks
// rather than in a file of its own. Below it, creating a file costs more than writing the
// block (see BenchmarkPutBatch); above it, the database's write-ahead log, which writes
// every byte twice, costs more than the file.
const maxPacked = 64 << 10

// packedFile is the name of the database of small blocks in the store's directory. It
// holds a '.', which organization IDs do not (paths refuses it anyway), so it never names
// an organization's directory.
const packedFile = "small-blocks.db"

// packedSchema is the whole schema: one row per small block. A rowid table rather than
// WITHOUT ROWID, since its rows (up to maxPacked bytes) are much larger than a page.
const packedSchema = `CREATE TABLE IF NOT EXISTS blocks (
	org  TEXT NOT NULL,
	id   BLOB NOT NULL,
	data BLOB NOT NULL,
	PRIMARY KEY (org, id)
) STRICT`

// packed is the database of small blocks: one writer connection (a batch is one
// transaction) and a pool of readers.
type packed struct {
	writer *sql.DB
	reader *sql.DB
}

// openPacked opens, creating it if needed (mode 0600), the database of small blocks in dir.
// Every committed transaction is on disk (synchronous=FULL).
func openPacked(ctx context.Context, dir string) (*packed, error) {
	file := filepath.Join(dir, packedFile)
	if err := sqlitefile.Private(file); err != nil {
		return nil, err
	}
	dsn := func(readOnly bool) string {
		q := sqlitefile.Pragmas()
		if readOnly {
			q.Add("_pragma", "query_only(ON)")
		} else {
			q.Set("_txlock", "immediate")
		}
		return "file:" + file + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	if _, err := w.ExecContext(ctx, packedSchema); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	return &packed{writer: w, reader: r}, nil
}

func (p *packed) close() error { return errors.Join(p.reader.Close(), p.writer.Close()) }

// get returns the small block (org, id), or nil and false if there is none.
func (p *packed) get(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, bool, error) {
	var data []byte
	err := p.reader.QueryRowContext(ctx, `SELECT data FROM blocks WHERE org = ? AND id = ?`, string(org), id[:]).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if data == nil {
		data = []byte{} // an empty block is a block
	}
	return data, true, nil
}

// anyOf reports whether the database holds a block under any of the IDs.
func (p *packed) anyOf(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) (bool, error) {
	for _, id := range ids {
		var one int
		err := p.reader.QueryRowContext(ctx, `SELECT 1 FROM blocks WHERE org = ? AND id = ?`, string(org), id[:]).Scan(&one)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
	}
	return false, nil
}

// update stores the blocks put and removes the blocks under the IDs gone, in one
// transaction: when it returns nil, all of it is on disk; otherwise none of it is.
func (p *packed) update(ctx context.Context, org parsec.OrganizationID, put []blockstore.Block, gone []parsec.BlockID) (n int64, err error) {
	tx, err := p.writer.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	o := string(org)
	// Many rows per statement: the cost of a statement is mostly the driver's, not SQLite's.
	const rowsPerInsert = 64
	for len(put) > 0 {
		rows := put[:min(len(put), rowsPerInsert)]
		put = put[len(rows):]
		var q strings.Builder
		q.WriteString(`INSERT OR REPLACE INTO blocks (org, id, data) VALUES `)
		args := make([]any, 0, 3*len(rows))
		for i, b := range rows {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?)")
			data := b.Data
			if data == nil {
				data = []byte{} // NOT NULL
			}
			args = append(args, o, b.ID[:], data)
		}
		if _, err := tx.ExecContext(ctx, q.String(), args...); err != nil {
			return 0, err
		}
	}
	for _, id := range gone {
		res, err := tx.ExecContext(ctx, `DELETE FROM blocks WHERE org = ? AND id = ?`, o, id[:])
		if err != nil {
			return 0, err
		}
		m, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		n += m
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit: %w", err)
	}
	return n, nil
}
