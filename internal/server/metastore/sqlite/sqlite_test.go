package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/metastoretest"
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
