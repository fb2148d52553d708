//go:build unix

package device

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
)

// What is not a regular file is refused, not read for ever: a file without end given as a
// recovery file (/dev/zero), a named pipe among the device files (which no one writes).
func TestNotRegularFiles(t *testing.T) {
	dir := t.TempDir()
	a := sampleLocal("Acme", "alice@example.com", "laptop")
	if err := Save(Path(dir, a.DeviceID), a, []byte("pw"), 1); err != nil {
		t.Fatal(err)
	}
	pipe := filepath.Join(dir, "devices", "pipe.keys")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Skipf("no named pipe here: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		files, errs := List(dir)
		if len(files) != 1 || len(errs) != 1 || parsec.KindOf(errs[0]) != parsec.Invalid {
			t.Errorf("List beside a named pipe: %d files, errors %v; want the device and the pipe refused", len(files), errs)
		}
		if _, err := Load("/dev/zero"); parsec.KindOf(err) != parsec.Invalid {
			t.Errorf("Load(/dev/zero) = %v, want kind Invalid", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("reading /dev/zero and listing beside a named pipe did not end in 30 s")
	}
}
