package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// runMain runs a command line in this process and returns its exit code and stderr.
func runMain(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code := Main(ctx, args, strings.NewReader(""), &out, &errb)
	return code, errb.String()
}

// TestDurationInDaysBounded: days beyond what time.Duration holds wrapped around, and
// "archive --delete-in 213534d" (585 years) planned the deletion 30 days away. Now a
// duration is at most a hundred years.
func TestDurationInDaysBounded(t *testing.T) {
	for _, s := range []string{"36501d", "106752d", "213534d", "9223372036854775807d", "876001h"} {
		if d, err := parseDuration(s); err == nil {
			t.Errorf("parseDuration(%q) = %v, want an error", s, d)
		}
	}
	if d, err := parseDuration("36500d"); err != nil || d != 36500*24*time.Hour {
		t.Errorf("parseDuration(36500d) = %v, %v", d, err)
	}
}

// TestAdminMalformedReply: a reply to the administration API that is not what it should be
// is exit code 6 (the server sent invalid data); it was 2 (bad input).
func TestAdminMalformedReply(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<html>not parsec</html>"))
	}))
	defer srv.Close()
	code, stderr := runMain(t, "org", "status", "Acme", "--addr", srv.URL, "--admin-token", "x", "--config-dir", t.TempDir())
	if code != exitTampered {
		t.Errorf("exit code %d, want %d; stderr: %s", code, exitTampered, stderr)
	}
}

// TestServerRunBadConfigExitCode: a server configuration that cannot be right is bad input
// (exit code 2), like a bad --log-format; these were 1.
func TestServerRunBadConfigExitCode(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--db", "sqlite:"},
		{"--db", "mysql://db/parsec"},
		{"--blockstore", "disk:"},
		{"--tls-key", "x"},
		{"--addr", "127.0.0.1:99999"},
		{"--admin-token", ""},
	} {
		base := []string{"server", "run", "--admin-token", "x", "--addr", "127.0.0.1:0", "--data-dir", dir, "--config-dir", dir}
		code, stderr := runMain(t, append(base, args...)...)
		if code != exitUsage {
			t.Errorf("server run %v: exit code %d, want %d; stderr: %s", args, code, exitUsage, stderr)
		}
	}
}
