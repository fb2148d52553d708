package client_test

import (
	"database/sql"
	"testing"
)

// A local cache written by the version before labels (without the folder and updated
// columns, nor the recheck table): this version opens its workspace, lists it, says what is
// pending and when it last changed, and its next sync fetches a file that a folder names
// and the cache lacks, and pushes the change left pending. Rows written without labels
// again (that version run again) are labelled at the next opening.
func TestCacheOfAnEarlierVersion(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/docs/a.txt": []byte("a"), "/docs/b.txt": []byte("b")})
	syncWS(t, aw)
	write(t, aw, map[string][]byte{"/docs/c.txt": []byte("c")}) // not pushed
	lost := stat(t, aw, "/docs/b.txt")
	at, by := aw.LastChange()

	db, err := sql.Open("sqlite", cachePath(p.alice))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP INDEX vlobs_pending`, `DROP INDEX vlobs_updated`, `DROP INDEX vlobs_unlabeled`,
		`ALTER TABLE vlobs DROP COLUMN folder`, `ALTER TABLE vlobs DROP COLUMN updated`,
		`DROP TABLE recheck`,
	} {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_, err = db.ExecContext(t.Context(), `DELETE FROM vlobs WHERE vlob_id = ?`, lost.ID[:])
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	w, warned := openWorkspaceAgain(t, p.alice, id)
	if !w.NeedSync() {
		t.Error("the change left pending is not seen")
	}
	if gotAt, gotBy := w.LastChange(); gotAt != at || gotBy != by {
		t.Errorf("last change %v by %v, want %v by %v", gotAt, gotBy, at, by)
	}
	list, err := w.List("/docs")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "a.txt" || list[1].Name != "c.txt" {
		t.Errorf("/docs lists %+v, want a.txt and c.txt (b.txt is not in the cache)", list)
	}
	syncWS(t, w)
	if got := string(read(t, w, "/docs/b.txt")); got != "b" {
		t.Errorf("/docs/b.txt reads %q after the sync", got)
	}
	if w.NeedSync() {
		t.Error("the change left pending is not pushed")
	}
	if e := stat(t, w, "/docs/c.txt"); e.Version != 1 {
		t.Errorf("/docs/c.txt: version %d after the sync, want 1", e.Version)
	}
	if said := warned.all(); len(said) != 0 {
		t.Errorf("warnings %q", said)
	}

	// The earlier version runs again on the device, and writes rows without labels: the
	// next opening labels them.
	at, by = w.LastChange()
	db, err = sql.Open("sqlite", cachePath(p.alice))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(t.Context(), `UPDATE vlobs SET folder = NULL, updated = NULL`)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	again, _ := openWorkspaceAgain(t, p.alice, id)
	if gotAt, gotBy := again.LastChange(); gotAt != at || gotBy != by {
		t.Errorf("after the earlier version wrote again: last change %v by %v, want %v by %v", gotAt, gotBy, at, by)
	}
}
