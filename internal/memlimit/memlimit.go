// Package memlimit keeps a client process's memory close to what it really uses.
//
// Go's collector lets the heap grow to twice what was live after the last collection
// (GOGC=100): a command whose live heap is 100 MB (copying a tree of 300,000 files, say)
// reaches 250 MB of resident memory, most of it garbage not collected yet. Govern gives the
// runtime a soft memory limit (debug.SetMemoryLimit) of Base, or of half again the live
// heap when that is more, followed as the live heap changes: the collector then runs
// earlier while the live heap is small, and never works without end on a live heap that
// grows past the limit. A limit set by the user (GOMEMLIMIT) is left alone.
package memlimit

import (
	"math"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// Base is the least limit: what a client command may hold (issue 16 asks for under 200 MB
// of resident memory; the limit covers the Go runtime's memory, not the program's code).
const Base = 160 << 20

// every is how often the live heap is read to follow it.
const every = 100 * time.Millisecond

// Limit is the memory limit for a live heap of live bytes.
func Limit(live uint64) int64 {
	return max(Base, int64(min(live, math.MaxInt64/2)/2*3))
}

var (
	mu    sync.Mutex
	users int
	prev  int64         // the limit before Govern
	stop  chan struct{} // closed to stop following the live heap
	done  chan struct{} // closed once stopped
)

// Govern sets the limit and follows the live heap until the function it returns is called
// (once the last of overlapping calls ends, the limit is what it was before).
func Govern() (end func()) {
	mu.Lock()
	defer mu.Unlock()
	users++
	if users == 1 {
		prev = debug.SetMemoryLimit(-1)
		if prev == math.MaxInt64 { // no GOMEMLIMIT
			debug.SetMemoryLimit(Base)
			stop, done = make(chan struct{}), make(chan struct{})
			go follow(stop, done)
		}
	}
	var once sync.Once
	return func() { once.Do(release) }
}

func release() {
	mu.Lock()
	defer mu.Unlock()
	users--
	if users == 0 && stop != nil {
		close(stop)
		<-done
		stop, done = nil, nil
		debug.SetMemoryLimit(prev)
	}
}

func follow(stop, done chan struct{}) {
	defer close(done)
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		metrics.Read(live)
		if live[0].Value.Kind() == metrics.KindUint64 {
			debug.SetMemoryLimit(Limit(live[0].Value.Uint64()))
		} else {
			debug.SetMemoryLimit(Base)
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}
