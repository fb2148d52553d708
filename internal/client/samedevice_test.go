package client_test

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
)

// Several processes of one device (the CLI, the GUI, a mount) share its local cache: files
// they write at the same time, each acknowledged, are all kept.
func TestSameDeviceConcurrentWrites(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, err := p.ac.CreateWorkspace(ctx, "Docs")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := p.alice.Open(t) // another process of the same device
			w, err := c.Workspace(ctx, id)
			if err == nil {
				err = w.Change(ctx, false, func() error {
					return w.WriteFiles(ctx, []client.FileSource{source(fmt.Sprintf("/f%d.txt", i), []byte(fmt.Sprintf("content %d", i)))}, nil)
				})
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	check := p.alice.Open(t)
	w, err := check.Workspace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	syncWS(t, w)
	if os.Getenv("DEBUG_SAMEDEVICE") != "" {
		h, _ := w.History(ctx, "/")
		for _, v := range h {
			es, _ := w.At(v.Timestamp).List(ctx, "/")
			var names []string
			for _, e := range es {
				names = append(names, e.Name)
			}
			t.Logf("root v%d by %s: %v", v.Version, v.Author, names)
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Logf("writer %d: %v", i, err)
			continue
		}
		if got := string(read(t, w, fmt.Sprintf("/f%d.txt", i))); got != fmt.Sprintf("content %d", i) {
			t.Errorf("f%d.txt = %q", i, got)
		}
	}
}
