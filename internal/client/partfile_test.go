package client

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/parsec-go/parsec/internal/writeback"
)

// A downloaded file takes its name once complete, replacing what was there; one dropped
// midway leaves what was there as it was, and nothing beside it. Where the file system
// has unnamed files, one being written has no name at all; elsewhere it is written under
// a name of its own beside its target.
func TestPartFile(t *testing.T) {
	for _, unnamed := range []bool{true, false} {
		t.Run(fmt.Sprintf("unnamed=%t", unnamed), func(t *testing.T) {
			if !unnamed {
				createUnnamed = func(string) (*writeback.File, error) { return nil, errors.ErrUnsupported }
				t.Cleanup(func() { createUnnamed = writeback.CreateUnnamed })
			} else if f, err := writeback.CreateUnnamed(filepath.Join(t.TempDir(), "probe")); err != nil {
				t.Skipf("no unnamed files here: %v", err)
			} else {
				f.Close()
			}
			dir := t.TempDir()
			listed := func() []string {
				t.Helper()
				names, err := readDirNames(dir)
				if err != nil {
					t.Fatal(err)
				}
				return names
			}
			content := func(name string) string {
				t.Helper()
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					return "(" + err.Error() + ")"
				}
				return string(b)
			}
			write := func(name, s string) io.WriteCloser {
				t.Helper()
				w, err := createPart(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.WriteString(w, s); err != nil {
					t.Fatal(err)
				}
				return w
			}
			closeAndRead := func(w io.WriteCloser, name, want string) {
				t.Helper()
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				if got := content(name); got != want {
					t.Errorf("%s once closed = %q, want %q", name, got, want)
				}
			}

			// A new file: no name while written (or a part's), its own once closed.
			w := write("new.txt", "new content")
			switch names := listed(); {
			case unnamed && len(names) != 0:
				t.Errorf("while written, the folder lists %q, want nothing", names)
			case !unnamed && (len(names) != 1 || filepath.Ext(names[0]) != ".part"):
				t.Errorf("while written, the folder lists %q, want one part file", names)
			}
			closeAndRead(w, "new.txt", "new content")

			// An existing file is replaced once the new one is complete.
			w = write("new.txt", "second content")
			if got := content("new.txt"); got != "new content" {
				t.Errorf("new.txt while its replacement is written = %q", got)
			}
			closeAndRead(w, "new.txt", "second content")

			// Dropped midway: what was there stays, nothing new appears.
			w = write("new.txt", "half")
			w.(interface{ Abort() }).Abort()
			w = write("other.txt", "half")
			w.(interface{ Abort() }).Abort()
			if got := content("new.txt"); got != "second content" {
				t.Errorf("new.txt after a dropped replacement = %q", got)
			}
			if names := listed(); !slices.Equal(names, []string{"new.txt"}) {
				t.Errorf("after two dropped files the folder lists %q, want new.txt only", names)
			}

			// Something appears at the target while the file is written: replaced as well.
			w = write("raced.txt", "downloaded")
			if err := os.WriteFile(filepath.Join(dir, "raced.txt"), []byte("made meanwhile"), 0o644); err != nil {
				t.Fatal(err)
			}
			closeAndRead(w, "raced.txt", "downloaded")
			if names := listed(); !slices.Equal(names, []string{"new.txt", "raced.txt"}) {
				t.Errorf("the folder lists %q, want new.txt and raced.txt", names)
			}

			// A folder that is not there: the error names the file asked for.
			_, err := createPart(filepath.Join(dir, "missing", "f.txt"))
			if err == nil || !errors.Is(err, os.ErrNotExist) {
				t.Errorf("createPart in a missing folder: %v, want it not found", err)
			} else if want := filepath.Join(dir, "missing", "f.txt"); !errorNames(err, want) {
				t.Errorf("createPart in a missing folder: %v, want it to name %s", err, want)
			}
		})
	}
}

func errorNames(err error, name string) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && pe.Path == name
}

// readDirNames lists the names in dir, sorted.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}
