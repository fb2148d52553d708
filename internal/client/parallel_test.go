package client

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// parallel runs every index once, on at most as many goroutines as there are processors.
func TestParallel(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 1000} {
		runs := make([]atomic.Int32, n)
		var running, most atomic.Int32
		parallel(n, func(i int) {
			now := running.Add(1)
			for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
			}
			runs[i].Add(1)
			runtime.Gosched()
			running.Add(-1)
		})
		for i := range runs {
			if got := runs[i].Load(); got != 1 {
				t.Fatalf("n = %d: index %d ran %d times", n, i, got)
			}
		}
		if m := int(most.Load()); m > runtime.GOMAXPROCS(0) {
			t.Fatalf("n = %d: %d at once, more than GOMAXPROCS (%d)", n, m, runtime.GOMAXPROCS(0))
		}
	}
}
