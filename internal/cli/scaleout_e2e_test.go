package cli

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/testenv"
	"github.com/parsec-go/parsec/internal/testenv/minio"
)

// Two server processes on one PostgreSQL database and one S3 bucket (MinIO), behind a load
// balancer that sends each request to the next one: an organization is created and
// bootstrapped, a workspace made, a file larger than a block written and read back, its
// history listed, with every step served by either process.
func TestServersShareStores(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	store := minio.Shared(t)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": minio.AccessKey, "AWS_SECRET_ACCESS_KEY": minio.SecretKey,
		"AWS_REGION": "us-east-1", "AWS_CA_BUNDLE": "", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	blocks := "s3://parsec-scaleout?endpoint=" + url.QueryEscape(store.Endpoint) + "&region=us-east-1"

	// The load balancer: round robin over the backends, which start below.
	var backends []*url.URL
	var served [2]atomic.Int64
	var next atomic.Int64
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(next.Add(1)) % len(backends)
		served[i].Add(1)
		httputil.NewSingleHostReverseProxy(backends[i]).ServeHTTP(w, r)
	}))
	defer lb.Close()

	// Each server listens on a port of its own and gives the load balancer's URL in links.
	listening := `msg="server listening" addr=(\S+) `
	flags := []string{"--db", dsn, "--blockstore", blocks, "--server-url", lb.URL}
	w := newWorldFor(t, 2*time.Minute, flags...)
	first := regexp.MustCompile(listening).FindStringSubmatch(w.server.stderr.String()) // printed before the banner newWorld waited for
	if first == nil {
		t.Fatalf("no listening address:\n%s", w.server)
	}
	second := w.start("", append([]string{"server", "run", "--dev", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, flags...)...)
	secondAddr := second.expect(second.stderr, listening)[1]
	t.Cleanup(func() {
		second.cmd.Process.Signal(os.Interrupt)
		if code := second.wait(); code != exitOK {
			t.Errorf("the second server exited with code %d:\n%s", code, second)
		}
	})
	for _, addr := range []string{first[1], secondAddr} {
		backends = append(backends, &url.URL{Scheme: "http", Host: addr})
	}

	alice := w.bootstrap("alice@example.com", "Alice")
	w.as(alice, "workspace", "create", "Docs").ok()
	big := make([]byte, 3<<20+77)
	for i := range big {
		big[i] = byte(i*31 + i/4096)
	}
	local := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(local, big, 0o644)
	for range 2 {
		w.as(alice, "cp", local, "Docs:/").ok() // two versions
	}
	if got := w.as(alice, "cat", "Docs:/big.bin").ok(); got != string(big) {
		t.Errorf("big.bin read back: %d bytes, want %d, identical", len(got), len(big))
	}
	if h := w.as(alice, "history", "Docs:/big.bin").ok(); strings.Count(h, "\n") != 2 {
		t.Errorf("history:\n%s", h)
	}
	if served[0].Load() < 5 || served[1].Load() < 5 {
		t.Errorf("the servers served %d and %d requests: both should have served many", served[0].Load(), served[1].Load())
	}
}
