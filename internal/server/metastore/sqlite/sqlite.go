package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/sqlitefile"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a metastore.Store in a SQLite file.
type Store struct {
	writer *sql.DB
	reader *sql.DB
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
	s := &Store{writer: w}
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
	s.reader = r
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	return errors.Join(s.reader.Close(), s.writer.Close())
}

// migrate applies the embedded migrations not yet recorded in schema_migrations, each in its
// own transaction. A database newer than this binary is refused.
func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.writer.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	var current int
	if err := s.writer.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	latest := 0
	for _, name := range names {
		base := path.Base(name)
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("bad migration name %q", base)
		}
		latest = max(latest, v)
		if v <= current {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := s.writer.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, v, base); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	if current > latest {
		return fmt.Errorf("database schema version %d is newer than this program knows (%d): upgrade parsec", current, latest)
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
		return fmt.Errorf("metadata database: %w", err)
	}
	t := &tx{ctx: ctx, tx: sqlTx}
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		return err
	}
	if readOnly {
		return sqlTx.Rollback()
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("metadata database: commit: %w", err)
	}
	return nil
}

type tx struct {
	ctx context.Context
	tx  *sql.Tx
}

func notFound(what string, key any) error {
	return &parsec.Error{Kind: parsec.NotFound, Msg: fmt.Sprintf("%s %v not found", what, key), Err: metastore.ErrNotFound}
}

func exists(what string, key any) error {
	return &parsec.Error{Kind: parsec.Exists, Msg: fmt.Sprintf("%s %v already exists", what, key), Err: metastore.ErrExists}
}

func (t *tx) exec(q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, q, args...)
}

// Organizations.

const orgColumns = `id, created_on, bootstrap_token, root_verify_key, bootstrapped_on, is_expired,
	user_profile_outsider_allowed, active_users_limit, minimum_archiving_period`

func scanOrg(sc interface{ Scan(...any) error }) (metastore.Organization, error) {
	var o metastore.Organization
	var id string
	var token []byte
	var limit sql.NullInt64
	err := sc.Scan(&id, &o.CreatedOn, &token, &o.RootVerifyKey, &o.BootstrappedOn, &o.Config.IsExpired,
		&o.Config.UserProfileOutsiderAllowed, &limit, &o.Config.MinimumArchivingPeriod)
	if err != nil {
		return o, err
	}
	o.ID = parsec.OrganizationID(id)
	copy(o.BootstrapToken[:], token)
	if limit.Valid {
		v := limit.Int64
		o.Config.ActiveUsersLimit = &v
	}
	return o, nil
}

func (t *tx) Organization(id parsec.OrganizationID) (metastore.Organization, error) {
	o, err := scanOrg(t.tx.QueryRowContext(t.ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = ?`, string(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return o, notFound("organization", id)
	}
	return o, err
}

func (t *tx) PutOrganization(o metastore.Organization) error {
	var limit any
	if o.Config.ActiveUsersLimit != nil {
		limit = *o.Config.ActiveUsersLimit
	}
	_, err := t.exec(`INSERT INTO organizations (`+orgColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET created_on = excluded.created_on,
			bootstrap_token = excluded.bootstrap_token, root_verify_key = excluded.root_verify_key,
			bootstrapped_on = excluded.bootstrapped_on, is_expired = excluded.is_expired,
			user_profile_outsider_allowed = excluded.user_profile_outsider_allowed,
			active_users_limit = excluded.active_users_limit,
			minimum_archiving_period = excluded.minimum_archiving_period`,
		string(o.ID), o.CreatedOn, o.BootstrapToken[:], o.RootVerifyKey, o.BootstrappedOn, o.Config.IsExpired,
		o.Config.UserProfileOutsiderAllowed, limit, o.Config.MinimumArchivingPeriod)
	return err
}

func (t *tx) Organizations() ([]metastore.Organization, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+orgColumns+` FROM organizations ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.Organization
	for rows.Next() {
		o, err := scanOrg(rows)
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

const userColumns = `id, email, name, initial_profile, profile, created_on, created_by, revoked_on,
	revoked_by, frozen, certificate, redacted_certificate, profile_history`

func deviceIDPtr(b []byte) *parsec.DeviceID {
	if len(b) != 16 {
		return nil
	}
	var d parsec.DeviceID
	copy(d[:], b)
	return &d
}

func deviceIDBytes(d *parsec.DeviceID) any {
	if d == nil {
		return nil
	}
	return d[:]
}

func scanUser(sc interface{ Scan(...any) error }) (metastore.User, error) {
	var u metastore.User
	var id, createdBy, revokedBy, history []byte
	var initial, profile string
	err := sc.Scan(&id, &u.Email, &u.Name, &initial, &profile, &u.CreatedOn, &createdBy, &u.RevokedOn,
		&revokedBy, &u.Frozen, &u.Certificate, &u.RedactedCertificate, &history)
	if err != nil {
		return u, err
	}
	copy(u.ID[:], id)
	u.InitialProfile, u.Profile = parsec.UserProfile(initial), parsec.UserProfile(profile)
	u.CreatedBy, u.RevokedBy = deviceIDPtr(createdBy), deviceIDPtr(revokedBy)
	if len(history) > 0 {
		if err := codec.Unmarshal(history, &u.ProfileHistory); err != nil {
			return u, fmt.Errorf("user %s: damaged profile history: %w", u.ID, err)
		}
	}
	return u, nil
}

func userArgs(org parsec.OrganizationID, u metastore.User) []any {
	var history []byte
	if len(u.ProfileHistory) > 0 {
		history = codec.MustMarshal(u.ProfileHistory)
	}
	return []any{u.ID[:], u.Email, u.Name, string(u.InitialProfile), string(u.Profile), u.CreatedOn,
		deviceIDBytes(u.CreatedBy), u.RevokedOn, deviceIDBytes(u.RevokedBy), u.Frozen, u.Certificate,
		u.RedactedCertificate, history, string(org)}
}

func (t *tx) InsertUser(org parsec.OrganizationID, u metastore.User) error {
	if _, err := t.User(org, u.ID); err == nil {
		return exists("user", u.ID)
	}
	_, err := t.exec(`INSERT INTO users (`+userColumns+`, org) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, userArgs(org, u)...)
	return err
}

func (t *tx) UpdateUser(org parsec.OrganizationID, u metastore.User) error {
	res, err := t.exec(`UPDATE users SET id = ?, email = ?, name = ?, initial_profile = ?, profile = ?,
		created_on = ?, created_by = ?, revoked_on = ?, revoked_by = ?, frozen = ?, certificate = ?,
		redacted_certificate = ?, profile_history = ? WHERE org = ? AND id = ?`, append(userArgs(org, u), u.ID[:])...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("user", u.ID)
	}
	return nil
}

func (t *tx) User(org parsec.OrganizationID, id parsec.UserID) (metastore.User, error) {
	u, err := scanUser(t.tx.QueryRowContext(t.ctx, `SELECT `+userColumns+` FROM users WHERE org = ? AND id = ?`, string(org), id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user", id)
	}
	return u, err
}

func (t *tx) ActiveUserByEmail(org parsec.OrganizationID, email string) (metastore.User, error) {
	u, err := scanUser(t.tx.QueryRowContext(t.ctx, `SELECT `+userColumns+` FROM users
		WHERE org = ? AND email = ? AND revoked_on = 0`, string(org), email))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user with email", email)
	}
	return u, err
}

func (t *tx) Users(org parsec.OrganizationID) ([]metastore.User, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+userColumns+` FROM users WHERE org = ? ORDER BY created_on, email`, string(org))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Devices.

const deviceColumns = `id, user_id, label, verify_key, created_on, created_by, certificate, redacted_certificate`

func scanDevice(sc interface{ Scan(...any) error }) (metastore.Device, error) {
	var d metastore.Device
	var id, user, createdBy []byte
	err := sc.Scan(&id, &user, &d.Label, &d.VerifyKey, &d.CreatedOn, &createdBy, &d.Certificate, &d.RedactedCertificate)
	if err != nil {
		return d, err
	}
	copy(d.ID[:], id)
	copy(d.UserID[:], user)
	d.CreatedBy = deviceIDPtr(createdBy)
	return d, nil
}

func (t *tx) InsertDevice(org parsec.OrganizationID, d metastore.Device) error {
	if _, err := t.Device(org, d.ID); err == nil {
		return exists("device", d.ID)
	}
	_, err := t.exec(`INSERT INTO devices (`+deviceColumns+`, org) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID[:], d.UserID[:], d.Label, d.VerifyKey, d.CreatedOn, deviceIDBytes(d.CreatedBy), d.Certificate,
		d.RedactedCertificate, string(org))
	return err
}

func (t *tx) Device(org parsec.OrganizationID, id parsec.DeviceID) (metastore.Device, error) {
	d, err := scanDevice(t.tx.QueryRowContext(t.ctx, `SELECT `+deviceColumns+` FROM devices WHERE org = ? AND id = ?`, string(org), id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return d, notFound("device", id)
	}
	return d, err
}

func (t *tx) Devices(org parsec.OrganizationID, user parsec.UserID) ([]metastore.Device, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+deviceColumns+` FROM devices WHERE org = ? AND user_id = ? ORDER BY created_on`, string(org), user[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
