package localdb

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/sqlitefile"
)

const schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS certificates (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    topic     TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    data      BLOB NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS certificates_by_topic ON certificates (topic, timestamp, seq);
CREATE TABLE IF NOT EXISTS vlobs ` + vlobsColumns + `;
CREATE TABLE IF NOT EXISTS realms (
    realm      BLOB PRIMARY KEY,
    checkpoint INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recheck (
    realm   BLOB NOT NULL,
    vlob_id BLOB NOT NULL,
    PRIMARY KEY (realm, vlob_id)
) STRICT, WITHOUT ROWID;
`

// vlobsColumns is the vlobs table's definition. A rowid table: its rows hold manifests,
// and a folder's can be far larger than a page (250 KB for 10,000 entries); WITHOUT ROWID,
// as it was before, SQLite keeps whole rows as the dividers of the primary key's inner
// pages, and a lookup or an insert that passes one reads it all, from its overflow pages,
// to compare keys (10,000 manifests saved in 0.2 s, not 0.1 s, beside a few such folders).
const vlobsColumns = `(
    realm        BLOB NOT NULL,
    vlob_id      BLOB NOT NULL,
    base_version INTEGER NOT NULL,
    need_sync    INTEGER NOT NULL,
    base         BLOB,
    local        BLOB,
    folder       INTEGER, -- labels of the current version; NULL in rows of caches
    updated      INTEGER, -- written before they were kept (see Unlabeled)
    PRIMARY KEY (realm, vlob_id)
) STRICT`

// indexes are made once the vlobs table has its labels (see upgrade). The queries name the
// index they need (INDEXED BY): without statistics, SQLite would rather read every row of
// the workspace through the primary key.
const indexes = `
CREATE INDEX IF NOT EXISTS vlobs_pending ON vlobs (realm, folder) WHERE need_sync = 1;
CREATE INDEX IF NOT EXISTS vlobs_updated ON vlobs (realm, updated);
CREATE INDEX IF NOT EXISTS vlobs_unlabeled ON vlobs (realm) WHERE folder IS NULL;
`

// Path returns the database file's path.
func (d *DB) Path() string { return d.path }

// DB is a device's local cache.
type DB struct {
	db   *sql.DB
	key  crypto.SecretKey
	path string // the database file; its workspace locks lie beside it

	mu      sync.Mutex
	idStmts map[string]*sql.Stmt // byIDs's queries of getBatch IDs, by their columns
}

// Open opens (creating if needed, mode 0600) the cache at path, encrypted with key. A
// committed change is on disk (synchronous=FULL): a change saved on the device before it
// is sent survives a power loss.
func Open(ctx context.Context, path string, key crypto.SecretKey) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("local cache: %w", err)
	}
	// One process of the device opens the cache at a time: the first to open a new cache
	// turns it to write-ahead logging and makes its tables, and SQLite refuses both at once
	// (SQLITE_BUSY, without waiting) to another process doing the same meanwhile.
	release, err := lockFile(filepath.Join(filepath.Dir(path), "lock-open"))
	if err != nil {
		return nil, fmt.Errorf("local cache: %w", err)
	}
	defer release()
	if err := sqlitefile.Private(path); err != nil {
		return nil, fmt.Errorf("local cache: %w", err)
	}
	q := sqlitefile.Pragmas()
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("local cache %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := upgrade(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("local cache %s: %w", path, err)
	}
	return &DB{db: db, key: key, path: path}, nil
}

// upgrade makes the tables, and adds to a cache written by an earlier version the columns
// it lacks: their values are NULL until the client labels the rows (see Unlabeled).
func upgrade(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return err
	}
	// In a transaction: two processes of the device may open the cache at once.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var hasLabels bool
	err = tx.QueryRowContext(ctx, `SELECT count(*) > 0 FROM pragma_table_info('vlobs') WHERE name = 'folder'`).Scan(&hasLabels)
	if err != nil {
		return err
	}
	if !hasLabels {
		if _, err := tx.ExecContext(ctx, `ALTER TABLE vlobs ADD COLUMN folder INTEGER; ALTER TABLE vlobs ADD COLUMN updated INTEGER;`); err != nil {
			return err
		}
	}
	// A cache made before 2026-12-06 keeps its manifests WITHOUT ROWID: copied into a
	// rowid table (see vlobsColumns), its indexes made again below.
	var table string
	if err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'vlobs'`).Scan(&table); err != nil {
		return err
	}
	if strings.Contains(strings.ToUpper(table), "WITHOUT ROWID") {
		const columns = `realm, vlob_id, base_version, need_sync, base, local, folder, updated`
		_, err := tx.ExecContext(ctx, `CREATE TABLE vlobs_rowid `+vlobsColumns+`;
			INSERT INTO vlobs_rowid (`+columns+`) SELECT `+columns+` FROM vlobs ORDER BY realm, vlob_id;
			DROP TABLE vlobs;
			ALTER TABLE vlobs_rowid RENAME TO vlobs;`)
		if err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, indexes); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the cache.
func (d *DB) Close() error {
	d.mu.Lock()
	for _, stmt := range d.idStmts {
		stmt.Close()
	}
	d.idStmts = nil
	d.mu.Unlock()
	return d.db.Close()
}

// Certificate is a validated certificate as the cache keeps it.
type Certificate struct {
	Topic     string // "common" or "realm/<id>"
	Timestamp parsec.DateTime
	Data      []byte // signed certificate bytes
}

func aad(topic string, ts parsec.DateTime) []byte {
	return []byte("parsec/1/localdb/certificate\x00" + topic + "\x00" + strconv.FormatInt(int64(ts), 10))
}

// AddCertificates appends certificates in one transaction: all are stored or none. A
// certificate the cache already holds is not added again: two processes of one device (the
// GUI and the CLI) may both fetch the same new certificates, and the transaction (taken at
// once, "immediate") lets one of them add them after the other.
func (d *DB) AddCertificates(ctx context.Context, certs []Certificate) error {
	return d.putCertificates(ctx, certs, nil)
}

// ReplaceCertificates replaces every certificate with certs and sets the setting key to
// value, in one transaction: another process of the device reads the certificates before or
// after, never none, nor a mix (as when they are fetched again in the other flavour,
// redacted or full, which the setting names).
func (d *DB) ReplaceCertificates(ctx context.Context, certs []Certificate, key, value string) error {
	return d.putCertificates(ctx, certs, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM certificates`); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, setMeta, key, value)
		return err
	})
}

// putCertificates adds certs in one transaction, after first (when set) in the same one.
func (d *DB) putCertificates(ctx context.Context, certs []Certificate, first func(*sql.Tx) error) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	defer tx.Rollback()
	if first != nil {
		if err := first(tx); err != nil {
			return fmt.Errorf("local cache: %w", err)
		}
	}
	held, err := tx.PrepareContext(ctx, `SELECT data FROM certificates WHERE topic = ? AND timestamp = ?`)
	if err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	defer held.Close()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO certificates (topic, timestamp, data) VALUES (?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	defer stmt.Close()
	for _, c := range certs {
		dup, err := d.holds(ctx, held, c)
		if err != nil {
			return err
		}
		if dup {
			continue
		}
		if _, err := stmt.ExecContext(ctx, c.Topic, c.Timestamp, d.key.Encrypt(c.Data, aad(c.Topic, c.Timestamp))); err != nil {
			return fmt.Errorf("local cache: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("local cache: %w", err)
	}
	return nil
}

// holds reports whether the cache has the certificate already (several certificates of a
// topic may share a timestamp: a user's and its first device's).
func (d *DB) holds(ctx context.Context, held *sql.Stmt, c Certificate) (bool, error) {
	rows, err := held.QueryContext(ctx, c.Topic, c.Timestamp)
	if err != nil {
		return false, fmt.Errorf("local cache: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var enc []byte
		if err := rows.Scan(&enc); err != nil {
			return false, fmt.Errorf("local cache: %w", err)
		}
		if plain, err := d.key.Decrypt(enc, aad(c.Topic, c.Timestamp)); err == nil && bytes.Equal(plain, c.Data) {
			return true, nil
		}
	}
	return false, rows.Err()
}

// Certificates returns every certificate in insertion order, each once (caches written before
// AddCertificates kept certificates once may hold copies).
func (d *DB) Certificates(ctx context.Context) ([]Certificate, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT topic, timestamp, data FROM certificates ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("local cache: %w", err)
	}
	defer rows.Close()
	var out []Certificate
	seen := map[string]bool{}
	for rows.Next() {
		var c Certificate
		var enc []byte
		if err := rows.Scan(&c.Topic, &c.Timestamp, &enc); err != nil {
			return nil, fmt.Errorf("local cache: %w", err)
		}
		if c.Data, err = d.key.Decrypt(enc, aad(c.Topic, c.Timestamp)); err != nil {
			return nil, parsec.Errorf(parsec.Invalid, "local cache is damaged or belongs to another device: a certificate does not decrypt")
		}
		id := c.Topic + "\x00" + strconv.FormatInt(int64(c.Timestamp), 10) + "\x00" + string(c.Data)
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, c)
	}
	return out, rows.Err()
}

const setMeta = `INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`

// Meta returns a stored setting, or "" when unset.
func (d *DB) Meta(ctx context.Context, key string) (string, error) {
	var v string
	err := d.db.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetMeta stores a setting.
func (d *DB) SetMeta(ctx context.Context, key, value string) error {
	_, err := d.db.ExecContext(ctx, setMeta, key, value)
	return err
}
