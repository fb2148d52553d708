package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/metastoretest"
	"github.com/parsec-go/parsec/internal/sqlitefile/sqlitefiletest"
	"github.com/parsec-go/parsec/internal/testenv/smallfs"
)

func TestConformance(t *testing.T) {
	metastoretest.Run(t, func(t *testing.T) metastore.Store {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	file := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(t.Context(), file)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(t.Context(), func(tx metastore.Tx) error {
		return tx.PutOrganization(metastore.Organization{ID: "Acme", CreatedOn: 1})
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(t.Context(), file)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if err := s.View(t.Context(), func(tx metastore.Tx) error {
		_, err := tx.Organization("Acme")
		return err
	}); err != nil {
		t.Fatalf("organization lost after reopen: %v", err)
	}
}

// TestUpgradeFromVersion1 opens a database created by a binary that knew only the first
// migration: the later ones are applied and the existing data kept.
func TestUpgradeFromVersion1(t *testing.T) {
	file := filepath.Join(t.TempDir(), "meta.db")
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	initial, err := migrations.ReadFile("migrations/0001_initial.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT`,
		string(initial),
		`INSERT INTO schema_migrations (version, name) VALUES (1, '0001_initial.sql')`,
		`INSERT INTO organizations (id, created_on, bootstrap_token, user_profile_outsider_allowed,
			minimum_archiving_period) VALUES ('Acme', 1, zeroblob(16), 1, 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err := Open(t.Context(), file)
	if err != nil {
		t.Fatalf("open a version 1 database: %v", err)
	}
	defer s.Close()
	inv := metastore.Invitation{Token: parsec.NewAccessToken(), Type: metastore.InvitationUser, CreatedOn: 2,
		ClaimerEmail: "carol@example.com"}
	if err := s.Update(t.Context(), func(tx metastore.Tx) error {
		if _, err := tx.Organization("Acme"); err != nil {
			return err
		}
		return tx.InsertInvitation("Acme", inv)
	}); err != nil {
		t.Fatalf("after upgrade: %v", err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	file := filepath.Join(t.TempDir(), "meta.db")
	s, err := Open(t.Context(), file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.Exec(`INSERT INTO schema_migrations (version, name) VALUES (9999, 'future.sql')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(t.Context(), file); err == nil {
		s.Close()
		t.Fatal("opened a database with a newer schema")
	}
}

// Acknowledged writes survive a power loss (synchronous=FULL) and only the server's user
// can read the database.
func TestDurableAndPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metadata.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Update(t.Context(), func(tx metastore.Tx) error { _, err := tx.Organizations(); return err }); err != nil {
		t.Fatal(err)
	}
	sqlitefiletest.WantDurable(t, t.Context(), s.writer, path)
	sqlitefiletest.WantDurable(t, t.Context(), s.reader, path)
}

// A database on a full disk: writes fail with errors of kind Unavailable (which the server
// tells its clients, rather than an internal error), reads go on, and writes work again on
// the same store once space is freed.
func TestDiskFull(t *testing.T) {
	dir := smallfs.New(t, 4<<20)
	s, err := Open(t.Context(), filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	metastoretest.DiskFull(t, s, func() func() { return smallfs.Fill(t, dir) })
}
