package memlimit

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int64
	}{
		{0, Base},
		{100 << 20, Base},
		{Base / 3 * 2, Base},
		{200 << 20, 300 << 20},
		{math.MaxUint64, math.MaxInt64 / 2 / 2 * 3},
	} {
		if got := Limit(tc.live); got != tc.want {
			t.Errorf("Limit(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

// limit is the runtime's current memory limit.
func limit() int64 { return debug.SetMemoryLimit(-1) }

func TestGovern(t *testing.T) {
	old := debug.SetMemoryLimit(math.MaxInt64) // as without GOMEMLIMIT
	defer debug.SetMemoryLimit(old)
	end := Govern()
	if got := limit(); got != Base { // the live heap is small
		t.Errorf("limit %d once governed, want %d", got, Base)
	}
	// The limit follows a live heap that grows past Base.
	big := make([]byte, Base)
	for i := range big {
		big[i] = byte(i)
	}
	runtime.GC()
	deadline := time.Now().Add(5 * time.Second)
	for limit() < Base*3/2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := limit(); got < Base*3/2 {
		t.Errorf("limit %d with a live heap of more than %d, want at least half again", got, Base)
	}
	runtime.KeepAlive(big)

	// Overlapping users: the limit stays until the last one ends.
	end2 := Govern()
	end()
	end() // a second call does nothing
	if limit() == math.MaxInt64 {
		t.Error("the limit was lifted while another user governs")
	}
	end2()
	if got := limit(); got != math.MaxInt64 {
		t.Errorf("limit %d once every user ended, want none again", got)
	}
}

// A limit the user set (GOMEMLIMIT) is theirs.
func TestGovernKeepsTheUsersLimit(t *testing.T) {
	old := debug.SetMemoryLimit(1 << 40)
	defer debug.SetMemoryLimit(old)
	end := Govern()
	time.Sleep(2 * every)
	if got := limit(); got != 1<<40 {
		t.Errorf("limit %d, want the user's %d", got, int64(1<<40))
	}
	end()
	if got := limit(); got != 1<<40 {
		t.Errorf("limit %d after Govern ended, want the user's %d", got, int64(1<<40))
	}
}
