package testenv

import (
	"errors"
	"os"
	"os/exec"
	"testing"
)

// RequireFUSE skips a test when FUSE cannot be used here (no /dev/fuse, or no fusermount3
// from the fuse3 package), and fails it instead when PARSEC_TEST_DISALLOW_SKIP is set (as
// in CI).
func RequireFUSE(t testing.TB) {
	t.Helper()
	_, devErr := os.Stat("/dev/fuse")
	_, binErr := exec.LookPath("fusermount3")
	if err := errors.Join(devErr, binErr); err != nil {
		if os.Getenv("PARSEC_TEST_DISALLOW_SKIP") != "" {
			t.Fatalf("FUSE is needed (PARSEC_TEST_DISALLOW_SKIP is set): %v", err)
		}
		t.Skipf("FUSE is not available: %v", err)
	}
}
