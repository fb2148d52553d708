package mount

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
)

// benchSize is the file of the sequential benchmarks: PARSEC_BENCH_SIZE bytes (the issue
// asks for 1 GiB: PARSEC_BENCH_SIZE=1073741824), 64 MiB by default to keep a run short.
var benchSize = func() int64 {
	if n, err := strconv.ParseInt(os.Getenv("PARSEC_BENCH_SIZE"), 10, 64); err == nil && n > 0 {
		return n
	}
	return 64 << 20
}()

// peakHeap samples the heap in use while f runs, and returns its peak in MiB.
func peakHeap(f func()) float64 {
	var peak uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	return float64(peak) / (1 << 20)
}

// BenchmarkMount compares sequential writes and reads of one file through the mount with
// the client's own Upload and Download, and times creating small files through the mount.
func BenchmarkMount(b *testing.B) {
	p := newPeople(b)
	id := createWorkspace(b, p.alice, "Bench")
	dir, _ := mountFor(b, p.alice, id)
	w, err := p.alice.Workspace(b.Context(), id)
	must(b, err)
	local := filepath.Join(b.TempDir(), "big")
	data := make([]byte, benchSize)
	rand.Read(data)
	must(b, os.WriteFile(local, data, 0o644))

	b.Run("write/mount", func(b *testing.B) {
		b.SetBytes(benchSize)
		for i := 0; b.Loop(); i++ {
			must(b, os.WriteFile(filepath.Join(dir, fmt.Sprint("w", i)), data, 0o644))
		}
	})
	b.Run("write/upload", func(b *testing.B) {
		b.SetBytes(benchSize)
		for i := 0; b.Loop(); i++ {
			_, err := w.Upload(b.Context(), local, fmt.Sprint("/u", i), client.CopyOptions{NoSync: true})
			must(b, err)
		}
	})
	b.Run("read/mount", func(b *testing.B) {
		b.SetBytes(benchSize)
		var peak float64
		for b.Loop() {
			peak = max(peak, peakHeap(func() {
				f, err := os.Open(filepath.Join(dir, "w0"))
				must(b, err)
				n, err := io.Copy(io.Discard, f) // sequentially, as a program would
				f.Close()
				must(b, err)
				if n != benchSize {
					b.Fatalf("read %d bytes", n)
				}
			}))
		}
		b.ReportMetric(peak, "peak-heap-MiB")
	})
	b.Run("read/download", func(b *testing.B) {
		b.SetBytes(benchSize)
		for i := 0; b.Loop(); i++ {
			_, err := w.Download(b.Context(), "/w0", filepath.Join(b.TempDir(), fmt.Sprint("d", i)), client.CopyOptions{})
			must(b, err)
		}
	})
	b.Run("create-small-files/mount", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			must(b, os.WriteFile(filepath.Join(dir, fmt.Sprint("small", i)), []byte("small file"), 0o644))
		}
	})
}
