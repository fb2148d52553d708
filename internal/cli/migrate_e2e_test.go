package cli

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/testenv"
	"github.com/parsec-go/parsec/internal/testenv/minio"
)

// A deployment on the embedded stores (SQLite, files) is copied into PostgreSQL and an S3
// bucket (MinIO); a copy run again skips everything; a server on the new stores, at the
// same address, serves the same organization: its member reads their file back.
func TestServerMigrate(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	blocks := minioBucket(t, "parsec-migrate")

	w := newWorld(t)
	alice := w.bootstrap("alice@example.com", "Alice")
	w.as(alice, "workspace", "create", "Docs").ok()
	big := make([]byte, 3<<20+5)
	for i := range big {
		big[i] = byte(i*7 + i/1000)
	}
	local := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(local, big, 0o644)
	for range 2 {
		w.as(alice, "cp", local, "Docs:/").ok() // two versions
	}
	w.as(alice, "invite", "user", "bob@example.com").ok()

	// The source server stops first; the copy then runs twice.
	w.server.cmd.Process.Signal(os.Interrupt)
	if code := w.server.wait(); code != exitOK {
		t.Fatalf("the server exited with code %d:\n%s", code, w.server)
	}
	args := []string{"server", "migrate", "--from", "sqlite:" + filepath.Join(w.dataDir, "metadata.db"),
		"--from-blockstore", "disk:" + filepath.Join(w.dataDir, "blocks"), "--to", dsn, "--to-blockstore", blocks}
	missing := filepath.Join(t.TempDir(), "missing.db")
	w.parsec("", "server", "migrate", "--from", "sqlite:"+missing, "--from-blockstore", "disk:"+filepath.Join(w.dataDir, "blocks"),
		"--to", dsn, "--to-blockstore", blocks).wantFailure(exitUsage, `--from "sqlite:.*missing\.db": .*no such file`)
	if _, err := os.Stat(missing); err == nil {
		t.Error("migrate created the missing source database")
	}
	first := w.parsec("", args...)
	out := first.ok()
	wantLines(t, first.stderr.String(), `^Organization Acme: copied \(1 users, 1 devices, \d+ certificates, 1 invitations, \d workspaces, \d+ file and folder versions, [1-9]\d* blocks\)\.$`)
	if !regexp.MustCompile(`^1 organizations \(1 copied, 0 already there\), (\d+) blocks \(\d+ copied, 0 already there\): all identical in both stores \(\d+ blocks checked by SHA-256\)\.\n$`).MatchString(out) {
		t.Errorf("first copy:\n%s", first)
	}
	again := w.parsec("", args...)
	if out := again.ok(); !regexp.MustCompile(`^1 organizations \(0 copied, 1 already there\), (\d+) blocks \(0 copied, \d+ already there\)`).MatchString(out) {
		t.Errorf("second copy:\n%s", again)
	}

	// A server on the new stores, at the same address.
	addr := strings.TrimPrefix(w.url, "http://")
	srv := w.start("", "server", "run", "--dev", "--addr", addr, "--data-dir", t.TempDir(), "--db", dsn, "--blockstore", blocks)
	srv.expect(srv.stderr, `^  URL: +http://`)
	t.Cleanup(func() {
		// SIGINT comes from the test's context, done by now (see newWorldFor).
		if code := srv.wait(); code != exitOK {
			t.Errorf("the server on the new stores exited with code %d:\n%s", code, srv)
		}
	})
	if got := w.as(alice, "cat", "Docs:/big.bin").ok(); got != string(big) {
		t.Errorf("big.bin read back: %d bytes, want %d, identical", len(got), len(big))
	}
	if h := w.as(alice, "history", "Docs:/big.bin").ok(); strings.Count(h, "\n") != 2 {
		t.Errorf("history on the new stores:\n%s", h)
	}
}

// minioBucket returns the --blockstore of a bucket of the shared MinIO server, and gives the
// processes the test starts its credentials (in their environment).
func minioBucket(t *testing.T, bucket string) string {
	store := minio.Shared(t)
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": minio.AccessKey, "AWS_SECRET_ACCESS_KEY": minio.SecretKey,
		"AWS_REGION": "us-east-1", "AWS_CA_BUNDLE": "", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true"} {
		t.Setenv(k, v)
	}
	return "s3://" + bucket + "?endpoint=" + url.QueryEscape(store.Endpoint) + "&region=us-east-1"
}
