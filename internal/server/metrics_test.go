package server

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/blockstore/disk"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlite"
	"github.com/parsec-go/parsec/internal/testenv/smallfs"
)

// After a block is written and read, and a missing one asked for, with an event stream open,
// /metrics shows the requests by command and status, their latencies, the bytes through the
// block store and the open stream.
func TestMetrics(t *testing.T) {
	w := newWorld(t, "alice:admin")
	realm := w.newRealm(t, "alice:owner")
	alice := w.user("alice")
	block := protocol.BlockData{BlockID: parsec.NewBlockID(), Data: []byte("seven b")}
	wantStatus(t, w.createBlocks(t, alice, realm, 1, block), protocol.StatusOK)
	_, err := w.readBlocks(t, alice, realm, block.BlockID)
	wantStatus(t, err, protocol.StatusOK)
	_, err = w.readBlocks(t, alice, realm, parsec.NewBlockID())
	if err == nil {
		t.Fatal("reading a missing block succeeded")
	}
	if r := w.do(t, w.newRequest(t, http.MethodGet, "/healthz", nil)); r.code != http.StatusOK {
		t.Fatalf("healthz: %d %s", r.code, r.body)
	}

	w.openEvents(t, alice, "") // open while the metrics are read

	if r := w.adminRequest(t, http.MethodGet, "/metrics", "Bearer wrong", ""); r.code != http.StatusForbidden {
		t.Errorf("metrics with a wrong token: %d, want 403", r.code)
	}
	r := w.adminRequest(t, http.MethodGet, "/metrics", "Bearer "+testAdminToken, "")
	if r.code != http.StatusOK {
		t.Fatalf("metrics: %d %s", r.code, r.body)
	}
	text := string(r.body)
	for _, want := range []string{
		`parsec_requests_total{command="block_create",status="ok"} 1`,
		`parsec_requests_total{command="block_read",status="ok"} 1`,
		`parsec_requests_total{command="block_read",status="block_not_found"} 1`,
		`parsec_requests_total{command="healthz",status="200"} 1`,
		`parsec_request_duration_seconds_count{command="block_create"} 1`,
		`parsec_block_bytes_total{direction="in"} 7`,
		`parsec_block_bytes_total{direction="out"} 7`,
		`parsec_event_streams 1`,
		`parsec_store_errors_total{store="blocks"} 0`,
		`parsec_store_errors_total{store="metadata"} 0`,
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(text) {
			t.Errorf("no line %q in the metrics:\n%s", want, grepParsec(text))
		}
	}
	if !regexp.MustCompile(`(?m)^parsec_requests_total\{command="admin",status="200"\} [1-9]`).MatchString(text) {
		t.Errorf("no administration request counted:\n%s", grepParsec(text))
	}
}

func grepParsec(text string) string {
	var lines []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "parsec_") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// /healthz answers 503 naming the block store when it fails, and counts its failure.
func TestHealthBlockStoreDown(t *testing.T) {
	w := startServer(t, func(c *Config) { c.Blocks = failingBlocks{c.Blocks} })
	r := w.do(t, w.newRequest(t, http.MethodGet, "/healthz", nil))
	if r.code != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "block store unavailable") || strings.Contains(string(r.body), "metadata") {
		t.Errorf("healthz: %d %q, want 503 naming the block store only", r.code, r.body)
	}
	m := w.adminRequest(t, http.MethodGet, "/metrics", "Bearer "+testAdminToken, "")
	if !strings.Contains(string(m.body), `parsec_store_errors_total{store="blocks"} 1`) {
		t.Errorf("the block store's failure is not counted:\n%s", grepParsec(string(m.body)))
	}
}

type failingBlocks struct{ blockstore.Store }

func (failingBlocks) Get(context.Context, parsec.OrganizationID, parsec.BlockID) ([]byte, error) {
	return nil, errors.New("disk on fire")
}

// /healthz answers 503 when the disk of the embedded stores is full, though they still
// answer reads (every write fails: an operator alerting on /healthz must be told), naming
// each store; once room is freed, 200 again.
func TestHealthDiskFull(t *testing.T) {
	dir := smallfs.New(t, 64<<20)
	w := startServer(t, func(c *Config) {
		store, err := sqlite.Open(t.Context(), filepath.Join(dir, "metadata.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		blocks, err := disk.Open(filepath.Join(dir, "blocks"))
		if err != nil {
			t.Fatal(err)
		}
		c.Store, c.Blocks = store, blocks
	})
	if r := w.do(t, w.newRequest(t, http.MethodGet, "/healthz", nil)); r.code != http.StatusOK {
		t.Fatalf("healthz with room: %d %q", r.code, r.body)
	}
	free := smallfs.Fill(t, dir)
	r := w.do(t, w.newRequest(t, http.MethodGet, "/healthz", nil))
	for _, want := range []string{"metadata store: its disk is full", "block store: its disk is full"} {
		if r.code != http.StatusServiceUnavailable || !strings.Contains(string(r.body), want) {
			t.Errorf("healthz on a full disk: %d %q, want 503 saying %q", r.code, r.body, want)
		}
	}
	free()
	if r := w.do(t, w.newRequest(t, http.MethodGet, "/healthz", nil)); r.code != http.StatusOK {
		t.Errorf("healthz once room is freed: %d %q", r.code, r.body)
	}
}
