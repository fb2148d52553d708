package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlrows"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a metastore.Store in a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// pruned is when expired signatures were last deleted, in µs.
	pruned atomic.Int64
	// ratesPruned is when ended rate limit windows were last deleted, in µs.
	ratesPruned atomic.Int64
}

var (
	_ metastore.Store             = (*Store)(nil)
	_ metastore.SignatureRecorder = (*Store)(nil)
)

// pruneSignaturesEvery is how often RecordSignature deletes the expired signatures.
const pruneSignaturesEvery = time.Minute

// RecordSignature implements metastore.SignatureRecorder with the table replays.
func (s *Store) RecordSignature(ctx context.Context, hash []byte, expires, now parsec.DateTime) (bool, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	tag, err := s.pool.Exec(ctx, `INSERT INTO replays (signature_hash, expires) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
		hash, int64(expires))
	if err != nil {
		return false, unavailable(ctx, fmt.Errorf("metadata database: record a request signature: %w", err), false)
	}
	if last := s.pruned.Load(); now.Add(-pruneSignaturesEvery) > parsec.DateTime(last) && s.pruned.CompareAndSwap(last, int64(now)) {
		if _, err := s.pool.Exec(ctx, `DELETE FROM replays WHERE expires < $1`, int64(now)); err != nil {
			return false, unavailable(ctx, fmt.Errorf("metadata database: delete expired request signatures: %w", err), false)
		}
	}
	return tag.RowsAffected() == 1, nil
}

// Open connects to the database named by dsn (postgres://USER[:PASSWORD]@HOST:PORT/DB?sslmode=…,
// or any connection string pgx accepts) and brings its schema up to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The error of pgx does not repeat the password.
		return nil, fmt.Errorf("open metadata database: %w", err)
	}
	where := fmt.Sprintf("postgres://%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", where, err)
	}
	s := &Store{pool: pool}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open metadata database %s: %w", where, err)
	}
	return s, nil
}

// Pool returns the connections of the store, for the event bus shared by the server
// processes on this database (internal/server/events/pgevents), which uses tables of this
// schema.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes every connection.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// lockKey returns the advisory lock key of a name. Two names sharing a key only serialize
// more than needed.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("parsec/" + name))
	return int64(h.Sum64())
}

var migrationLock = lockKey("migrations")

// migrate applies the embedded migrations not yet recorded in schema_migrations, each in its
// own transaction, holding a session advisory lock so that processes opening the database at
// once wait for each other. A database newer than this binary is refused.
func (s *Store) migrate(ctx context.Context) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("lock for migrations: %w", err)
	}
	defer func() {
		if _, uerr := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrationLock); uerr != nil {
			err = errors.Join(err, fmt.Errorf("unlock after migrations: %w", uerr))
		}
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return err
	}
	var current int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return err
	}
	pending, err := sqlrows.PendingMigrations(migrations, current)
	if err != nil {
		return err
	}
	for _, m := range pending {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.Version, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// Update runs fn in a write transaction, serialized with every other writer of the
// organizations it touches (see the package documentation).
func (s *Store) Update(ctx context.Context, fn func(metastore.Tx) error) error {
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, true, fn)
}

// View runs fn in a read-only transaction over one snapshot.
func (s *Store) View(ctx context.Context, fn func(metastore.Tx) error) error {
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, false, fn)
}

func (s *Store) run(ctx context.Context, opts pgx.TxOptions, write bool, fn func(metastore.Tx) error) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	ptx, err := s.pool.BeginTx(ctx, opts)
	if err != nil {
		return unavailable(ctx, fmt.Errorf("metadata database: %w", err), false)
	}
	t := &tx{ctx: ctx, tx: ptx, write: write}
	if err := fn(t); err != nil {
		lost := ptx.Conn().IsClosed()
		ptx.Rollback(context.WithoutCancel(ctx))
		return unavailable(ctx, err, lost)
	}
	if err := ptx.Commit(ctx); err != nil {
		return unavailable(ctx, fmt.Errorf("metadata database: commit: %w", err), ptx.Conn().IsClosed())
	}
	return nil
}

type tx struct {
	ctx    context.Context
	tx     pgx.Tx
	write  bool
	locked map[parsec.OrganizationID]bool
}

// org returns the organization's key for queries. In a write transaction, it first takes the
// organization's lock, once: this is what serializes writers.
func (t *tx) org(org parsec.OrganizationID) (string, error) {
	if t.write && !t.locked[org] {
		if _, err := t.tx.Exec(t.ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("organization/"+string(org))); err != nil {
			return "", fmt.Errorf("lock organization %s: %w", org, err)
		}
		if t.locked == nil {
			t.locked = make(map[parsec.OrganizationID]bool)
		}
		t.locked[org] = true
	}
	return string(org), nil
}

func (t *tx) exec(q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(t.ctx, q, args...)
	return tag.RowsAffected(), err
}

// queryAll runs q and returns the rows read by scan.
func queryAll[T any](t *tx, scan func(sqlrows.Scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := t.tx.Query(t.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// queryUnsorted is queryAll with the planner's sorts off, for the lookups of the last
// version of each of many vlobs (lastVersionsQuery, latestAtomsQuery; vlobAtomsQuery, for
// given versions, asks for the last one up to each). The primary key of vlob_atoms (org,
// realm, vlob_id, version) gives each vlob's last version without a sort; the index of the
// change log (org, realm, checkpoint) needs a filter and a sort, and reads every version of
// the realm. When the statistics know nothing of the organization (a new database before
// autovacuum first analyzes it, or an organization created since the last analysis), the
// planner estimates both at one row and may take the smaller index: each lookup then reads
// the whole realm, and a first upload of many files slows as it grows (10,000 small files
// on a new database: 1,400 files/s instead of 6,500). Sorts off, only the primary key is
// left, and sorts are then back to the connection's setting. Lookups by whole key in a
// table with no other index (blocksQuery) need nothing of the kind.
func queryUnsorted[T any](t *tx, scan func(sqlrows.Scanner) (T, error), q string, args ...any) (_ []T, err error) {
	if _, err := t.tx.Exec(t.ctx, `SET LOCAL enable_sort = off`); err != nil {
		return nil, err
	}
	defer func() {
		if _, rerr := t.tx.Exec(t.ctx, `SET LOCAL enable_sort = DEFAULT`); err == nil {
			err = rerr
		}
	}()
	return queryAll(t, scan, q, args...)
}

// queryOne runs q and reads its first row with scan, or returns notFound if it has none.
func queryOne[T any](t *tx, scan func(sqlrows.Scanner) (T, error), notFound error, q string, args ...any) (T, error) {
	v, err := scan(t.tx.QueryRow(t.ctx, q, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, notFound
	}
	return v, err
}

// isUniqueViolation reports whether err is a PRIMARY KEY or UNIQUE constraint failure.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// params returns "$first, $first+1, …" for n parameters.
func params(n, first int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(first + i))
	}
	return b.String()
}

// excluded returns "excluded.a, excluded.b, …" for columns "a, b, …".
func excluded(columns string) string {
	var names []string
	for c := range strings.SplitSeq(columns, ",") {
		names = append(names, "excluded."+strings.TrimSpace(c))
	}
	return strings.Join(names, ", ")
}

// insertOnce inserts one row of columns (then org) into table, or returns exists when a row
// with the same key (the conflict target) is there.
func (t *tx) insertOnce(table, columns, conflict string, args []any, exists error) error {
	n, err := t.exec(`INSERT INTO `+table+` (`+columns+`, org) VALUES (`+params(len(args), 1)+`)
		ON CONFLICT (`+conflict+`) DO NOTHING`, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return exists
	}
	return nil
}

// updateRow replaces the row of table whose org and id are given, with args the values of
// columns then org; it returns notFound when there is no such row.
func (t *tx) updateRow(table, columns, idColumn string, args []any, id []byte, notFound error) error {
	ncol := len(args) - 1
	n, err := t.exec(`UPDATE `+table+` SET (`+columns+`) = ROW(`+params(ncol, 1)+`)
		WHERE org = $`+strconv.Itoa(ncol+1)+` AND `+idColumn+` = $`+strconv.Itoa(ncol+2), append(args, id)...)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// Organizations.

func (t *tx) Organization(id parsec.OrganizationID) (metastore.Organization, error) {
	org, err := t.org(id)
	if err != nil {
		return metastore.Organization{}, err
	}
	return queryOne(t, sqlrows.ScanOrg, sqlrows.NotFound("organization", id),
		`SELECT `+sqlrows.OrgColumns+` FROM organizations WHERE id = $1`, org)
}

func (t *tx) PutOrganization(o metastore.Organization) error {
	if _, err := t.org(o.ID); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO organizations (`+sqlrows.OrgColumns+`) VALUES (`+params(9, 1)+`)
		ON CONFLICT (id) DO UPDATE SET (`+sqlrows.OrgColumns+`) = ROW(`+excluded(sqlrows.OrgColumns)+`)`, sqlrows.OrgArgs(o)...)
	return err
}

func (t *tx) Organizations() ([]metastore.Organization, error) {
	return queryAll(t, sqlrows.ScanOrg, `SELECT `+sqlrows.OrgColumns+` FROM organizations ORDER BY id`)
}

// Certificates.

func (t *tx) AddCertificate(org parsec.OrganizationID, c metastore.Certificate) error {
	o, err := t.org(org)
	if err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO certificates (org, topic, timestamp, kind, data, redacted) VALUES ($1, $2, $3, $4, $5, $6)`,
		o, string(c.Topic), int64(c.Timestamp), c.Kind, c.Data, c.Redacted)
	return err
}

func (t *tx) Certificates(org parsec.OrganizationID, topic metastore.Topic, after parsec.DateTime) ([]metastore.Certificate, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	return queryAll(t, func(sc sqlrows.Scanner) (metastore.Certificate, error) {
		c := metastore.Certificate{Topic: topic}
		err := sc.Scan(&c.Timestamp, &c.Kind, &c.Data, &c.Redacted)
		return c, err
	}, `SELECT timestamp, kind, data, redacted FROM certificates
		WHERE org = $1 AND topic = $2 AND timestamp > $3 ORDER BY timestamp, seq`, o, string(topic), int64(after))
}

func (t *tx) LastTimestamp(org parsec.OrganizationID, topic metastore.Topic) (parsec.DateTime, error) {
	o, err := t.org(org)
	if err != nil {
		return 0, err
	}
	var ts int64
	err = t.tx.QueryRow(t.ctx, `SELECT COALESCE(MAX(timestamp), 0) FROM certificates WHERE org = $1 AND topic = $2`,
		o, string(topic)).Scan(&ts)
	return parsec.DateTime(ts), err
}

func (t *tx) RealmTopics(org parsec.OrganizationID) ([]metastore.Topic, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	return queryAll(t, func(sc sqlrows.Scanner) (metastore.Topic, error) {
		var s string
		err := sc.Scan(&s)
		return metastore.Topic(s), err
	}, `SELECT DISTINCT topic FROM certificates WHERE org = $1 AND topic LIKE 'realm/%' ORDER BY topic`, o)
}

// Users.

func (t *tx) InsertUser(org parsec.OrganizationID, u metastore.User) error {
	if _, err := t.org(org); err != nil {
		return err
	}
	return t.insertOnce("users", sqlrows.UserColumns, "org, id", sqlrows.UserArgs(org, u), sqlrows.Exists("user", u.ID))
}

func (t *tx) UpdateUser(org parsec.OrganizationID, u metastore.User) error {
	if _, err := t.org(org); err != nil {
		return err
	}
	return t.updateRow("users", sqlrows.UserColumns, "id", sqlrows.UserArgs(org, u), u.ID[:], sqlrows.NotFound("user", u.ID))
}

func (t *tx) User(org parsec.OrganizationID, id parsec.UserID) (metastore.User, error) {
	o, err := t.org(org)
	if err != nil {
		return metastore.User{}, err
	}
	return queryOne(t, sqlrows.ScanUser, sqlrows.NotFound("user", id),
		`SELECT `+sqlrows.UserColumns+` FROM users WHERE org = $1 AND id = $2`, o, id[:])
}

func (t *tx) ActiveUserByEmail(org parsec.OrganizationID, email string) (metastore.User, error) {
	o, err := t.org(org)
	if err != nil {
		return metastore.User{}, err
	}
	return queryOne(t, sqlrows.ScanUser, sqlrows.NotFound("user with email", email),
		`SELECT `+sqlrows.UserColumns+` FROM users WHERE org = $1 AND email = $2 AND revoked_on = 0`, o, email)
}

func (t *tx) Users(org parsec.OrganizationID) ([]metastore.User, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	return queryAll(t, sqlrows.ScanUser, `SELECT `+sqlrows.UserColumns+` FROM users WHERE org = $1 ORDER BY created_on, email`, o)
}

// Devices.

func (t *tx) InsertDevice(org parsec.OrganizationID, d metastore.Device) error {
	if _, err := t.org(org); err != nil {
		return err
	}
	return t.insertOnce("devices", sqlrows.DeviceColumns, "org, id", sqlrows.DeviceArgs(org, d), sqlrows.Exists("device", d.ID))
}

func (t *tx) Device(org parsec.OrganizationID, id parsec.DeviceID) (metastore.Device, error) {
	o, err := t.org(org)
	if err != nil {
		return metastore.Device{}, err
	}
	return queryOne(t, sqlrows.ScanDevice, sqlrows.NotFound("device", id),
		`SELECT `+sqlrows.DeviceColumns+` FROM devices WHERE org = $1 AND id = $2`, o, id[:])
}

func (t *tx) Devices(org parsec.OrganizationID, user parsec.UserID) ([]metastore.Device, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	return queryAll(t, sqlrows.ScanDevice, `SELECT `+sqlrows.DeviceColumns+` FROM devices
		WHERE org = $1 AND user_id = $2 ORDER BY created_on`, o, user[:])
}
