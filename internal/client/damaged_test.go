package client_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/codec"
)

// A file whose local copy is damaged past its kind and date (peeked at when the workspace
// is opened, decoded only when read) is left out once read, like any copy that cannot be
// read: the next sync fetches it again.
func TestDamagedFileFetchedAgain(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/f": []byte("content")})
	syncWS(t, aw)
	f := stat(t, aw, "/f")
	bad, err := codec.Marshal(map[string]any{"type": "file_manifest", "size": "not a size"})
	if err != nil {
		t.Fatal(err)
	}
	db, err := localdb.Open(t.Context(), filepath.Join(p.alice.ConfigDir, "data", p.alice.Device.DeviceID.String(), "local.db"), p.alice.Device.LocalKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.PutVlobs(t.Context(), id, []localdb.Vlob{{ID: f.ID, BaseVersion: f.Version, Base: bad}}, nil)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	again, warned := openAgain(t, p.alice)
	w, err := again.Workspace(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	// Noticed when it is read, with an error that says to sync.
	if _, err := w.Stat("/f"); err == nil || len(warned.all()) != 1 {
		t.Fatalf("Stat of the damaged file: %v, warnings %q", err, warned.all())
	}
	syncWS(t, w)
	if got := string(read(t, w, "/f")); got != "content" {
		t.Errorf("the file holds %q after a sync", got)
	}
}

// A file whose encrypted copy in the cache is damaged after the workspace was opened is
// left out when read, with a warning, and the next sync fetches it again: it is not taken
// for a cache that cannot be read at all, which would stop every sync.
func TestDamagedCiphertextFetchedAgain(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/f": []byte("content")})
	syncWS(t, aw)
	f := stat(t, aw, "/f")
	again, warned := openAgain(t, p.alice)
	w, err := again.Workspace(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(p.alice.ConfigDir, "data", p.alice.Device.DeviceID.String(), "local.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(t.Context(), `UPDATE vlobs SET base = x'00112233' WHERE vlob_id = ?`, f.ID[:])
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Stat("/f"); err == nil || len(warned.all()) != 1 || !strings.Contains(warned.all()[0], "does not decrypt") {
		t.Fatalf("Stat of the damaged file: %v, warnings %q", err, warned.all())
	}
	syncWS(t, w)
	if got := string(read(t, w, "/f")); got != "content" {
		t.Errorf("the file holds %q after a sync", got)
	}
}
