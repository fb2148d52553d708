package crypto

import (
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the Argon2id parameters of a password-derived key, stored beside what
// the key protects (e.g. in a device file).
type PasswordParams struct {
	MemoryKiB uint32 `cbor:"memory_kib" json:"memory_kib"`
	Time      uint32 `cbor:"time" json:"time"`
	Threads   uint8  `cbor:"threads" json:"threads"`
	Salt      []byte `cbor:"salt" json:"salt"`
}

// Default Argon2id cost: 128 MiB, 3 passes, 4 lanes (RFC 9106's recommended parallelism:
// the same memory and work as one lane, computed on up to 4 processors, about 2.5 times
// faster than one lane on 2), 16-byte salt. Files made with other parameters (one lane
// before) keep theirs: they are stored with what they protect.
const (
	defaultPasswordMemoryKiB = 128 << 10
	defaultPasswordTime      = 3
	defaultPasswordThreads   = 4
	passwordSaltSize         = 16
)

// Bounds on parameters read from untrusted files: enough to refuse a file that would make
// the derivation useless (tiny salt) or exhaust the machine (huge memory or time).
const (
	minPasswordSalt      = 16
	maxPasswordSalt      = 64
	maxPasswordThreads   = 16
	maxPasswordTime      = 16
	minPasswordMemoryKiB = 8
	maxPasswordMemoryKiB = 4 << 20 // 4 GiB
)

// weakPasswordKDF is set by TestOnlyWeakenPasswordKDF.
var weakPasswordKDF atomic.Bool

// TestOnlyWeakenPasswordKDF makes NewPasswordParams return the cheapest parameters Argon2id
// allows (8 KiB, 1 pass), so that tests creating password-protected files stay fast. Only
// tests call it; production code never does. It affects the whole process and cannot be
// undone. Keys derived with weak parameters still open later, since the parameters are
// stored with what they protect.
func TestOnlyWeakenPasswordKDF() { weakPasswordKDF.Store(true) }

// NewPasswordParams returns the default parameters with a fresh random salt.
func NewPasswordParams() PasswordParams {
	p := PasswordParams{
		MemoryKiB: defaultPasswordMemoryKiB,
		Time:      defaultPasswordTime,
		Threads:   defaultPasswordThreads,
		Salt:      RandomBytes(passwordSaltSize),
	}
	if weakPasswordKDF.Load() {
		p.MemoryKiB, p.Time, p.Threads = minPasswordMemoryKiB, 1, 1
	}
	return p
}

// Validate checks parameters read from an untrusted file.
func (p PasswordParams) Validate() error {
	switch {
	case len(p.Salt) < minPasswordSalt || len(p.Salt) > maxPasswordSalt:
		return fmt.Errorf("invalid password parameters: salt of %d bytes, want %d to %d", len(p.Salt), minPasswordSalt, maxPasswordSalt)
	case p.Threads < 1 || p.Threads > maxPasswordThreads:
		return fmt.Errorf("invalid password parameters: threads %d, want 1 to %d", p.Threads, maxPasswordThreads)
	case p.Time < 1 || p.Time > maxPasswordTime:
		return fmt.Errorf("invalid password parameters: time %d, want 1 to %d", p.Time, maxPasswordTime)
	case p.MemoryKiB < minPasswordMemoryKiB || p.MemoryKiB > maxPasswordMemoryKiB:
		return fmt.Errorf("invalid password parameters: memory %d KiB, want %d to %d", p.MemoryKiB, minPasswordMemoryKiB, maxPasswordMemoryKiB)
	case p.MemoryKiB < 8*uint32(p.Threads):
		return fmt.Errorf("invalid password parameters: memory %d KiB, want at least 8 per thread (%d threads)", p.MemoryKiB, p.Threads)
	}
	return nil
}

// DeriveFromPassword derives a key from a password with Argon2id (version 1.3). The
// parameters are validated first, since they usually come from a file.
//
// Argon2id works in p.MemoryKiB of memory (128 MiB by default), garbage once the key is
// derived: it is given back to the system before returning, so that it does not stay
// with the process for the rest of its life (a command that opens a device, then copies
// gigabytes, would otherwise hold both at its peak). It is made ready first (see
// prepareMemory).
func DeriveFromPassword(password []byte, p PasswordParams) (SecretKey, error) {
	if len(password) == 0 {
		return SecretKey{}, errors.New("derive key from password: empty password")
	}
	if err := p.Validate(); err != nil {
		return SecretKey{}, fmt.Errorf("derive key from password: %w", err)
	}
	if n := uint64(p.MemoryKiB) << 10; n <= math.MaxInt {
		prepareMemory(int(n))
	}
	var k SecretKey
	copy(k[:], argon2.IDKey(password, p.Salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(k))))
	debug.FreeOSMemory()
	return k, nil
}

// prepareMemory gives the process n bytes of heap that are already in memory, for the
// allocation of the same size that follows. Argon2id's first pass XORs each new block
// into memory it never wrote: on fresh memory, every page is faulted twice, first to the
// shared zero page for the read, then again for the write, and that second fault
// interrupts the other processors to flush their TLBs (on a virtual machine, a costly
// exit each). Writing one byte per page first faults each page once, on every processor
// (a part each); the runtime then hands the freed pages to Argon2id's allocation. On a
// 2-processor VM, deriving a key of 128 MiB took 0.37 s and 0.45 s of system time, now
// 0.2 s and 0.05 s, for every command that unlocks a device (TestPrepareMemory counts the
// faults); writing the pages took 52 ms on one processor, 28 ms on two.
func prepareMemory(n int) {
	b := make([]byte, n)
	page := os.Getpagesize()
	pages := (n + page - 1) / page
	parts := max(1, min(runtime.GOMAXPROCS(0), n>>20))
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() {
			for p := i * pages / parts; p < (i+1)*pages/parts; p++ {
				b[p*page] = 1
			}
		})
	}
	wg.Wait()
	runtime.GC()
}
