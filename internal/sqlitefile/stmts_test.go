package sqlitefile

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// A writer's transactions, on its one connection, get kept statements without waiting for
// a second connection: the first time prepared for the transaction, kept once it is over,
// reused by the next ones, and the rows are what each inserted.
func TestStmtsOnOneConnection(t *testing.T) {
	ctx := t.Context()
	db := openDB(t, 1)
	s := NewStmts(db)
	t.Cleanup(func() { s.Close() })
	const q = `INSERT INTO t (a) VALUES (?), (?)`
	for i := range 3 {
		done := make(chan error, 1)
		go func() {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				done <- err
				return
			}
			defer tx.Rollback()
			for j := range 2 {
				stmt, err := s.In(ctx, tx, q)
				if err != nil {
					done <- err
					return
				}
				if _, err := stmt.ExecContext(ctx, 4*i+2*j, 4*i+2*j+1); err != nil {
					done <- err
					return
				}
			}
			done <- tx.Commit()
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("transaction %d still waits after 10 s", i)
		}
		s.Keep(ctx)
		if kept := len(s.m); kept != 1 {
			t.Fatalf("after transaction %d, %d statements kept, want 1", i, kept)
		}
	}
	var n, sum int
	if err := db.QueryRowContext(ctx, `SELECT count(*), sum(a) FROM t`).Scan(&n, &sum); err != nil || n != 12 || sum != 66 {
		t.Fatalf("%d rows of sum %d (%v), want 12 of 66", n, sum, err)
	}
}

// Transactions on every connection of a pool, and queries outside any, share kept
// statements without waiting for each other for ever.
func TestStmtsConcurrently(t *testing.T) {
	ctx := t.Context()
	db := openDB(t, 2)
	s := NewStmts(db)
	t.Cleanup(func() { s.Close() })
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for g := range 8 {
		wg.Go(func() {
			for i := range 5 {
				q := fmt.Sprintf(`SELECT %d + ?`, i%3) // three texts
				var got int
				if g%2 == 0 {
					stmt, err := s.Get(ctx, q)
					if err == nil {
						err = stmt.QueryRowContext(ctx, g).Scan(&got)
					}
					if err != nil || got != i%3+g {
						errs <- fmt.Errorf("query %q: %d, %v", q, got, err)
					}
					continue
				}
				tx, err := db.BeginTx(ctx, nil)
				if err != nil {
					errs <- err
					return
				}
				stmt, err := s.In(ctx, tx, q)
				if err == nil {
					err = stmt.QueryRowContext(ctx, g).Scan(&got)
				}
				tx.Rollback()
				s.Keep(ctx)
				if err != nil || got != i%3+g {
					errs <- fmt.Errorf("query %q in a transaction: %d, %v", q, got, err)
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("still waiting after 20 s")
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if len(s.m) != 3 {
		t.Errorf("%d statements kept, want 3", len(s.m))
	}
	if err := s.Close(); err != nil || len(s.m) != 0 {
		t.Errorf("Close: %v, %d statements left", err, len(s.m))
	}
}

func openDB(t *testing.T, conns int) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db")+"?"+Pragmas().Encode())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(conns)
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(context.Background(), `CREATE TABLE t (a INTEGER)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// A Keep after Close (a request still running at shutdown) keeps nothing: a statement
// kept then would never be closed.
func TestStmtsKeepAfterClose(t *testing.T) {
	ctx := t.Context()
	db := openDB(t, 1)
	s := NewStmts(db)
	const q = `SELECT count(*) FROM t`
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := s.In(ctx, tx, q)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := stmt.QueryRowContext(ctx).Scan(&n); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s.Keep(ctx)
	if len(s.m) != 0 {
		t.Fatalf("%d statements kept after Close", len(s.m))
	}
	if _, err := s.Get(ctx, q); err == nil {
		t.Fatal("Get after Close: no error")
	}
}
