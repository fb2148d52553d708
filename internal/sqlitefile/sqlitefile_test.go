package sqlitefile_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/parsec-go/parsec/internal/sqlitefile"
	"github.com/parsec-go/parsec/internal/sqlitefile/sqlitefiletest"
)

func TestPrivate(t *testing.T) {
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.db")
	old := filepath.Join(dir, "old.db")
	for _, p := range []string{old, old + "-wal", old + "-shm"} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{fresh, old} {
		if err := sqlitefile.Private(p); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{fresh, old, old + "-wal", old + "-shm"} {
		sqlitefiletest.WantPrivate(t, p)
	}
	if _, err := os.Stat(fresh + "-wal"); !os.IsNotExist(err) {
		t.Errorf("Private created %s-wal", fresh)
	}
}
