package localdb

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/sqlitefile/sqlitefiletest"
)

func TestCertificatesRoundTripEncrypted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.db")
	key := crypto.GenerateSecretKey()
	db, err := Open(t.Context(), path, key)
	if err != nil {
		t.Fatal(err)
	}
	certs := []Certificate{
		{Topic: "common", Timestamp: 10, Data: []byte("secret-user-certificate-alice@example.com")},
		{Topic: "common", Timestamp: 10, Data: []byte("device")},
		{Topic: "realm/abc", Timestamp: 5, Data: []byte("role")},
	}
	if err := db.AddCertificates(t.Context(), certs); err != nil {
		t.Fatal(err)
	}
	if err := db.SetMeta(t.Context(), "flavour", "full"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	raw, _ := os.ReadFile(path)
	wal, _ := os.ReadFile(path + "-wal")
	if bytes.Contains(append(raw, wal...), []byte("alice@example.com")) {
		t.Fatal("certificate content stored in clear")
	}

	db, err = Open(t.Context(), path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Certificates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(certs, got); diff != "" {
		t.Errorf("certificates (-want +got):\n%s", diff)
	}
	if v, _ := db.Meta(t.Context(), "flavour"); v != "full" {
		t.Errorf("meta flavour = %q", v)
	}
	if v, _ := db.Meta(t.Context(), "unset"); v != "" {
		t.Errorf("unset meta = %q", v)
	}
	other := []Certificate{{Topic: "common", Timestamp: 7, Data: []byte("redacted")}}
	if err := db.ReplaceCertificates(t.Context(), other, "flavour", "redacted"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Certificates(t.Context()); !cmp.Equal(got, other) {
		t.Errorf("certificates after replace: %v, want %v", got, other)
	}
	if v, _ := db.Meta(t.Context(), "flavour"); v != "redacted" {
		t.Errorf("meta flavour after replace = %q", v)
	}
}

// Certificates fetched again in the other flavour replace those held at once: another
// process of the device reading them meanwhile gets either set, never none nor a mix.
func TestReplaceCertificatesAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.db")
	key := crypto.GenerateSecretKey()
	db, err := Open(t.Context(), path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	reader, err := Open(t.Context(), path, key) // another process
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	sets := [2][]Certificate{}
	for i := range 50 {
		sets[0] = append(sets[0], Certificate{Topic: "common", Timestamp: parsec.DateTime(i + 1), Data: []byte("full")})
		sets[1] = append(sets[1], Certificate{Topic: "common", Timestamp: parsec.DateTime(i + 1), Data: []byte("redacted")})
	}
	if err := db.AddCertificates(t.Context(), sets[0]); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 200 {
			if err := db.ReplaceCertificates(t.Context(), sets[(i+1)%2], "flavour", strconv.Itoa(i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		got, err := reader.Certificates(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !cmp.Equal(got, sets[0]) && !cmp.Equal(got, sets[1]) {
			t.Fatalf("read %d certificates while they were replaced, want one whole set of %d", len(got), len(sets[0]))
		}
	}
}

func TestWrongKeyIsReported(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.db")
	db, err := Open(t.Context(), path, crypto.GenerateSecretKey())
	if err != nil {
		t.Fatal(err)
	}
	db.AddCertificates(t.Context(), []Certificate{{Topic: "common", Timestamp: 1, Data: []byte("x")}})
	db.Close()
	db, err = Open(t.Context(), path, crypto.GenerateSecretKey())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Certificates(t.Context()); err == nil {
		t.Fatal("certificates read with another device's key")
	}
}

// Two processes of one device add the same new certificates: the cache keeps them once, and
// a cache written before that rule, holding copies, reads back each certificate once.
func TestCertificatesKeptOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "local.db")
	key := crypto.GenerateSecretKey()
	db, err := Open(t.Context(), path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	certs := []Certificate{
		{Topic: "common", Timestamp: 10, Data: []byte("user")},
		{Topic: "common", Timestamp: 10, Data: []byte("device")}, // same timestamp, another certificate
		{Topic: "realm/abc", Timestamp: 5, Data: []byte("role")},
	}
	for range 2 {
		if err := db.AddCertificates(t.Context(), certs); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Certificates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(certs, got); diff != "" {
		t.Errorf("after adding twice (-want +got):\n%s", diff)
	}
	// An old cache's copy, written directly.
	if _, err := db.db.ExecContext(t.Context(), `INSERT INTO certificates (topic, timestamp, data) VALUES (?, ?, ?)`,
		"realm/abc", 5, key.Encrypt([]byte("role"), aad("realm/abc", 5))); err != nil {
		t.Fatal(err)
	}
	got, err = db.Certificates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(certs, got); diff != "" {
		t.Errorf("with an old copy (-want +got):\n%s", diff)
	}
}

// A change saved on the device survives a power loss (synchronous=FULL) and only the
// device's user can read the cache.
func TestDurableAndPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	db, err := Open(t.Context(), path, crypto.GenerateSecretKey())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sqlitefiletest.WantDurable(t, t.Context(), db.db, path)
}

func TestEachVlob(t *testing.T) {
	key := crypto.GenerateSecretKey()
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "cache.db"), key)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	realm, other := parsec.NewVlobID(), parsec.NewVlobID()
	want := map[parsec.VlobID]Vlob{}
	var vs []Vlob
	for i := range 3 {
		v := Vlob{ID: parsec.NewVlobID(), BaseVersion: uint64(i + 1), Base: []byte{byte(i)}}
		if i == 2 {
			v.NeedSync, v.Local = true, []byte("changed")
		}
		want[v.ID] = v
		vs = append(vs, v)
	}
	if _, err := db.PutVlobs(t.Context(), realm, vs, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutVlobs(t.Context(), other, []Vlob{{ID: parsec.NewVlobID(), BaseVersion: 1, Base: []byte("other")}}, nil); err != nil {
		t.Fatal(err)
	}

	got := map[parsec.VlobID]Vlob{}
	err = db.EachVlob(t.Context(), realm, func(v Vlob) error {
		got[v.ID] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d manifests, want the workspace's %d", len(got), len(want))
	}
	for id, w := range want {
		g := got[id]
		if g.BaseVersion != w.BaseVersion || g.NeedSync != w.NeedSync || !bytes.Equal(g.Base, w.Base) || !bytes.Equal(g.Local, w.Local) {
			t.Errorf("manifest %s: got %+v, want %+v", id, g, w)
		}
	}

	stop := errors.New("stop")
	calls := 0
	err = db.EachVlob(t.Context(), realm, func(Vlob) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("fn failing: %d calls, %v; want 1 call and its error", calls, err)
	}
}

// The cache answers what a workspace opened without reading all its manifests asks: the
// versions of some entries, those pending and whether they are folders, the newest, and the
// entries the next sync looks at again, each for its own workspace only.
func TestVlobQueries(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "cache.db"), crypto.GenerateSecretKey())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	realm, other := parsec.NewVlobID(), parsec.NewVlobID()
	folder := Vlob{ID: parsec.NewVlobID(), NeedSync: true, Local: []byte("f"), Folder: true, Updated: 30}
	file := Vlob{ID: parsec.NewVlobID(), BaseVersion: 4, Base: []byte("a"), Updated: 50}
	pending := Vlob{ID: parsec.NewVlobID(), BaseVersion: 2, Base: []byte("b"), NeedSync: true, Local: []byte("c"), Updated: 40}
	missing := []parsec.VlobID{parsec.NewVlobID(), parsec.NewVlobID()}
	if _, err := db.PutVlobs(t.Context(), realm, []Vlob{folder, file, pending}, &Checkpoint{At: 7, Recheck: missing}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.PutVlobs(t.Context(), other, []Vlob{{ID: parsec.NewVlobID(), NeedSync: true, Local: []byte("o"), Updated: 90}}, &Checkpoint{At: 1, Recheck: []parsec.VlobID{file.ID}}); err != nil {
		t.Fatal(err)
	}

	versions := map[parsec.VlobID]uint64{}
	if err := db.Versions(t.Context(), realm, []parsec.VlobID{file.ID, pending.ID, missing[0]}, func(id parsec.VlobID, v uint64) { versions[id] = v }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[parsec.VlobID]uint64{file.ID: 4, pending.ID: 2}, versions); diff != "" {
		t.Errorf("Versions (-want +got):\n%s", diff)
	}
	got := map[parsec.VlobID]bool{}
	if err := db.Pending(t.Context(), realm, func(id parsec.VlobID, isFolder bool) error { got[id] = isFolder; return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[parsec.VlobID]bool{folder.ID: true, pending.ID: false}, got); diff != "" {
		t.Errorf("Pending (-want +got):\n%s", diff)
	}
	if has, err := db.HasPending(t.Context(), realm); err != nil || !has {
		t.Errorf("HasPending: %v, %v", has, err)
	}
	var newest []parsec.VlobID
	err = db.Newest(t.Context(), realm, func(v Vlob) bool {
		newest = append(newest, v.ID)
		return len(newest) < 2
	})
	if err != nil || !slices.Equal(newest, []parsec.VlobID{file.ID, pending.ID}) {
		t.Errorf("Newest: %v, %v; want the file, then the pending one", newest, err)
	}
	gotMissing, err := db.Recheck(t.Context(), realm)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sortIDs(missing), sortIDs(gotMissing)); diff != "" {
		t.Errorf("Recheck (-want +got):\n%s", diff)
	}

	// A checkpoint adds entries to look at again; with Replace, it replaces them.
	added := parsec.NewVlobID()
	if _, err := db.PutVlobs(t.Context(), realm, nil, &Checkpoint{At: 7, Recheck: []parsec.VlobID{added}}); err != nil {
		t.Fatal(err)
	}
	if gotMissing, err := db.Recheck(t.Context(), realm); err != nil || len(gotMissing) != 3 {
		t.Errorf("Recheck after one more: %v, %v", gotMissing, err)
	}
	// Pushed: nothing pending; a checkpoint replacing the entries to look at again with
	// none clears them.
	pending.NeedSync, pending.Local, folder.NeedSync, folder.Base, folder.Local = false, nil, false, []byte("f"), nil
	if _, err := db.PutVlobs(t.Context(), realm, []Vlob{folder, pending}, &Checkpoint{At: 8, Replace: true}); err != nil {
		t.Fatal(err)
	}
	if has, err := db.HasPending(t.Context(), realm); err != nil || has {
		t.Errorf("HasPending after the push: %v, %v", has, err)
	}
	if gotMissing, err := db.Recheck(t.Context(), realm); err != nil || len(gotMissing) != 0 {
		t.Errorf("Recheck after a sync that found all: %v, %v", gotMissing, err)
	}
	if gotMissing, err := db.Recheck(t.Context(), other); err != nil || len(gotMissing) != 1 {
		t.Errorf("the other workspace's entries to look at again: %v, %v", gotMissing, err)
	}
	calls := 0
	if err := db.Newest(t.Context(), parsec.NewVlobID(), func(Vlob) bool { calls++; return true }); calls != 0 || err != nil {
		t.Errorf("Newest of an empty workspace: %d calls, %v", calls, err)
	}
}

// MoveCheckpoint moves a workspace's checkpoint only from the value given, only forward;
// a workspace never pulled starts at 0.
func TestMoveCheckpoint(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "cache.db"), crypto.GenerateSecretKey())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	realm, fresh := parsec.NewVlobID(), parsec.NewVlobID()
	if _, err := db.PutVlobs(ctx, realm, nil, &Checkpoint{At: 7}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		realm    parsec.VlobID
		from, to uint64
		moved    bool
		want     uint64
	}{
		{realm, 6, 9, false, 7},       // another process moved it meanwhile
		{realm, 7, 7, false, 7},       // not forward
		{realm, 7, 5, false, 7},       // back
		{realm, 7, 1 << 63, false, 7}, // beyond what the cache stores
		{realm, 7, 9, true, 9},
		{fresh, 3, 5, false, 0},
		{fresh, 0, 4, true, 4},
		{fresh, 0, 6, false, 4},
	} {
		moved, err := db.MoveCheckpoint(ctx, tc.realm, tc.from, tc.to)
		if err != nil || moved != tc.moved {
			t.Errorf("MoveCheckpoint from %d to %d: %v, %v; want %v", tc.from, tc.to, moved, err, tc.moved)
		}
		if got, err := db.Checkpoint(ctx, tc.realm); err != nil || got != tc.want {
			t.Errorf("after a move from %d to %d: checkpoint %d, %v; want %d", tc.from, tc.to, got, err, tc.want)
		}
	}
}

func sortIDs(ids []parsec.VlobID) []parsec.VlobID {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b parsec.VlobID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// Processes of one device (the GUI, the CLI, a mount) may open its cache for the first time
// at once: each opens it, none is refused with "database is locked". Each open here has its
// own connection, as a process would.
func TestFirstOpenedAtOnce(t *testing.T) {
	key := crypto.GenerateSecretKey()
	for round := range 200 {
		path := filepath.Join(t.TempDir(), "local.db")
		errs := make(chan error, 4)
		for range cap(errs) {
			go func() {
				db, err := Open(t.Context(), path, key)
				if err == nil {
					_, err = db.Certificates(t.Context())
					db.Close()
				}
				errs <- err
			}()
		}
		for range cap(errs) {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

// A cache whose manifests an earlier version kept WITHOUT ROWID opens with them in a rowid
// table: every row as it was, the indexes made again.
func TestVlobsTableOfAnEarlierVersion(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "cache.db")
	key := crypto.GenerateSecretKey()
	db, err := Open(ctx, path, key)
	if err != nil {
		t.Fatal(err)
	}
	realm := parsec.NewVlobID()
	want := map[parsec.VlobID]Vlob{}
	var vs []Vlob
	for i := range 40 {
		v := Vlob{ID: parsec.NewVlobID(), BaseVersion: uint64(i + 1), Base: bytes.Repeat([]byte{byte(i)}, 100+i*500),
			Folder: i%2 == 0, Updated: parsec.DateTime(i)}
		if i%3 == 0 {
			v.NeedSync, v.Local = true, []byte("changed "+strconv.Itoa(i))
		}
		want[v.ID] = v
		vs = append(vs, v)
	}
	if _, err := db.PutVlobs(ctx, realm, vs, nil); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE old (realm BLOB NOT NULL, vlob_id BLOB NOT NULL, base_version INTEGER NOT NULL, need_sync INTEGER NOT NULL,
			base BLOB, local BLOB, folder INTEGER, updated INTEGER, PRIMARY KEY (realm, vlob_id)) STRICT, WITHOUT ROWID`,
		`INSERT INTO old SELECT realm, vlob_id, base_version, need_sync, base, local, folder, updated FROM vlobs`,
		`DROP TABLE vlobs`, `ALTER TABLE old RENAME TO vlobs`,
	} {
		if _, err := db.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	db, err = Open(ctx, path, key)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var table string
	var indexes int
	if err := db.db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'vlobs'`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	if err := db.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'vlobs' AND name LIKE 'vlobs\_%' ESCAPE '\'`).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ToUpper([]byte(table)), []byte("WITHOUT ROWID")) || indexes != 3 {
		t.Errorf("after opening: table %q with %d indexes of ours, want a rowid table and 3", table, indexes)
	}
	got := map[parsec.VlobID]Vlob{}
	ids := slices.Collect(maps.Keys(want))
	if err := db.GetVlobs(ctx, realm, ids, func(v Vlob) error { got[v.ID] = v; return nil }); err != nil {
		t.Fatal(err)
	}
	for id, w := range want {
		g := got[id]
		if g.BaseVersion != w.BaseVersion || g.NeedSync != w.NeedSync || !bytes.Equal(g.Base, w.Base) || !bytes.Equal(g.Local, w.Local) {
			t.Errorf("manifest %s after the change of table: got version %d, %d+%d bytes, want %d, %d+%d", id, g.BaseVersion, len(g.Base), len(g.Local), w.BaseVersion, len(w.Base), len(w.Local))
		}
	}
	pending, err := db.HasPending(ctx, realm)
	if err != nil || !pending {
		t.Errorf("HasPending = %v, %v; want the changes kept", pending, err)
	}
}

// Manifests asked for by ID come back whatever their number (getBatch a query, the full
// queries prepared once), those the cache lacks left out, again on a second asking.
func TestManyByID(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "cache.db"), crypto.GenerateSecretKey())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	realm := parsec.NewVlobID()
	vs := make([]Vlob, 2*getBatch+37)
	ids := make([]parsec.VlobID, 0, len(vs)+1)
	for i := range vs {
		vs[i] = Vlob{ID: parsec.NewVlobID(), BaseVersion: uint64(i + 1), Base: []byte(strconv.Itoa(i))}
		ids = append(ids, vs[i].ID)
	}
	if _, err := db.PutVlobs(ctx, realm, vs, nil); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, parsec.NewVlobID()) // not in the cache
	for round := range 2 {
		got := map[parsec.VlobID]string{}
		if err := db.GetVlobs(ctx, realm, ids, func(v Vlob) error { got[v.ID] = string(v.Base); return nil }); err != nil {
			t.Fatal(err)
		}
		versions := map[parsec.VlobID]uint64{}
		if err := db.Versions(ctx, realm, ids, func(id parsec.VlobID, v uint64) { versions[id] = v }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(vs) || len(versions) != len(vs) {
			t.Fatalf("round %d: %d manifests and %d versions, want %d", round, len(got), len(versions), len(vs))
		}
		for i, v := range vs {
			if got[v.ID] != strconv.Itoa(i) || versions[v.ID] != uint64(i+1) {
				t.Fatalf("round %d: manifest %d read as %q, version %d", round, i, got[v.ID], versions[v.ID])
			}
		}
	}
}
