package localdb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"

	"github.com/parsec-go/parsec/internal/parsec"
)

// Vlob is what the cache keeps of one manifest of a workspace: the last version read from
// (or acknowledged by) the server, and the local version when it has changes not yet
// pushed. Both are encoded manifests; the cache encrypts them with the device's local key.
type Vlob struct {
	ID          parsec.VlobID
	BaseVersion uint64 // 0: never synced
	NeedSync    bool
	Base        []byte // nil when never synced
	Local       []byte // nil unless NeedSync
	// Labels of the current version (the local one if any), which the cache keeps in the
	// clear beside the encrypted manifests so that it can be asked which entries are
	// folders, pending or newest without reading them all. Written, not read back by
	// EachVlob and GetVlobs.
	Folder  bool
	Updated parsec.DateTime
	// Damaged is set, with Base and Local nil, when the row's manifests do not decrypt: the
	// cache is damaged there (or is another device's). The rows read with it are not
	// affected: the caller leaves this one out.
	Damaged error
}

// Checkpoint is how far a workspace's copy has read the server's log of changes, saved
// with the manifests a sync brings.
type Checkpoint struct {
	At uint64
	// Recheck lists entries the next sync looks at again: a folder's children it looks
	// for, any other entry it asks for if it is not here (one that a folder names and the
	// server did not return, or returned unreadable; the folders that a sync stopped
	// midway had not looked into yet). They are added to those the cache holds, or with
	// Replace replace them.
	Recheck []parsec.VlobID
	Replace bool
}

func vlobAAD(realm, id parsec.VlobID, part string) []byte {
	return []byte("parsec/1/localdb/vlob\x00" + realm.String() + "\x00" + id.String() + "\x00" + part)
}

func (d *DB) seal(b []byte, realm, id parsec.VlobID, part string) []byte {
	if b == nil {
		return nil
	}
	return d.key.Encrypt(b, vlobAAD(realm, id, part))
}

func (d *DB) open(b []byte, realm, id parsec.VlobID, part string) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	pt, err := d.key.Decrypt(b, vlobAAD(realm, id, part))
	if err != nil {
		return nil, parsec.Errorf(parsec.Invalid, "local cache is damaged or belongs to another device: manifest %s does not decrypt", parsec.ShortID(id))
	}
	return pt, nil
}

// EachVlob calls fn with every manifest the cache holds for a workspace, one at a time, so
// that a workspace of many files is never in memory twice (rows and what fn makes of them).
// An error of fn stops the walk and is returned.
func (d *DB) EachVlob(ctx context.Context, realm parsec.VlobID, fn func(Vlob) error) error {
	rows, err := d.db.QueryContext(ctx, `SELECT vlob_id, base_version, need_sync, base, local FROM vlobs WHERE realm = ?`, realm[:])
	if err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	return d.eachRow(rows, realm, fn)
}

// CountVlobs returns how many manifests the cache holds for a workspace.
func (d *DB) CountVlobs(ctx context.Context, realm parsec.VlobID) (int, error) {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM vlobs WHERE realm = ?`, realm[:]).Scan(&n); err != nil {
		return 0, fmt.Errorf("local cache: %w", err)
	}
	return n, nil
}

// getBatch is how many manifests GetVlobs asks for in one query.
const getBatch = 256

// GetVlobs calls fn with the manifests the cache holds of the given IDs, in no particular
// order; the IDs it does not hold are left out.
func (d *DB) GetVlobs(ctx context.Context, realm parsec.VlobID, ids []parsec.VlobID, fn func(Vlob) error) error {
	return d.byIDs(ctx, realm, ids, "vlob_id, base_version, need_sync, base, local", func(rows *sql.Rows) error {
		return d.eachRow(rows, realm, fn)
	})
}

// byIDs selects columns of the rows of the given IDs, getBatch IDs a query, and passes each
// query's rows to each, which closes them.
func (d *DB) byIDs(ctx context.Context, realm parsec.VlobID, ids []parsec.VlobID, columns string, each func(*sql.Rows) error) error {
	// In the table's order: each query reads neighbouring rows, on the pages the query
	// before read last, rather than rows spread over the whole table (the IDs of a folder
	// come in the order of a map, and those made together are neighbours).
	ids = slices.SortedFunc(slices.Values(ids), func(a, b parsec.VlobID) int { return bytes.Compare(a[:], b[:]) })
	for len(ids) > 0 {
		n := min(len(ids), getBatch)
		args := make([]any, 0, n+1)
		args = append(args, realm[:])
		for _, id := range ids[:n] {
			args = append(args, id[:])
		}
		ids = ids[n:]
		q := `SELECT ` + columns + ` FROM vlobs WHERE realm = ? AND vlob_id IN (?` + strings.Repeat(", ?", n-1) + `)`
		var rows *sql.Rows
		var err error
		if n == getBatch {
			// Prepared once: SQLite parses a query of 256 parameters in as long as it
			// takes to run it.
			var stmt *sql.Stmt
			if stmt, err = d.byIDsStmt(ctx, columns, q); err == nil {
				rows, err = stmt.QueryContext(ctx, args...)
			}
		} else {
			rows, err = d.db.QueryContext(ctx, q, args...)
		}
		if err != nil {
			return fmt.Errorf("local cache: %w", err)
		}
		if err := each(rows); err != nil {
			return err
		}
	}
	return nil
}

// byIDsStmt is the prepared query q of getBatch IDs for columns.
func (d *DB) byIDsStmt(ctx context.Context, columns, q string) (*sql.Stmt, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if stmt := d.idStmts[columns]; stmt != nil {
		return stmt, nil
	}
	stmt, err := d.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if d.idStmts == nil {
		d.idStmts = map[string]*sql.Stmt{}
	}
	d.idStmts[columns] = stmt
	return stmt, nil
}

// eachRow decrypts the manifests rows hold and calls fn with each; it closes rows.
func (d *DB) eachRow(rows *sql.Rows, realm parsec.VlobID, fn func(Vlob) error) error {
	defer rows.Close()
	for rows.Next() {
		var v Vlob
		var id, base, local []byte
		var version int64
		if err := rows.Scan(&id, &version, &v.NeedSync, &base, &local); err != nil {
			return fmt.Errorf("local cache: %w", err)
		}
		if len(id) != len(v.ID) {
			return parsec.Errorf(parsec.Invalid, "local cache is damaged: a manifest ID has %d bytes", len(id))
		}
		copy(v.ID[:], id)
		v.BaseVersion = uint64(version)
		var errBase, errLocal error
		v.Base, errBase = d.open(base, realm, v.ID, "base")
		v.Local, errLocal = d.open(local, realm, v.ID, "local")
		if v.Damaged = errors.Join(errBase, errLocal); v.Damaged != nil {
			v.Base, v.Local = nil, nil
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	return nil
}

// PutVlobs stores manifests (replacing those with the same IDs) and, when checkpoint is
// not nil, the workspace's change checkpoint, in one transaction. It returns the
// workspace's new generation (see Generation).
func (d *DB) PutVlobs(ctx context.Context, realm parsec.VlobID, vs []Vlob, checkpoint *Checkpoint) (uint64, error) {
	return d.PutVlobsSeq(ctx, realm, slices.Values(vs), checkpoint)
}

// PutVlobsSeq is PutVlobs with the manifests made one at a time as they are stored, so
// that a change of many files is never all encoded in memory at once.
func (d *DB) PutVlobsSeq(ctx context.Context, realm parsec.VlobID, vs iter.Seq[Vlob], checkpoint *Checkpoint) (uint64, error) {
	gen, err := d.putVlobs(ctx, realm, vs, checkpoint)
	if err != nil {
		return 0, fmt.Errorf("local cache: %w", err)
	}
	return gen, nil
}

func (d *DB) putVlobs(ctx context.Context, realm parsec.VlobID, vs iter.Seq[Vlob], checkpoint *Checkpoint) (uint64, error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	gen, err := bumpGeneration(ctx, tx, realm)
	if err != nil {
		return 0, err
	}
	// Rows go putRows to a statement: one statement per row spent more on running the
	// statement than on the row (BenchmarkPutVlobs).
	var full *sql.Stmt
	args := make([]any, 0, putRows*vlobColumns)
	flush := func() error {
		n := len(args) / vlobColumns
		if n == 0 {
			return nil
		}
		var err error
		if n == putRows {
			if full == nil {
				if full, err = tx.PrepareContext(ctx, insertVlobs(putRows)); err != nil {
					return err
				}
			}
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insertVlobs(n), args...)
		}
		args = args[:0]
		return err
	}
	defer func() {
		if full != nil {
			full.Close()
		}
	}()
	for v := range vs {
		args = append(args, realm[:], v.ID[:], int64(v.BaseVersion), v.NeedSync,
			d.seal(v.Base, realm, v.ID, "base"), d.seal(v.Local, realm, v.ID, "local"), v.Folder, int64(v.Updated))
		if len(args) == putRows*vlobColumns {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := flush(); err != nil {
		return 0, err
	}
	if checkpoint != nil {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO realms (realm, checkpoint) VALUES (?, ?)`, realm[:], int64(checkpoint.At)); err != nil {
			return 0, err
		}
		put := addRecheck
		if checkpoint.Replace {
			put = putRecheck
		}
		if err := put(ctx, tx, realm, checkpoint.Recheck); err != nil {
			return 0, err
		}
	}
	return gen, tx.Commit()
}

// putRows is how many rows one statement of putVlobs inserts; vlobColumns are the
// columns of each.
const (
	putRows     = 32
	vlobColumns = 8
)

// insertVlobs is the statement that inserts (or replaces) n rows of vlobs.
func insertVlobs(n int) string {
	return `INSERT OR REPLACE INTO vlobs (realm, vlob_id, base_version, need_sync, base, local, folder, updated) VALUES ` +
		strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?), ", n-1) + "(?, ?, ?, ?, ?, ?, ?, ?)"
}

func putRecheck(ctx context.Context, tx *sql.Tx, realm parsec.VlobID, ids []parsec.VlobID) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recheck WHERE realm = ?`, realm[:]); err != nil {
		return err
	}
	return addRecheck(ctx, tx, realm, ids)
}

func addRecheck(ctx context.Context, tx *sql.Tx, realm parsec.VlobID, ids []parsec.VlobID) error {
	for _, id := range ids {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO recheck (realm, vlob_id) VALUES (?, ?)`, realm[:], id[:]); err != nil {
			return err
		}
	}
	return nil
}

// Recheck lists the entries the next sync of a workspace looks at again (see Checkpoint).
func (d *DB) Recheck(ctx context.Context, realm parsec.VlobID) ([]parsec.VlobID, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT vlob_id FROM recheck WHERE realm = ?`, realm[:])
	if err != nil {
		return nil, fmt.Errorf("local cache: %w", err)
	}
	var out []parsec.VlobID
	err = eachID(rows, func(id parsec.VlobID) error {
		out = append(out, id)
		return nil
	})
	return out, err
}

// eachID calls fn with the ID of each row, whose first column it is, after scanning the
// other columns into extra. It closes rows.
func eachID(rows *sql.Rows, fn func(parsec.VlobID) error, extra ...any) error {
	defer rows.Close()
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(append([]any{&raw}, extra...)...); err != nil {
			return fmt.Errorf("local cache: %w", err)
		}
		var id parsec.VlobID
		if len(raw) != len(id) {
			return parsec.Errorf(parsec.Invalid, "local cache is damaged: a manifest ID has %d bytes", len(raw))
		}
		copy(id[:], raw)
		if err := fn(id); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	return nil
}

// Versions calls fn with the base version of each of the given IDs the cache holds (those
// it does not hold are left out).
func (d *DB) Versions(ctx context.Context, realm parsec.VlobID, ids []parsec.VlobID, fn func(parsec.VlobID, uint64)) error {
	return d.byIDs(ctx, realm, ids, "vlob_id, base_version", func(rows *sql.Rows) error {
		var version int64
		return eachID(rows, func(id parsec.VlobID) error { fn(id, uint64(version)); return nil }, &version)
	})
}

// Pending calls fn with each entry of a workspace with local changes to push, and whether
// it is a folder.
func (d *DB) Pending(ctx context.Context, realm parsec.VlobID, fn func(id parsec.VlobID, folder bool) error) error {
	rows, err := d.db.QueryContext(ctx, `SELECT vlob_id, folder FROM vlobs INDEXED BY vlobs_pending WHERE realm = ? AND need_sync = 1`, realm[:])
	if err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	var folder sql.NullBool
	return eachID(rows, func(id parsec.VlobID) error { return fn(id, folder.Bool) }, &folder)
}

// HasPending says whether a workspace has local changes to push.
func (d *DB) HasPending(ctx context.Context, realm parsec.VlobID) (bool, error) {
	var pending bool
	err := d.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM vlobs INDEXED BY vlobs_pending WHERE realm = ? AND need_sync = 1)`, realm[:]).Scan(&pending)
	if err != nil {
		return false, fmt.Errorf("local cache: %w", err)
	}
	return pending, nil
}

// Newest calls fn with the manifests of a workspace from the one that changed last (by
// its label Updated), until fn returns false.
func (d *DB) Newest(ctx context.Context, realm parsec.VlobID, fn func(Vlob) bool) error {
	rows, err := d.db.QueryContext(ctx, `SELECT vlob_id, base_version, need_sync, base, local FROM vlobs INDEXED BY vlobs_updated
		WHERE realm = ? AND updated IS NOT NULL ORDER BY updated DESC`, realm[:])
	if err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	stop := errors.New("stop")
	err = d.eachRow(rows, realm, func(v Vlob) error {
		if !fn(v) {
			return stop
		}
		return nil
	})
	if err == stop {
		return nil
	}
	return err
}

// NeedsLabels says whether some of a workspace's manifests were written without their
// labels (see Vlob): by an earlier version of the cache, before this one added them, or
// after, when that version ran again on the device.
func (d *DB) NeedsLabels(ctx context.Context, realm parsec.VlobID) (bool, error) {
	var waiting bool
	err := d.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM vlobs INDEXED BY vlobs_unlabeled WHERE realm = ? AND folder IS NULL)`, realm[:]).Scan(&waiting)
	if err != nil {
		return false, fmt.Errorf("local cache: %w", err)
	}
	return waiting, nil
}

// Unlabeled calls fn with up to n manifests of a workspace without their labels (see
// NeedsLabels), in the order of their IDs, from the first after the ID after; Label gives
// them.
func (d *DB) Unlabeled(ctx context.Context, realm, after parsec.VlobID, n int, fn func(Vlob) error) error {
	rows, err := d.db.QueryContext(ctx, `SELECT vlob_id, base_version, need_sync, base, local FROM vlobs INDEXED BY vlobs_unlabeled
		WHERE realm = ? AND vlob_id > ? AND folder IS NULL ORDER BY vlob_id LIMIT ?`, realm[:], after[:], n)
	if err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	return d.eachRow(rows, realm, fn)
}

// Label gives manifests their labels (Folder and Updated of each Vlob; the rest is not
// read), unless they have some already (written meanwhile), and adds entries to look at
// again (see Checkpoint), in one transaction.
func (d *DB) Label(ctx context.Context, realm parsec.VlobID, vs []Vlob, recheck []parsec.VlobID) error {
	err := d.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE vlobs SET folder = ?, updated = ? WHERE realm = ? AND vlob_id = ? AND folder IS NULL`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, v := range vs {
			if _, err := stmt.ExecContext(ctx, v.Folder, int64(v.Updated), realm[:], v.ID[:]); err != nil {
				return err
			}
		}
		return addRecheck(ctx, tx, realm, recheck)
	})
	if err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	return nil
}

func (d *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// The generation of a workspace counts the writes of its manifests to the cache, by any
// process of the device: a process whose copy in memory is of an older generation reads
// the cache again before changing anything (see LockRealm).

func generationKey(realm parsec.VlobID) string { return "generation/" + realm.String() }

func bumpGeneration(ctx context.Context, tx *sql.Tx, realm parsec.VlobID) (uint64, error) {
	var gen uint64
	err := tx.QueryRowContext(ctx, `INSERT INTO meta (key, value) VALUES (?, '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)
		RETURNING CAST(value AS INTEGER)`, generationKey(realm)).Scan(&gen)
	return gen, err
}

// Generation returns the workspace's generation (0 before its first write).
func (d *DB) Generation(ctx context.Context, realm parsec.VlobID) (uint64, error) {
	var gen uint64
	err := d.db.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?`, generationKey(realm)).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("local cache: %w", err)
	}
	return gen, nil
}

// Checkpoint returns the workspace's change checkpoint: how far the cache has read the
// server's log of changes (0: nothing yet).
func (d *DB) Checkpoint(ctx context.Context, realm parsec.VlobID) (uint64, error) {
	var cp int64
	err := d.db.QueryRowContext(ctx, `SELECT checkpoint FROM realms WHERE realm = ?`, realm[:]).Scan(&cp)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("local cache: %w", err)
	}
	return uint64(cp), nil
}

// MoveCheckpoint moves the workspace's change checkpoint from from to to, later, if it is
// still from (another process of the device may have moved it meanwhile), and says whether
// it did. It is for a push: the server says that the change log holds only this device's
// own versions between the two, which the cache already holds.
func (d *DB) MoveCheckpoint(ctx context.Context, realm parsec.VlobID, from, to uint64) (bool, error) {
	if to <= from || to > math.MaxInt64 {
		return false, nil
	}
	query := `UPDATE realms SET checkpoint = ?1 WHERE realm = ?2 AND checkpoint = ?3`
	if from == 0 { // a workspace never pulled has no row
		query = `INSERT INTO realms (realm, checkpoint) VALUES (?2, ?1)
			ON CONFLICT (realm) DO UPDATE SET checkpoint = excluded.checkpoint WHERE realms.checkpoint = ?3`
	}
	res, err := d.db.ExecContext(ctx, query, int64(to), realm[:], int64(from))
	if err != nil {
		return false, fmt.Errorf("local cache: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("local cache: %w", err)
	}
	return n == 1, nil
}

// ForgetRealm removes everything the cache holds of a workspace (its certificates stay).
func (d *DB) ForgetRealm(ctx context.Context, realm parsec.VlobID) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM vlobs WHERE realm = ?`, realm[:]); err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM realms WHERE realm = ?`, realm[:]); err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM recheck WHERE realm = ?`, realm[:]); err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	if _, err := bumpGeneration(ctx, tx, realm); err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	return tx.Commit()
}
