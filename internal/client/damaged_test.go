package client_test

import (
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/testenv"
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
	spoilCopy(t, p.alice, f.ID, `base = x'00112233'`)
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

// A damaged copy is said once, however often it is met: the GUI asks for the workspace's
// last change at every refresh, and the newest entry's copy may be the damaged one.
func TestDamagedSaidOnce(t *testing.T) {
	p := newPeople(t)
	id, f := syncedFile(t, p)
	w, warned := openWorkspaceAgain(t, p.alice, id)
	spoilCopy(t, p.alice, f.ID, `base = x'00112233', updated = 1 << 62`)
	for range 3 {
		w.LastChange()
		w.Stat("/f")
	}
	if got := warned.all(); len(got) != 1 || !strings.Contains(got[0], "does not decrypt") {
		t.Errorf("warnings = %q, want one saying the copy does not decrypt", got)
	}
}

// One entry whose copy in the cache does not decrypt is left out of its folder's listing,
// which lists the others (it used to fail whole), and the next sync fetches it again.
func TestDamagedLeftOutOfItsFolder(t *testing.T) {
	w, warned := damagedBesideAnother(t, newPeople(t), "")
	entries, err := w.List("/")
	if err != nil || len(entries) != 1 || entries[0].Name != "g" {
		t.Fatalf("List(/) = %v, %v; want /g alone", entries, err)
	}
	if got := warned.all(); len(got) != 1 || !strings.Contains(got[0], "does not decrypt") {
		t.Errorf("warnings = %q, want one saying the copy does not decrypt", got)
	}
	wantFetchedAgain(t, w, warned, "does not decrypt")
}

// damagedBesideAnother has Alice write dir/f and dir/g and push them, then opens her
// workspace again with dir/f's copy in her local cache damaged: it does not decrypt.
func damagedBesideAnother(t *testing.T, p *people, dir string) (*client.Workspace, *warnings) {
	t.Helper()
	id, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{dir + "/f": []byte("content"), dir + "/g": []byte("other")})
	syncWS(t, aw)
	f := stat(t, aw, dir+"/f")
	w, warned := openWorkspaceAgain(t, p.alice, id)
	spoilCopy(t, p.alice, f.ID, `base = x'00112233'`)
	return w, warned
}

// spoilCopy changes the row of entry id in u's local cache (set is an SQL SET clause).
func spoilCopy(t *testing.T, u *testenv.User, id parsec.VlobID, set string) {
	t.Helper()
	db, err := sql.Open("sqlite", cachePath(u))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `UPDATE vlobs SET `+set+` WHERE vlob_id = ?`, id[:]); err != nil {
		t.Fatal(err)
	}
}

// A copy does not go on without an entry it cannot read: a download, or a copy within the
// workspace, of a folder holding a damaged copy fails, naming it, and copies nothing.
func TestDamagedStopsACopy(t *testing.T) {
	ctx := t.Context()
	w, _ := damagedBesideAnother(t, newPeople(t), "/src")
	out := t.TempDir()
	_, err := w.Download(ctx, "/src", out, client.CopyOptions{Recursive: true})
	if !parsec.IsKind(err, parsec.Unavailable) || !strings.Contains(err.Error(), "/src/f") {
		t.Errorf("downloading a folder holding a damaged copy: %v, want an Unavailable error naming /src/f", err)
	}
	err = w.CopyWithin(ctx, "/src", "/copy")
	if !parsec.IsKind(err, parsec.Unavailable) || !strings.Contains(err.Error(), "/copy/f") {
		t.Errorf("copying a folder holding a damaged copy: %v, want an Unavailable error naming /copy/f", err)
	}
	if _, err := w.Stat("/copy"); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("after the failed copy, /copy: %v, want nothing there", err)
	}
}

// A walk reads a large folder a few entries at a time (two here): the entries come by
// name across those reads, and one whose copy cannot be read, in the third, stops the
// walk there, with an error naming it, after the entries before it.
func TestWalkReadsLargeFoldersInParts(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	files := map[string][]byte{}
	for _, name := range []string{"e", "b", "d", "a", "f", "c", "g"} {
		files["/dir/"+name] = []byte(name)
	}
	write(t, aw, files)
	syncWS(t, aw)
	client.SetListChunk(t, 2)
	got, err := filesOf(aw)
	if want := []string{"/dir/a", "/dir/b", "/dir/c", "/dir/d", "/dir/e", "/dir/f", "/dir/g"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("walk read 2 entries at a time: %v, %v; want %v", got, err, want)
	}
	e := stat(t, aw, "/dir/e")
	w, _ := openWorkspaceAgain(t, p.alice, id)
	spoilCopy(t, p.alice, e.ID, `base = x'00112233'`)
	var seen []string
	err = w.WalkEach("/", func(e client.Entry) error {
		seen = append(seen, e.Path)
		return nil
	})
	if !parsec.IsKind(err, parsec.Unavailable) || !strings.Contains(err.Error(), "/dir/e") {
		t.Errorf("walk of a folder with a damaged copy in its third part: %v, want an Unavailable error naming /dir/e", err)
	}
	if want := []string{"/dir", "/dir/a", "/dir/b", "/dir/c", "/dir/d"}; !slices.Equal(seen, want) {
		t.Errorf("the walk saw %v before failing, want %v", seen, want)
	}
}
