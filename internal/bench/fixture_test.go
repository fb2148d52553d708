package bench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
)

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	big := make([]byte, 3000)
	for i := range big {
		big[i] = byte(i * 7)
	}
	changed := append([]byte(nil), big...)
	changed[2500] ^= 1
	src := write("src", big)
	// Small buffers, so that the comparison spans several reads.
	bufs := [2][]byte{make([]byte, 1024), make([]byte, 1024)}
	for _, tc := range []struct {
		name string
		dst  string
		kind parsec.Kind // zero: no error
		msg  string
	}{
		{"same", write("same", big), 0, ""},
		{"one byte differs", write("changed", changed), parsec.Tampered, "differs from what was uploaded, from byte 2500"},
		{"shorter", write("short", big[:2048]), parsec.Tampered, "from byte 2048"},
		{"longer", write("long", append(append([]byte(nil), big...), 0)), parsec.Tampered, "from byte 3000"},
		{"missing", filepath.Join(dir, "missing"), parsec.Tampered, "the download of src is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sameFile(src, tc.dst, bufs)
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("sameFile: %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.msg) || parsec.KindOf(err) != tc.kind {
				t.Errorf("sameFile: %v (kind %v), want an error of kind %v saying %q", err, parsec.KindOf(err), tc.kind, tc.msg)
			}
		})
	}
	if err := sameFile(filepath.Join(dir, "no-source"), src, bufs); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sameFile(missing source): %v, want a not-exist error", err)
	}
}

func TestSameFileEmpty(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"src", "dst"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bufs := [2][]byte{make([]byte, 16), make([]byte, 16)}
	if err := sameFile(filepath.Join(dir, "src"), filepath.Join(dir, "dst"), bufs); err != nil {
		t.Errorf("sameFile(two empty files): %v", err)
	}
}

func TestSettle(t *testing.T) {
	dir := t.TempDir()
	fx := &fixture{dir: dir}
	for i := range 40 {
		p := fx.path("f", fmt.Sprintf("%02d.bin", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte{byte(i)}, 0o600); err != nil {
			t.Fatal(err)
		}
		fx.unsynced = append(fx.unsynced, p)
	}
	if err := fx.settle(); err != nil {
		t.Fatalf("settle: %v", err)
	}
	if len(fx.unsynced) != 0 {
		t.Errorf("after settle, %d files are left to sync, want 0", len(fx.unsynced))
	}

	fx.unsynced = []string{fx.path("f", "00.bin"), fx.path("gone.bin")}
	if err := fx.settle(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("settle with a missing file: %v, want a not-exist error", err)
	}
	if len(fx.unsynced) != 0 {
		t.Errorf("after a failed settle, %d files are left to sync, want 0", len(fx.unsynced))
	}
}
