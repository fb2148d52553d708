package client_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/localdb"
)

// TestLoadManyEntriesOneDamaged: a workspace of more entries than one decoding batch is
// read back whole from the local cache by another process of the device, except an entry
// whose local copy is damaged, which is left out and said.
func TestLoadManyEntriesOneDamaged(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	files := map[string][]byte{}
	for i := range 600 {
		files[fmt.Sprintf("/f%03d", i)] = []byte{byte(i)}
	}
	write(t, aw, files)
	syncWS(t, aw)
	damaged := stat(t, aw, "/f123")

	db, err := localdb.Open(t.Context(), filepath.Join(p.alice.ConfigDir, "data", p.alice.Device.DeviceID.String(), "local.db"), p.alice.Device.LocalKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.PutVlobs(t.Context(), id, []localdb.Vlob{{ID: damaged.ID, BaseVersion: damaged.Version, Base: []byte("not a manifest")}}, nil)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var warned []string
	again, err := client.Open(t.Context(), p.alice.ConfigDir, p.alice.Device, client.Options{Warn: func(m string) { mu.Lock(); warned = append(warned, m); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	w, err := again.Workspace(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	all, err := w.Walk("/")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range all {
		seen[e.Path] = true
	}
	for name := range files {
		if want := name != "/f123"; seen[name] != want {
			t.Errorf("%s listed: %v, want %v", name, seen[name], want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(warned) != 1 || !strings.Contains(warned[0], "cannot be read, it is left out") {
		t.Errorf("warnings %q, want one about the damaged entry", warned)
	}
}
