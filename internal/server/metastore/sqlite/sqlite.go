package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/diskspace"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlrows"
	"github.com/parsec-go/parsec/internal/sqlitefile"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a metastore.Store in a SQLite file.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	dir    string // the database's directory
	// The statements of full-size batches (see multiInsert and lookup), of each database.
	writerStmts, readerStmts *sqlitefile.Stmts
}

var _ metastore.Store = (*Store)(nil)

// Open opens (creating if needed, mode 0600) the database at file and brings its schema
// up to date. A committed transaction is on disk (synchronous=FULL).
func Open(ctx context.Context, file string) (*Store, error) {
	if err := sqlitefile.Private(file); err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", file, err)
	}
	dsn := func(readOnly bool) string {
		q := sqlitefile.Pragmas()
		q.Add("_pragma", "foreign_keys(ON)")
		if readOnly {
			q.Add("_pragma", "query_only(ON)")
		} else {
			q.Set("_txlock", "immediate")
		}
		return "file:" + file + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(false))
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", file, err)
	}
	w.SetMaxOpenConns(1)
	s := &Store{writer: w, dir: filepath.Dir(file), writerStmts: sqlitefile.NewStmts(w)}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open metadata database %s: %w", file, err)
	}
	r, err := sql.Open("sqlite", dsn(true))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open metadata database %s: %w", file, err)
	}
	r.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	s.reader, s.readerStmts = r, sqlitefile.NewStmts(r)
	return s, nil
}

// FreeSpace implements diskspace.Reporter: the room left beside the database.
func (s *Store) FreeSpace() (int64, error) { return diskspace.Free(s.dir) }

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.readerStmts.Close(), s.writerStmts.Close(), s.reader.Close(), s.writer.Close())
}

// migrate applies the embedded migrations not yet recorded in schema_migrations, each in its
// own transaction. A database newer than this binary is refused.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT`); err != nil {
		return err
	}
	var current int
	if err := s.writer.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	pending, err := sqlrows.PendingMigrations(migrations, current)
	if err != nil {
		return err
	}
	for _, m := range pending {
		tx, err := s.writer.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.Version, m.Name); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// Update runs fn in a write transaction.
func (s *Store) Update(ctx context.Context, fn func(metastore.Tx) error) error {
	return s.run(ctx, s.writer, false, fn)
}

// View runs fn in a read-only transaction.
func (s *Store) View(ctx context.Context, fn func(metastore.Tx) error) error {
	return s.run(ctx, s.reader, true, fn)
}

func (s *Store) run(ctx context.Context, db *sql.DB, readOnly bool, fn func(metastore.Tx) error) error {
	sqlTx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return unavailable(fmt.Errorf("metadata database: %w", err))
	}
	t := &tx{ctx: ctx, tx: sqlTx, stmts: s.writerStmts}
	if db == s.reader {
		t.stmts = s.readerStmts
	}
	defer func() {
		// Over, whatever happened (a panic of fn left it open, holding the writer's one
		// connection, which Keep would wait for): sql.ErrTxDone after a Commit or Rollback.
		sqlTx.Rollback()
		t.stmts.Keep(ctx) // once the transaction is over
	}()
	if err := fn(t); err != nil {
		return unavailable(err) // rolled back by the deferred function
	}
	if readOnly {
		return unavailable(sqlTx.Rollback())
	}
	if err := sqlTx.Commit(); err != nil {
		return unavailable(fmt.Errorf("metadata database: commit: %w", err))
	}
	return nil
}

type tx struct {
	ctx   context.Context
	tx    *sql.Tx
	stmts *sqlitefile.Stmts // of tx's database
}

func (t *tx) exec(q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, q, args...)
}

// execKept is exec with the statement kept prepared for the next transactions: for the
// few statements of batches that run again and again (see sqlitefile.Stmts).
func (t *tx) execKept(q string, args ...any) (sql.Result, error) {
	stmt, err := t.stmts.In(t.ctx, t.tx, q)
	if err != nil {
		return nil, err
	}
	return stmt.ExecContext(t.ctx, args...)
}

// queryKept is execKept for a query.
func (t *tx) queryKept(q string, args ...any) (*sql.Rows, error) {
	stmt, err := t.stmts.In(t.ctx, t.tx, q)
	if err != nil {
		return nil, err
	}
	return stmt.QueryContext(t.ctx, args...)
}

// Organizations.

func (t *tx) Organization(id parsec.OrganizationID) (metastore.Organization, error) {
	o, err := sqlrows.ScanOrg(t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrows.OrgColumns+` FROM organizations WHERE id = ?`, string(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return o, sqlrows.NotFound("organization", id)
	}
	return o, err
}

func (t *tx) PutOrganization(o metastore.Organization) error {
	_, err := t.exec(`INSERT INTO organizations (`+sqlrows.OrgColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET created_on = excluded.created_on,
			bootstrap_token = excluded.bootstrap_token, root_verify_key = excluded.root_verify_key,
			bootstrapped_on = excluded.bootstrapped_on, is_expired = excluded.is_expired,
			user_profile_outsider_allowed = excluded.user_profile_outsider_allowed,
			active_users_limit = excluded.active_users_limit,
			minimum_archiving_period = excluded.minimum_archiving_period`,
		sqlrows.OrgArgs(o)...)
	return err
}

func (t *tx) Organizations() ([]metastore.Organization, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+sqlrows.OrgColumns+` FROM organizations ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.Organization
	for rows.Next() {
		o, err := sqlrows.ScanOrg(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// Certificates.

func (t *tx) AddCertificate(org parsec.OrganizationID, c metastore.Certificate) error {
	_, err := t.exec(`INSERT INTO certificates (org, topic, timestamp, kind, data, redacted) VALUES (?, ?, ?, ?, ?, ?)`,
		string(org), string(c.Topic), c.Timestamp, c.Kind, c.Data, c.Redacted)
	return err
}

func (t *tx) Certificates(org parsec.OrganizationID, topic metastore.Topic, after parsec.DateTime) ([]metastore.Certificate, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT timestamp, kind, data, redacted FROM certificates
		WHERE org = ? AND topic = ? AND timestamp > ? ORDER BY timestamp, seq`, string(org), string(topic), after)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.Certificate
	for rows.Next() {
		c := metastore.Certificate{Topic: topic}
		if err := rows.Scan(&c.Timestamp, &c.Kind, &c.Data, &c.Redacted); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (t *tx) LastTimestamp(org parsec.OrganizationID, topic metastore.Topic) (parsec.DateTime, error) {
	var ts sql.NullInt64
	err := t.tx.QueryRowContext(t.ctx, `SELECT MAX(timestamp) FROM certificates WHERE org = ? AND topic = ?`,
		string(org), string(topic)).Scan(&ts)
	return parsec.DateTime(ts.Int64), err
}

func (t *tx) RealmTopics(org parsec.OrganizationID) ([]metastore.Topic, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT DISTINCT topic FROM certificates WHERE org = ? AND topic LIKE 'realm/%' ORDER BY topic`, string(org))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.Topic
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, metastore.Topic(s))
	}
	return out, rows.Err()
}

// Users.

func (t *tx) InsertUser(org parsec.OrganizationID, u metastore.User) error {
	if _, err := t.User(org, u.ID); err == nil {
		return sqlrows.Exists("user", u.ID)
	}
	_, err := t.exec(`INSERT INTO users (`+sqlrows.UserColumns+`, org) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, sqlrows.UserArgs(org, u)...)
	return err
}

func (t *tx) UpdateUser(org parsec.OrganizationID, u metastore.User) error {
	res, err := t.exec(`UPDATE users SET id = ?, email = ?, name = ?, initial_profile = ?, profile = ?,
		created_on = ?, created_by = ?, revoked_on = ?, revoked_by = ?, frozen = ?, certificate = ?,
		redacted_certificate = ?, profile_history = ? WHERE org = ? AND id = ?`, append(sqlrows.UserArgs(org, u), u.ID[:])...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return sqlrows.NotFound("user", u.ID)
	}
	return nil
}

func (t *tx) User(org parsec.OrganizationID, id parsec.UserID) (metastore.User, error) {
	u, err := sqlrows.ScanUser(t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrows.UserColumns+` FROM users WHERE org = ? AND id = ?`, string(org), id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return u, sqlrows.NotFound("user", id)
	}
	return u, err
}

func (t *tx) ActiveUserByEmail(org parsec.OrganizationID, email string) (metastore.User, error) {
	u, err := sqlrows.ScanUser(t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrows.UserColumns+` FROM users
		WHERE org = ? AND email = ? AND revoked_on = 0`, string(org), email))
	if errors.Is(err, sql.ErrNoRows) {
		return u, sqlrows.NotFound("user with email", email)
	}
	return u, err
}

func (t *tx) Users(org parsec.OrganizationID) ([]metastore.User, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+sqlrows.UserColumns+` FROM users WHERE org = ? ORDER BY created_on, email`, string(org))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.User
	for rows.Next() {
		u, err := sqlrows.ScanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Devices.

func (t *tx) InsertDevice(org parsec.OrganizationID, d metastore.Device) error {
	if _, err := t.Device(org, d.ID); err == nil {
		return sqlrows.Exists("device", d.ID)
	}
	_, err := t.exec(`INSERT INTO devices (`+sqlrows.DeviceColumns+`, org) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sqlrows.DeviceArgs(org, d)...)
	return err
}

func (t *tx) Device(org parsec.OrganizationID, id parsec.DeviceID) (metastore.Device, error) {
	d, err := sqlrows.ScanDevice(t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrows.DeviceColumns+` FROM devices WHERE org = ? AND id = ?`, string(org), id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return d, sqlrows.NotFound("device", id)
	}
	return d, err
}

func (t *tx) Devices(org parsec.OrganizationID, user parsec.UserID) ([]metastore.Device, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+sqlrows.DeviceColumns+` FROM devices WHERE org = ? AND user_id = ? ORDER BY created_on`, string(org), user[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.Device
	for rows.Next() {
		d, err := sqlrows.ScanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
