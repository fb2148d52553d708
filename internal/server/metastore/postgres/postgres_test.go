package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/metastoretest"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlrows"
	"github.com/parsec-go/parsec/internal/testenv"
	"github.com/parsec-go/parsec/internal/testenv/smallfs"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}

// open opens a store on dsn, closed at the end of the test.
func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	metastoretest.Run(t, func(t *testing.T) metastore.Store {
		s, err := Open(t.Context(), testenv.PostgresDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	s := open(t, dsn)
	if err := s.Update(t.Context(), func(tx metastore.Tx) error {
		return tx.PutOrganization(metastore.Organization{ID: "Acme", CreatedOn: 1})
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dsn)
	if err := s.View(t.Context(), func(tx metastore.Tx) error {
		_, err := tx.Organization("Acme")
		return err
	}); err != nil {
		t.Fatalf("organization lost after reopen: %v", err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	s := open(t, dsn)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (9999, 'future.sql')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(t.Context(), dsn); err == nil {
		s.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

// TestConcurrentOpen opens an empty database from several "processes" at once: the
// migrations run once, and every store opens.
func TestConcurrentOpen(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	const n = 6
	var g errgroup.Group
	for range n {
		g.Go(func() error {
			s, err := Open(t.Context(), dsn)
			if err != nil {
				return err
			}
			return s.Close()
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	s := open(t, dsn)
	var applied int
	if err := s.pool.QueryRow(t.Context(), `SELECT COUNT(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	names, _ := migrations.ReadDir("migrations")
	if applied != len(names) {
		t.Fatalf("%d migrations recorded, want %d (each once)", applied, len(names))
	}
}

// TestWritersAcrossStores races writers on two Stores opened on the same database, with
// their own connection pools, as two server processes would: each transaction reads the
// last timestamp of a topic and the last version of a vlob, then appends the next ones.
// Every write must land, with no timestamp or version twice. Writers of another
// organization run alongside, and must neither wait for nor disturb them.
func TestWritersAcrossStores(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	stores := []*Store{open(t, dsn), open(t, dsn)}
	realm, vlob, dev := parsec.NewVlobID(), parsec.NewVlobID(), parsec.NewDeviceID()
	for _, org := range []parsec.OrganizationID{"Acme", "Other"} {
		if err := stores[0].Update(t.Context(), func(tx metastore.Tx) error {
			if err := tx.PutOrganization(metastore.Organization{ID: org, CreatedOn: 1}); err != nil {
				return err
			}
			return tx.InsertRealm(org, metastore.Realm{ID: realm, CreatedOn: 1, Archiving: metastore.ArchivingAvailable})
		}); err != nil {
			t.Fatal(err)
		}
	}

	const perStore = 60
	var g errgroup.Group
	var mu sync.Mutex
	runs := map[parsec.OrganizationID]int{}
	checkpoints := map[parsec.OrganizationID][]uint64{} // as AppendVlobAtoms returned them
	for i, s := range stores {
		for j := range perStore {
			org := parsec.OrganizationID("Acme")
			if j%4 == 3 {
				org = "Other"
			}
			g.Go(func() error {
				calls := 0
				var checkpoint uint64
				err := s.Update(context.Background(), func(tx metastore.Tx) error {
					calls++
					last, err := tx.LastTimestamp(org, metastore.CommonTopic)
					if err != nil {
						return err
					}
					if err := tx.AddCertificate(org, metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: last + 1,
						Kind: "x", Data: fmt.Appendf(nil, "store %d writer %d", i, j)}); err != nil {
						return err
					}
					versions, err := tx.LastVlobVersions(org, realm, []parsec.VlobID{vlob})
					if err != nil {
						return err
					}
					checkpoint, err = tx.AppendVlobAtoms(org, realm, []metastore.VlobAtom{{VlobID: vlob, Version: versions[vlob].Version + 1,
						KeyIndex: 1, Blob: []byte("v"), Author: dev, Timestamp: last + 1}})
					return err
				})
				if calls != 1 {
					return fmt.Errorf("transaction function ran %d times", calls)
				}
				mu.Lock()
				runs[org]++
				checkpoints[org] = append(checkpoints[org], checkpoint)
				mu.Unlock()
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	// Each write's checkpoint is its own: 1 to n, each once.
	for org, got := range checkpoints {
		slices.Sort(got)
		for k, c := range got {
			if c != uint64(k+1) {
				t.Fatalf("%s: the writes returned checkpoints %v, want 1 to %d each once", org, got, len(got))
			}
		}
	}

	// Both stores see the same, complete history.
	for i, s := range stores {
		for org, n := range runs {
			if err := s.View(t.Context(), func(tx metastore.Tx) error {
				certs, err := tx.Certificates(org, metastore.CommonTopic, 0)
				if err != nil {
					return err
				}
				if len(certs) != n {
					return fmt.Errorf("%d certificates, want %d: writes were lost", len(certs), n)
				}
				seen := map[string]bool{}
				for k, c := range certs {
					if c.Timestamp != parsec.DateTime(k+1) {
						return fmt.Errorf("certificate %d has timestamp %d: writers were not serialized", k, c.Timestamp)
					}
					if seen[string(c.Data)] {
						return fmt.Errorf("certificate %q stored twice", c.Data)
					}
					seen[string(c.Data)] = true
				}
				refs := make([]metastore.VlobRef, n)
				for k := range refs {
					refs[k] = metastore.VlobRef{VlobID: vlob, Version: uint64(k + 1)}
				}
				atoms, err := tx.VlobAtoms(org, realm, refs)
				if err != nil {
					return err
				}
				if len(atoms) != n {
					return fmt.Errorf("versions 1 to %d: %d found", n, len(atoms))
				}
				changes, checkpoint, err := tx.VlobChanges(org, realm, 0, 0)
				if err != nil {
					return err
				}
				if checkpoint != uint64(n) || len(changes) != 1 || changes[0].Version != uint64(n) {
					return fmt.Errorf("change log: %v at checkpoint %d; want version %d at checkpoint %d", changes, checkpoint, n, n)
				}
				return nil
			}); err != nil {
				t.Errorf("store %d, organization %s: %v", i, org, err)
			}
		}
	}
}

// A signature recorded through one process's store is a replay for another's.
func TestRecordSignatureShared(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	a, b := open(t, dsn), open(t, dsn)
	now := parsec.DateTime(1_800_000_000_000_000)
	hash := []byte("0123456789abcdef0123456789abcdef")
	for _, tc := range []struct {
		name  string
		store *Store
		hash  []byte
		now   parsec.DateTime
		fresh bool
	}{
		{"first", a, hash, now, true},
		{"replay to the other process", b, hash, now, false},
		{"replay to the same process", a, hash, now, false},
		{"another signature", b, []byte("other"), now, true},
		// Past the minute between deletions, the expired signature is forgotten.
		{"after expiry", a, []byte("third"), now.Add(2 * time.Minute), true},
		{"expired, recorded again", b, hash, now.Add(2 * time.Minute), true},
	} {
		fresh, err := tc.store.RecordSignature(t.Context(), tc.hash, now.Add(time.Minute), tc.now)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if fresh != tc.fresh {
			t.Errorf("%s: fresh = %v, want %v", tc.name, fresh, tc.fresh)
		}
	}
}

// TestUnavailable stops the database under an open store: its transactions and signature
// records fail with errors of kind Unavailable (which the server tells its clients), and work
// again once the database is back, on the same store.
func TestUnavailable(t *testing.T) {
	db := testenv.NewOwnPostgres(t)
	s := open(t, db.DSN())
	view := func() error {
		return s.View(t.Context(), func(tx metastore.Tx) error {
			_, err := tx.Organizations()
			return err
		})
	}
	update := func() error {
		return s.Update(t.Context(), func(tx metastore.Tx) error {
			return tx.PutOrganization(metastore.Organization{ID: "Acme", CreatedOn: 1})
		})
	}
	record := func() error {
		_, err := s.RecordSignature(t.Context(), []byte(t.Name()+time.Now().String()), 2, 1)
		return err
	}
	steps := []struct {
		name string
		do   func() error
	}{{"view", view}, {"update", update}, {"record a signature", record}}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	db.Stop()
	for _, st := range steps {
		if err := st.do(); !parsec.IsKind(err, parsec.Unavailable) {
			t.Errorf("%s with the database stopped: error %v, want kind %v", st.name, err, parsec.Unavailable)
		}
	}
	db.Start()
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Errorf("%s once the database is back: %v", st.name, err)
		}
	}
	// Refusals stay what they are.
	err := s.View(t.Context(), func(tx metastore.Tx) error {
		_, err := tx.Organization("Nobody")
		return err
	})
	if !errors.Is(err, metastore.ErrNotFound) || parsec.IsKind(err, parsec.Unavailable) {
		t.Errorf("missing organization: error %v, want ErrNotFound", err)
	}
}

// TestDiskFull fills the disk of the certificates (their table in a tablespace on a small
// file system): a write there fails with an error of kind Unavailable (which the server tells
// its clients, rather than an internal error), reads go on, and writes work again on the same
// store once space is freed.
func TestDiskFull(t *testing.T) {
	dir := smallfs.New(t, 4<<20)
	db := testenv.NewOwnPostgres(t)
	db.Give(dir)
	s := open(t, db.DSN())
	for _, q := range []string{`CREATE TABLESPACE small LOCATION '` + dir + `'`, `ALTER TABLE certificates SET TABLESPACE small`} {
		if _, err := s.pool.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	metastoretest.DiskFull(t, s, func() func() { return smallfs.Fill(t, dir) })
}

// TestCountRequest counts the requests of one key from two stores on one database (two
// processes) at once: each request is counted once, the window ends a minute after its first
// request, and ended windows are deleted.
func TestCountRequest(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	stores := []*Store{open(t, dsn), open(t, dsn)}
	now := parsec.FromTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	const each = 25
	counts := make(chan int64, 2*each)
	var g errgroup.Group
	for _, s := range stores {
		for range each {
			g.Go(func() error {
				n, err := s.CountRequest(t.Context(), "device/Acme/1", time.Minute, now)
				counts <- n
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	close(counts)
	seen := map[int64]bool{}
	for n := range counts {
		if seen[n] || n < 1 || n > 2*each {
			t.Errorf("count %d returned twice or out of 1…%d", n, 2*each)
		}
		seen[n] = true
	}
	for _, tc := range []struct {
		name string
		key  string
		at   parsec.DateTime
		want int64
	}{
		{"another key", "device/Acme/2", now, 1},
		{"same window", "device/Acme/1", now.Add(time.Minute - time.Microsecond), 2*each + 1},
		{"next window", "device/Acme/1", now.Add(time.Minute), 1},
		{"in the next window", "device/Acme/1", now.Add(90 * time.Second), 2},
	} {
		if n, err := stores[1].CountRequest(t.Context(), tc.key, time.Minute, tc.at); err != nil || n != tc.want {
			t.Errorf("%s: count %d (%v), want %d", tc.name, n, err, tc.want)
		}
	}
	// Two minutes later, every window has ended: the first count deletes them.
	if _, err := stores[0].CountRequest(t.Context(), "device/Acme/3", time.Minute, now.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := stores[0].pool.QueryRow(t.Context(), `SELECT count(*) FROM rate_limits`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("%d rows left (%v), want 1", rows, err)
	}
}

// TestStalled: a database that takes requests and answers none (a server hung, a network
// dropping packets) fails each transaction and statement after testOnlyAnswerTimeout with an
// error of kind Unavailable, which the server tells its client before the client gives up
// waiting; once it answers again, the same store works.
func TestStalled(t *testing.T) {
	defer func(d time.Duration) { testOnlyAnswerTimeout = d }(testOnlyAnswerTimeout)
	testOnlyAnswerTimeout = time.Second
	db := testenv.NewOwnPostgres(t)
	s := open(t, db.DSN())
	steps := []struct {
		name string
		do   func(context.Context) error
	}{
		{"view", func(ctx context.Context) error {
			return s.View(ctx, func(tx metastore.Tx) error { _, err := tx.Organizations(); return err })
		}},
		{"update", func(ctx context.Context) error {
			return s.Update(ctx, func(tx metastore.Tx) error {
				return tx.PutOrganization(metastore.Organization{ID: parsec.OrganizationID("Acme" + strconv.Itoa(int(time.Now().UnixNano()%1e6))), CreatedOn: 1})
			})
		}},
		{"record a signature", func(ctx context.Context) error {
			_, err := s.RecordSignature(ctx, []byte(t.Name()+time.Now().String()), 2, 1)
			return err
		}},
		{"count a request", func(ctx context.Context) error {
			_, err := s.CountRequest(ctx, t.Name(), time.Minute, 1)
			return err
		}},
	}
	for _, st := range steps {
		if err := st.do(t.Context()); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
	}
	db.Pause()
	for _, st := range steps {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		start := time.Now()
		err := st.do(ctx)
		cancel()
		if !parsec.IsKind(err, parsec.Unavailable) || time.Since(start) > 10*time.Second {
			t.Errorf("%s with the database stalled: error %v after %v, want kind %v after about %v",
				st.name, err, time.Since(start).Round(time.Millisecond), parsec.Unavailable, testOnlyAnswerTimeout)
		}
	}
	db.Resume()
	for _, st := range steps {
		if err := st.do(t.Context()); err != nil {
			t.Errorf("%s once the database answers again: %v", st.name, err)
		}
	}
	// A caller that gives up is told so, not that the database is unavailable.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := steps[0].do(ctx); err == nil || parsec.IsKind(err, parsec.Unavailable) {
		t.Errorf("view with its context cancelled: error %v, want a cancellation", err)
	}
}

// planOf returns the plan PostgreSQL makes of q, of parameter types types, for args (a
// list of values of those types, in SQL): the plan for those values if custom, else the
// plan of a prepared statement run many times (generic, the same whatever the values). It
// is run as the store runs its queries: by queryUnsorted if unsorted, else by queryAll.
func planOf(t *testing.T, s *Store, q, types string, custom, unsorted bool, args string) string {
	t.Helper()
	var plan []string
	err := s.View(t.Context(), func(mt metastore.Tx) error {
		tx := mt.(*tx)
		mode := "force_generic_plan"
		if custom {
			mode = "force_custom_plan"
		}
		for _, stmt := range []string{`SET LOCAL plan_cache_mode = ` + mode, `PREPARE plan_of (` + types + `) AS ` + q} {
			if _, err := tx.exec(stmt); err != nil {
				return err
			}
		}
		run := queryAll[string]
		if unsorted {
			run = queryUnsorted[string]
		}
		var err error
		plan, err = run(tx, func(sc sqlrows.Scanner) (line string, err error) { return line, sc.Scan(&line) },
			`EXPLAIN EXECUTE plan_of (`+args+`)`)
		if err != nil {
			return err
		}
		_, err = tx.exec(`DEALLOCATE plan_of`) // prepared statements outlive transactions
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// indexCond reports whether plan scans index with a condition containing cond (rather than
// a filter, or a join condition, over the rows of a scan on a prefix of the index).
func indexCond(plan, index, cond string) bool {
	lines := strings.Split(plan, "\n")
	for i, line := range lines {
		if strings.Contains(line, " using "+index+" ") && i+1 < len(lines) &&
			strings.Contains(lines[i+1], "Index Cond:") && strings.Contains(lines[i+1], cond) {
			return true
		}
	}
	return false
}

// bytea is a SQL literal of b.
func bytea(b []byte) string { return `'\x` + hex.EncodeToString(b) + `'::bytea` }

// The lookups of the last version of many vlobs and of many blocks go through the primary
// keys, one row each, rather than reading every row of the realm or of the organization,
// also when the statistics know nothing of the rows (autovacuum is off here, as it may not
// have run yet): a new database (no statistics at all: the plan of a statement prepared
// for many runs) and an organization created since the last analysis (the plan for its
// values).
func TestLookupsWithoutStatistics(t *testing.T) {
	s := open(t, testenv.PostgresDSN(t))
	ctx := t.Context()
	for _, table := range []string{"vlob_atoms", "blocks"} {
		if _, err := s.Pool().Exec(ctx, `ALTER TABLE `+table+` SET (autovacuum_enabled = false)`); err != nil {
			t.Fatal(err)
		}
	}
	dev := parsec.NewDeviceID()
	// fill writes 20,000 vlobs and blocks in an organization, as a first upload does, and
	// returns the SQL values of a lookup of 1,000 of them.
	fill := func(org parsec.OrganizationID) (vlobArgs, blockArgs string) {
		realm := parsec.NewVlobID()
		err := s.Update(ctx, func(tx metastore.Tx) error {
			if err := tx.PutOrganization(metastore.Organization{ID: org, CreatedOn: 1}); err != nil {
				return err
			}
			return tx.InsertRealm(org, metastore.Realm{ID: realm, CreatedOn: 1, KeyIndex: 1, Archiving: metastore.ArchivingAvailable})
		})
		if err != nil {
			t.Fatal(err)
		}
		var vlobs, blockIDs []string
		for range 40 {
			atoms := make([]metastore.VlobAtom, 500)
			blocks := make([]metastore.Block, 500)
			for i := range atoms {
				atoms[i] = metastore.VlobAtom{VlobID: parsec.NewVlobID(), Version: 1, KeyIndex: 1, Blob: make([]byte, 500), Author: dev, Timestamp: 1000}
				blocks[i] = metastore.Block{ID: parsec.NewBlockID(), Realm: realm, Author: dev, Size: 4096, KeyIndex: 1, CreatedOn: 1000}
				if len(vlobs) < 1000 {
					vlobs = append(vlobs, bytea(atoms[i].VlobID[:]))
					blockIDs = append(blockIDs, bytea(blocks[i].ID[:]))
				}
			}
			err := s.Update(ctx, func(tx metastore.Tx) error {
				if _, err := tx.AppendVlobAtoms(org, realm, atoms); err != nil {
					return err
				}
				return tx.InsertBlocks(org, blocks)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		return fmt.Sprintf("'%s', %s, ARRAY[%s]", org, bytea(realm[:]), strings.Join(vlobs, ", ")),
			fmt.Sprintf("'%s', ARRAY[%s]", org, strings.Join(blockIDs, ", "))
	}
	check := func(when string, custom bool, vlobArgs, blockArgs string) {
		t.Helper()
		if plan := planOf(t, s, lastVersionsQuery, "text, bytea, bytea[]", custom, true, vlobArgs); !strings.Contains(plan, "vlob_atoms_pkey") || strings.Contains(plan, "Sort") {
			t.Errorf("%s, the lookup of last versions does not go through the primary key:\n%s", when, plan)
		}
		if plan := planOf(t, s, latestAtomsQuery, "text, bytea, bytea[], bigint", custom, true, vlobArgs+", 2000"); !strings.Contains(plan, "vlob_atoms_pkey") || strings.Contains(plan, "Sort") {
			t.Errorf("%s, the lookup of the latest versions does not go through the primary key:\n%s", when, plan)
		}
		versions := vlobArgs + ", array_fill(1::bigint, ARRAY[1000])"
		if plan := planOf(t, s, vlobAtomsQuery, "text, bytea, bytea[], bigint[]", custom, true, versions); !indexCond(plan, "vlob_atoms_pkey", "vlob_id = refs.id") || strings.Contains(plan, "Sort") {
			t.Errorf("%s, the lookup of given versions does not go through the whole primary key:\n%s", when, plan)
		}
		if plan := planOf(t, s, blocksQuery, "text, bytea[]", custom, false, blockArgs); !strings.Contains(plan, "blocks_pkey") || !strings.Contains(plan, "id = ids.id") {
			t.Errorf("%s, the lookup of blocks does not go through the whole primary key:\n%s", when, plan)
		}
	}
	vlobArgs, blockArgs := fill("Old")
	// What the lookup of last versions was before it ran without sorts.
	if plan := planOf(t, s, lastVersionsQuery, "text, bytea, bytea[]", false, false, vlobArgs); !strings.Contains(plan, "vlob_atoms_by_checkpoint") {
		t.Errorf("before any analysis, with sorts on, the plan is not the one this test is about:\n%s", plan)
	}
	check("before any analysis", false, vlobArgs, blockArgs)
	if _, err := s.Pool().Exec(ctx, `ANALYZE vlob_atoms, blocks`); err != nil {
		t.Fatal(err)
	}
	vlobArgs, blockArgs = fill("New")
	check("for an organization created since the last analysis", true, vlobArgs, blockArgs)
}
