package client_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
)

// A file whose local copy is damaged past its kind and date (peeked at when the workspace
// is opened, decoded only when read) is left out once read, like any copy that cannot be
// read: the next sync fetches it again.
func TestDamagedFileFetchedAgain(t *testing.T) {
	p := newPeople(t)
	id, f := syncedFile(t, p)
	bad, err := codec.Marshal(map[string]any{"type": "file_manifest", "size": "not a size"})
	if err != nil {
		t.Fatal(err)
	}
	db, err := localdb.Open(t.Context(), cachePath(p.alice), p.alice.Device.LocalKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.PutVlobs(t.Context(), id, []localdb.Vlob{{ID: f.ID, BaseVersion: f.Version, Base: bad}}, nil)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	w, warned := openWorkspaceAgain(t, p.alice, id)
	wantFetchedAgain(t, w, warned, "invalid manifest")
}

// A file whose encrypted copy in the cache is damaged after the workspace was opened is
// left out when read, with a warning, and the next sync fetches it again: it is not taken
// for a cache that cannot be read at all, which would stop every sync.
func TestDamagedCiphertextFetchedAgain(t *testing.T) {
	p := newPeople(t)
	id, f := syncedFile(t, p)
	w, warned := openWorkspaceAgain(t, p.alice, id)
	db, err := sql.Open("sqlite", cachePath(p.alice))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(t.Context(), `UPDATE vlobs SET base = x'00112233' WHERE vlob_id = ?`, f.ID[:])
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	wantFetchedAgain(t, w, warned, "does not decrypt")
}

// syncedFile has Alice write /f in a shared workspace and push it; it returns the
// workspace's ID and /f's entry.
func syncedFile(t *testing.T, p *people) (parsec.VlobID, client.Entry) {
	t.Helper()
	id, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/f": []byte("content")})
	syncWS(t, aw)
	return id, stat(t, aw, "/f")
}

// wantFetchedAgain checks that /f, damaged in w's local cache, is noticed when read (an
// error, and one warning saying why), and that a sync fetches it again.
func wantFetchedAgain(t *testing.T, w *client.Workspace, warned *warnings, why string) {
	t.Helper()
	if _, err := w.Stat("/f"); err == nil || len(warned.all()) != 1 || !strings.Contains(warned.all()[0], why) {
		t.Fatalf("Stat of the damaged file: %v, warnings %q (want one saying %q)", err, warned.all(), why)
	}
	syncWS(t, w)
	if got := string(read(t, w, "/f")); got != "content" {
		t.Errorf("the file holds %q after a sync", got)
	}
}
