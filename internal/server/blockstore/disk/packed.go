package disk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/sqlitefile"
)

// maxPacked is the size up to which a block is stored in the database of small blocks
// rather than in a file of its own. BenchmarkPutBatchSmall chose it: a 4 KiB block costs
// about a seventh of the processor time of a file, a 64 KiB one still less than a file,
// a 128 KiB one more (the database writes each byte twice: to its log, then to its file).
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

// packedPageSize is the page size of the database of small blocks. With SQLite's default,
// 4 KiB, a 4 KiB block (with its encryption overhead) takes two pages, each one write to
// the log and one to the database at a checkpoint; 16 KiB pages cut the processor time per
// 4 KiB block by a third (see BenchmarkPutBatchSmall). 64 KiB pages save more while the
// database is small but, as the index of the blocks grows, a batch of n blocks rewrites up
// to n whole index pages.
const packedPageSize = 16 << 10

// writerCacheKiB is the page cache of the writer connection, in KiB.
const writerCacheKiB = 64 << 10

// packed is the database of small blocks: one writer connection (a batch is one
// transaction) and a pool of readers.
type packed struct {
	writer *sql.DB
	reader *sql.DB
	get1   *sql.Stmt // the data of a block
	has1   *sql.Stmt // whether a block is there
	// The statements of full-size chunks (Update's inserts, GetMany's queries).
	writerStmts, readerStmts *sqlitefile.Stmts
}

// openPacked opens, creating it if needed (mode 0600), the database of small blocks in dir.
// Every committed transaction is on disk (synchronous=FULL).
func openPacked(ctx context.Context, dir string) (_ *packed, err error) {
	file := filepath.Join(dir, packedFile)
	if err := sqlitefile.Private(file); err != nil {
		return nil, err
	}
	if err := createPacked(ctx, file); err != nil {
		return nil, err
	}
	dsn := func(readOnly bool) string {
		q := sqlitefile.Pragmas()
		if readOnly {
			q.Add("_pragma", "query_only(ON)")
		} else {
			q.Set("_txlock", "immediate")
			// A batch's pages and the index's stay in memory until the commit: with
			// SQLite's default (2 MiB), a batch of 1000 blocks into a database of
			// 100,000 costs a third more processor time (BenchmarkPutBatchSmallGrown).
			q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -writerCacheKiB))
		}
		return "file:" + file + "?" + q.Encode()
	}
	p := &packed{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.writer, err = sql.Open("sqlite", dsn(false)); err != nil {
		return nil, err
	}
	p.writer.SetMaxOpenConns(1)
	if err := p.writer.PingContext(ctx); err != nil { // sets WAL mode
		return nil, err
	}
	if p.reader, err = sql.Open("sqlite", dsn(true)); err != nil {
		return nil, err
	}
	p.reader.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	p.writerStmts, p.readerStmts = sqlitefile.NewStmts(p.writer), sqlitefile.NewStmts(p.reader)
	if p.get1, err = p.reader.PrepareContext(ctx, `SELECT data FROM blocks WHERE org = ? AND id = ?`); err != nil {
		return nil, err
	}
	if p.has1, err = p.reader.PrepareContext(ctx, `SELECT 1 FROM blocks WHERE org = ? AND id = ?`); err != nil {
		return nil, err
	}
	return p, nil
}

// createPacked creates the table of small blocks, if it is not there, with a connection
// that sets the page size first: it cannot change once the database is in WAL mode, which
// the connections of the store set as they open (the driver sorts the pragmas it is given,
// and page_size comes after journal_mode). It changes nothing in an existing database.
func createPacked(ctx context.Context, file string) error {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", fmt.Sprintf("page_size(%d)", packedPageSize))
	db, err := sql.Open("sqlite", "file:"+file+"?"+q.Encode())
	if err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, packedSchema)
	return errors.Join(err, db.Close())
}

// Close implements blockstore.Small.
func (p *packed) Close() error {
	var errs []error
	for _, st := range []*sql.Stmt{p.get1, p.has1} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, st := range []*sqlitefile.Stmts{p.readerStmts, p.writerStmts} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	for _, db := range []*sql.DB{p.reader, p.writer} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	return errors.Join(errs...)
}

// Get implements blockstore.Small. Like AnyOf, it does not watch ctx: a lookup takes microseconds, and watching a context costs the driver
// and database/sql a goroutine each per query.
func (p *packed) Get(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, bool, error) {
	var data []byte
	err := p.get1.QueryRowContext(context.WithoutCancel(ctx), string(org), id[:]).Scan(&data)
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

// getManyChunk is how many blocks GetMany asks for in one query.
const getManyChunk = 100

// GetMany implements blockstore.Small. Like Get, it does not watch ctx.
func (p *packed) GetMany(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) (map[parsec.BlockID][]byte, error) {
	ctx = context.WithoutCancel(ctx)
	out := make(map[parsec.BlockID][]byte, len(ids))
	for chunk := range slices.Chunk(ids, getManyChunk) {
		args := make([]any, 0, 1+len(chunk))
		args = append(args, string(org))
		for _, id := range chunk {
			args = append(args, id[:])
		}
		q := `SELECT id, data FROM blocks WHERE org = ? AND id IN (?` + strings.Repeat(", ?", len(chunk)-1) + `)`
		var rows *sql.Rows
		var err error
		if len(chunk) == getManyChunk { // the same text for every full chunk
			var stmt *sql.Stmt
			if stmt, err = p.readerStmts.Get(ctx, q); err == nil {
				rows, err = stmt.QueryContext(ctx, args...)
			}
		} else {
			rows, err = p.reader.QueryContext(ctx, q, args...)
		}
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var raw, data []byte
			if err := rows.Scan(&raw, &data); err != nil {
				rows.Close()
				return nil, err
			}
			var id parsec.BlockID
			if len(raw) != len(id) {
				rows.Close()
				return nil, fmt.Errorf("a block ID of %d bytes in %s", len(raw), packedFile)
			}
			copy(id[:], raw)
			if data == nil {
				data = []byte{} // an empty block is a block
			}
			out[id] = data
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// AnyOf implements blockstore.Small.
func (p *packed) AnyOf(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) (bool, error) {
	for _, id := range ids {
		var one int
		err := p.has1.QueryRowContext(context.WithoutCancel(ctx), string(org), id[:]).Scan(&one)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
	}
	return false, nil
}

// Update implements blockstore.Small: when it returns nil, all of it is on disk.
func (p *packed) Update(ctx context.Context, org parsec.OrganizationID, put []blockstore.Block, gone []parsec.BlockID) (err error) {
	tx, err := p.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		tx.Rollback()           // on an error or a panic; sql.ErrTxDone after a commit
		p.writerStmts.Keep(ctx) // once the transaction is over
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
		var err error
		if len(rows) == rowsPerInsert { // the same text for every full chunk
			var stmt *sql.Stmt
			if stmt, err = p.writerStmts.In(ctx, tx, q.String()); err == nil {
				_, err = stmt.ExecContext(ctx, args...)
			}
		} else {
			_, err = tx.ExecContext(ctx, q.String(), args...)
		}
		if err != nil {
			return err
		}
	}
	for _, id := range gone {
		if _, err := tx.ExecContext(ctx, `DELETE FROM blocks WHERE org = ? AND id = ?`, o, id[:]); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
