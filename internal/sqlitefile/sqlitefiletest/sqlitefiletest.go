// Package sqlitefiletest checks, in tests, what package sqlitefile promises.
package sqlitefiletest

import (
	"context"
	"database/sql"
	"os"
	"testing"
)

// WantPrivate fails the test unless the file at path has mode 0600.
func WantPrivate(t testing.TB, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("%s has mode %#o, want 0600", path, m)
	}
}

// WantDurable fails the test unless db commits with synchronous=FULL, and the database at
// path and its journal files have mode 0600.
func WantDurable(t testing.TB, ctx context.Context, db *sql.DB, path string) {
	t.Helper()
	var sync int
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if sync != 2 {
		t.Errorf("PRAGMA synchronous = %d, want 2 (FULL): a power loss may lose acknowledged writes", sync)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(p); err == nil {
			WantPrivate(t, p)
		}
	}
}
