package client_test

import (
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/testenv"
)

// hangingRT forwards requests until offline is set; then each request waits 2 s (a
// black-holed server: dial timeout) and fails.
type hangingRT struct {
	offline atomic.Bool
	calls   atomic.Int64
}

func (h *hangingRT) RoundTrip(r *http.Request) (*http.Response, error) {
	if h.offline.Load() {
		h.calls.Add(1)
		select {
		case <-time.After(2 * time.Second):
		case <-r.Context().Done():
		}
		return nil, errors.New("dial tcp: i/o timeout")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// An empty file is written offline at once, as before servers asked for a block size:
// the size is asked only once a file has a byte to upload, not of a server that does not
// answer (here each request waits 2 s, as a dial to a black-holed address waits 10).
func TestEmptyFileWrittenWithoutAskingTheServer(t *testing.T) {
	ctx := t.Context()
	srv := testenv.NewServer(t)
	alice := srv.Bootstrap(t, "Acme", "alice@example.com", "Alice")
	rt := &hangingRT{}
	c, err := client.Open(ctx, alice.ConfigDir, alice.Device, client.Options{HTTPClient: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.CreateWorkspace(ctx, "Docs")
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Workspace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	rt.offline.Store(true)
	start := time.Now()
	for _, p := range []string{"/a", "/b", "/c"} {
		if err := w.WriteFiles(ctx, []client.FileSource{source(p, nil)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("3 empty files written offline in %v, %d requests tried", time.Since(start), rt.calls.Load())
	if rt.calls.Load() != 0 {
		t.Errorf("writing empty files offline asked the server %d times", rt.calls.Load())
	}
}
