package client_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/testenv"
)

// TestLoadManyEntriesOneDamaged: a workspace of more entries than one decoding batch is
// read back whole from the local cache by another process of the device, except an entry
// whose local copy is damaged, which is left out and said.
func TestLoadManyEntriesOneDamaged(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	files := writeMany(t, aw, 600)
	damaged := stat(t, aw, "/f0123")

	db, err := localdb.Open(t.Context(), cachePath(p.alice), p.alice.Device.LocalKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.PutVlobs(t.Context(), id, []localdb.Vlob{{ID: damaged.ID, BaseVersion: damaged.Version, Base: []byte("not a manifest")}}, nil)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	w, warned := openWorkspaceAgain(t, p.alice, id)
	all, err := w.Walk("/")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range all {
		seen[e.Path] = true
	}
	for name := range files {
		if want := name != "/f0123"; seen[name] != want {
			t.Errorf("%s listed: %v, want %v", name, seen[name], want)
		}
	}
	if said := warned.all(); len(said) != 1 || !strings.Contains(said[0], "cannot be read, it is left out") {
		t.Errorf("warnings %q, want one about the damaged entry", said)
	}
}

// writeMany writes n small files in the root of w, named /f0000 and on, and syncs; it
// returns them.
func writeMany(t *testing.T, w *client.Workspace, n int) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for i := range n {
		files[fmt.Sprintf("/f%04d", i)] = []byte{byte(i)}
	}
	write(t, w, files)
	syncWS(t, w)
	return files
}

// warnings records what a client says it skips.
type warnings struct {
	mu   sync.Mutex
	said []string
}

func (w *warnings) add(m string) { w.mu.Lock(); w.said = append(w.said, m); w.mu.Unlock() }

func (w *warnings) all() []string { w.mu.Lock(); defer w.mu.Unlock(); return slices.Clone(w.said) }

// openAgain opens the user's device in a second client, as another process of the device
// would, recording what it says it skips; it is closed at the end of the test.
func openAgain(t *testing.T, u *testenv.User) (*client.Client, *warnings) {
	t.Helper()
	w := &warnings{}
	c, err := client.Open(t.Context(), u.ConfigDir, u.Device, client.Options{Warn: w.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, w
}

// cachePath is where u's device keeps its local cache.
func cachePath(u *testenv.User) string {
	return filepath.Join(u.ConfigDir, "data", u.Device.DeviceID.String(), "local.db")
}

// openWorkspaceAgain opens workspace id in a second client of u's device (see openAgain).
func openWorkspaceAgain(t *testing.T, u *testenv.User, id parsec.VlobID) (*client.Workspace, *warnings) {
	t.Helper()
	c, warned := openAgain(t, u)
	w, err := c.Workspace(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return w, warned
}
