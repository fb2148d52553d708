package pgsmall_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/blockstore/blockstoretest"
	"github.com/parsec-go/parsec/internal/server/blockstore/pgsmall"
	"github.com/parsec-go/parsec/internal/server/blockstore/s3"
	"github.com/parsec-go/parsec/internal/server/metastore/postgres"
	"github.com/parsec-go/parsec/internal/testenv"
	"github.com/parsec-go/parsec/internal/testenv/minio"
)

func TestMain(m *testing.M) {
	code := minio.Main(m)
	testenv.StopPostgres()
	os.Exit(code)
}

// stores opens, as a server on PostgreSQL and S3 does, a fresh database (its schema made by
// the metadata store) and a fresh bucket of the shared MinIO, and returns the packing store
// on both and the database's DSN.
func stores(t *testing.T) (*blockstore.Packing, string) {
	t.Helper()
	return storesOn(t, testenv.PostgresDSN(t))
}

// storesOn is stores on the database of dsn.
func storesOn(t *testing.T, dsn string) (*blockstore.Packing, string) {
	t.Helper()
	meta, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	srv := minio.Shared(t)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": minio.AccessKey, "AWS_SECRET_ACCESS_KEY": minio.SecretKey,
		"AWS_REGION": "us-east-1", "AWS_CA_BUNDLE": "", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	bucket := "parsec-pgsmall-" + strings.ToLower(rand.Text()[:12])
	large, err := s3.Open(t.Context(), "s3://"+bucket+"?endpoint="+url.QueryEscape(srv.Endpoint))
	if err != nil {
		t.Fatal(err)
	}
	p := blockstore.NewPacking(pgsmall.New(meta.Pool()), large, pgsmall.MaxSize, 8)
	t.Cleanup(func() { p.Close() })
	return p, dsn
}

func TestConformance(t *testing.T) {
	blockstoretest.Run(t, func(t *testing.T) blockstore.Store {
		s, _ := stores(t)
		return s
	})
}

// rows returns the number of small blocks of org in the database.
func rows(t *testing.T, dsn string, org parsec.OrganizationID) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM small_blocks WHERE org = $1`, string(org)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A batch of small and large blocks: the small ones are rows of the database, the large ones
// objects; a block put small over a large one hides it, and a large one put over a small one
// removes its row; deleting removes the block wherever it is.
func TestSmallBlocksAreRows(t *testing.T) {
	s, dsn := stores(t)
	ctx := t.Context()
	const org = parsec.OrganizationID("Acme")
	small := make([]byte, pgsmall.MaxSize)
	large := make([]byte, pgsmall.MaxSize+1)
	small[0], large[0] = 's', 'l'
	ids := []parsec.BlockID{parsec.NewBlockID(), parsec.NewBlockID(), parsec.NewBlockID(), parsec.NewBlockID()}
	err := s.PutBatch(ctx, org, []blockstore.Block{{ID: ids[0], Data: small}, {ID: ids[1], Data: large}, {ID: ids[2], Data: []byte{}}, {ID: ids[3], Data: small[:100]}})
	if err != nil {
		t.Fatal(err)
	}
	if n := rows(t, dsn, org); n != 3 {
		t.Errorf("%d rows in small_blocks, want 3 (the blocks of up to %d bytes)", n, pgsmall.MaxSize)
	}
	got, err := s.GetMany(ctx, org, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]byte{small, large, {}, small[:100]} {
		if string(got[i]) != string(want) {
			t.Errorf("block %d: %d bytes starting %q, want %d", i, len(got[i]), got[i][:min(1, len(got[i]))], len(want))
		}
	}

	// Large over small: the row goes. Small over large: the row hides the object.
	if err := s.Put(ctx, org, ids[0], large); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, org, ids[1], small); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]byte{large, small} {
		if b, err := s.Get(ctx, org, ids[i]); err != nil || string(b) != string(want) {
			t.Errorf("block %d after its overwrite: %d bytes, %v; want %d", i, len(b), err, len(want))
		}
	}
	if n := rows(t, dsn, org); n != 3 {
		t.Errorf("%d rows in small_blocks after the overwrites, want 3", n)
	}

	// Deleting the small block over a large one removes both.
	if err := s.Delete(ctx, org, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, org, ids[1]); parsec.KindOf(err) != parsec.NotFound {
		t.Errorf("get after delete: %v, want not found", err)
	}
	if err := s.Delete(ctx, org, ids[1]); parsec.KindOf(err) != parsec.NotFound {
		t.Errorf("second delete: %v, want not found", err)
	}
	if n := rows(t, dsn, org); n != 2 {
		t.Errorf("%d rows in small_blocks after the delete, want 2", n)
	}
}

// TestStalled: a database that takes requests and answers none (hung, or behind a network
// that drops packets) fails each operation on small blocks after the answer timeout, not as
// a cancellation, while its caller still waits; that includes a large block put over a small
// one, whose row is removed whatever the caller's context. Once the database answers again,
// the same store works.
func TestStalled(t *testing.T) {
	defer pgsmall.SetAnswerTimeout(time.Second)()
	db := testenv.NewOwnPostgres(t)
	s, _ := storesOn(t, db.DSN())
	const org = parsec.OrganizationID("Acme")
	id := parsec.NewBlockID()
	small, large := []byte("small"), make([]byte, pgsmall.MaxSize+1)
	if err := s.Put(t.Context(), org, id, small); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func(context.Context) error
	}{
		{"get", func(ctx context.Context) error { _, err := s.Get(ctx, org, id); return err }},
		{"get many", func(ctx context.Context) error { _, err := s.GetMany(ctx, org, []parsec.BlockID{id}); return err }},
		{"put a small block", func(ctx context.Context) error { return s.Put(ctx, org, parsec.NewBlockID(), small) }},
		{"put a large block over a small one", func(ctx context.Context) error { return s.Put(ctx, org, id, large) }},
		{"delete", func(ctx context.Context) error { return s.Delete(ctx, org, parsec.NewBlockID()) }},
	}
	db.Pause()
	for _, st := range steps {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		done := make(chan error, 1)
		go func() { done <- st.do(ctx) }()
		select {
		case err := <-done:
			if err == nil || parsec.IsKind(err, parsec.Cancelled) || parsec.IsKind(err, parsec.NotFound) {
				t.Errorf("%s with the database stalled: error %v, want a failure of the store", st.name, err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("%s with the database stalled: no answer after 15 s", st.name)
			db.Resume() // lets it end
			<-done
			db.Pause()
		}
		cancel()
	}
	db.Resume()
	if err := s.Put(t.Context(), org, id, large); err != nil {
		t.Fatalf("put once the database answers again: %v", err)
	}
	if got, err := s.Get(t.Context(), org, id); err != nil || string(got) != string(large) {
		t.Errorf("get once the database answers again: %d bytes, %v; want the large block", len(got), err)
	}
}

// The lookups and deletions of many small blocks go through the whole primary key, one row
// each, also for an organization created since the table was last analyzed (autovacuum off
// here, as it may not have run yet), rather than reading all of the organization's blocks.
func TestLookupsOfANewOrganization(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	meta, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	ctx := t.Context()
	pool := meta.Pool()
	if _, err := pool.Exec(ctx, `ALTER TABLE small_blocks SET (autovacuum_enabled = false)`); err != nil {
		t.Fatal(err)
	}
	small := pgsmall.New(pool)
	fill := func(org parsec.OrganizationID) (ids []string) {
		for range 10 {
			blocks := make([]blockstore.Block, 500)
			for i := range blocks {
				blocks[i] = blockstore.Block{ID: parsec.NewBlockID(), Data: make([]byte, 100)}
				if len(ids) < 100 {
					ids = append(ids, `'\x`+hex.EncodeToString(blocks[i].ID[:])+`'::bytea`)
				}
			}
			if err := small.Update(ctx, org, blocks, nil); err != nil {
				t.Fatal(err)
			}
		}
		return ids
	}
	fill("Old")
	if _, err := pool.Exec(ctx, `ANALYZE small_blocks`); err != nil {
		t.Fatal(err)
	}
	ids := fill("New")
	plan := func(q, types, args string) string {
		t.Helper()
		var lines []string
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `PREPARE plan_of (`+types+`) AS `+q); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `EXPLAIN EXECUTE plan_of (`+args+`)`)
			if err != nil {
				return err
			}
			if lines, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `DEALLOCATE plan_of`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(lines, "\n")
	}
	many := "'New', ARRAY[" + strings.Join(ids, ", ") + "]"
	if p := plan(`DELETE FROM small_blocks WHERE org = $1 AND id = ANY($2)`, "text, bytea[]", many); !strings.Contains(p, "Filter") {
		t.Fatalf("the former deletion is not the plan this test is about:\n%s", p)
	}
	for _, tc := range []struct{ name, q, types, args string }{
		{"GetMany", pgsmall.GetManyQuery, "text, bytea[]", many},
		{"Update's deletion", pgsmall.DeleteQuery, "text, bytea", "'New', " + ids[0]},
	} {
		if p := plan(tc.q, tc.types, tc.args); !strings.Contains(p, "small_blocks_pkey") || strings.Contains(p, "Filter") || strings.Contains(p, "Hash") {
			t.Errorf("%s does not look blocks up by their whole key:\n%s", tc.name, p)
		}
	}
}
