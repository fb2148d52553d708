package server

import (
	"os/exec"
	"strings"
	"testing"
)

// The server sees its stores, its event bus and its mail sender through their interfaces
// only: the concrete backends are opened in package serve. A package of the server that
// imports a backend brings its client library with it, which this test catches.
func TestImportsNoBackend(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, backend := range []string{"jackc/pgx", "net/smtp", "sqlite", "aws", "minio"} {
			if strings.Contains(pkg, backend) {
				t.Errorf("package server depends on %s", pkg)
			}
		}
	}
}
