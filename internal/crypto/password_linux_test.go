//go:build !race

package crypto

import (
	"os"
	"runtime/debug"
	"syscall"
	"testing"
)

// TestPrepareMemory counts the page faults of a derivation: about as many as writing its
// memory once takes. Without prepareMemory, Argon2id's first pass reads each fresh page
// before writing it, and every page is faulted twice.
func TestPrepareMemory(t *testing.T) {
	p := PasswordParams{MemoryKiB: 64 << 10, Time: 1, Threads: 2, Salt: make([]byte, 16)}
	pages := int64(p.MemoryKiB) << 10 / int64(os.Getpagesize())
	faults := func() int64 {
		var u syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
			t.Fatal(err)
		}
		return u.Minflt
	}
	// Writing that much fresh memory once, as the baseline (the race detector's shadow
	// memory faults too). Whatever earlier tests left is given back first: the memory is
	// fresh each time.
	debug.FreeOSMemory()
	before := faults()
	prepareMemory(int(p.MemoryKiB) << 10)
	once := faults() - before
	if once < pages/2 {
		// Huge pages: a few faults either way, nothing to tell apart.
		t.Skipf("writing %d pages faulted %d times: the memory comes in huge pages here", pages, once)
	}
	debug.FreeOSMemory()
	before = faults()
	if _, err := DeriveFromPassword([]byte("password"), p); err != nil {
		t.Fatal(err)
	}
	got := faults() - before
	t.Logf("%d page faults for %d pages, written once: %d", got, pages, once)
	if got > once+pages/2 {
		t.Errorf("deriving a key of %d pages faulted %d times, writing them once %d: pages are faulted twice", pages, got, once)
	}
}
