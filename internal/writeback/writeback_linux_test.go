package writeback

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"slices"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// diskDir is a folder for the test on a file system where files are written back: the
// test's temporary folder, else one in the package's folder (tmpfs and overlayfs, often
// the temporary folder's, are not).
func diskDir(t *testing.T) string {
	t.Helper()
	candidates := []func() (string, error){
		func() (string, error) { return t.TempDir(), nil },
		func() (string, error) {
			d, err := os.MkdirTemp(".", "test-")
			if err == nil {
				t.Cleanup(func() { os.RemoveAll(d) })
			}
			return d, err
		},
	}
	for _, candidate := range candidates {
		dir, err := candidate()
		if err != nil {
			continue
		}
		w, err := Create(dir + "/probe")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(make([]byte, Step)); err != nil {
			t.Fatal(err)
		}
		w.Close()
		os.Remove(dir + "/probe")
		if !w.plain {
			return dir
		}
	}
	t.Skip("neither the temporary folder nor the package's is on a file system whose files are written back")
	return ""
}

// resident counts the bytes of the file's first n bytes held in the page cache.
func resident(t *testing.T, name string, n int) int {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, n, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (n+page-1)/page)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		t.Fatal(errno)
	}
	in := 0
	for _, v := range vec {
		if v&1 != 0 {
			in += page
		}
	}
	return in
}

// A file written through a File keeps at most a window of itself in memory, and holds
// exactly what was written.
func TestWindowInMemory(t *testing.T) {
	name := diskDir(t) + "/big"
	w, err := Create(name)
	if err != nil {
		t.Fatal(err)
	}
	const size = 96 << 20
	chunk := make([]byte, 1<<20+13) // steps and writes out of line
	sum := sha256.New()
	for written := 0; written < size; {
		for i := range chunk {
			chunk[i] = byte(written + i*7)
		}
		n := min(len(chunk), size-written)
		if _, err := w.Write(chunk[:n]); err != nil {
			t.Fatal(err)
		}
		sum.Write(chunk[:n])
		written += n
	}
	if w.plain {
		t.Fatal("write-back given up on a regular file")
	}
	in := resident(t, name, size)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if in > Window+2*Step {
		t.Errorf("%d MiB of the file in the page cache, want at most %d", in>>20, (Window+2*Step)>>20)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := sha256.New()
	if n, err := io.Copy(got, f); err != nil || n != size {
		t.Fatalf("read back %d bytes, %v; want %d", n, err, size)
	}
	if !bytes.Equal(got.Sum(nil), sum.Sum(nil)) {
		t.Error("the file does not hold what was written")
	}
}

// A file on tmpfs is the page cache itself: it is written as usual.
func TestTmpfs(t *testing.T) {
	var fs unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Skip("no tmpfs at /dev/shm")
	}
	dir, err := os.MkdirTemp("/dev/shm", "writeback-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	w, err := Create(dir + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if n, err := w.Write(make([]byte, Window+2*Step)); err != nil || n != Window+2*Step {
		t.Errorf("wrote %d, %v", n, err)
	}
	if !w.plain {
		t.Error("a file on tmpfs is written back")
	}
}

// A File on something that is no regular file is written as usual.
func TestNotAFile(t *testing.T) {
	w, err := Create(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, Window+2*Step)
	if n, err := w.Write(big); err != nil || n != len(big) {
		t.Fatalf("wrote %d, %v", n, err)
	}
	if !w.plain {
		t.Error("write-back still tried on the null device")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// A write after the file failed says so.
func TestWriteAfterClose(t *testing.T) {
	w, err := Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("a write to a closed file succeeded")
	}
}

// A file smaller than a step is written as usual, without asking the system whether it
// could be written back (four calls a file, for the many small files of a tree); a file of
// one step is asked about once, when that step is written.
func TestSmallFileNotAsked(t *testing.T) {
	dir := diskDir(t)
	asked := 0
	ask = func(f *os.File, fd int) bool { asked++; return supported(f, fd) }
	t.Cleanup(func() { ask = supported })
	w, err := Create(dir + "/small")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 { // writes of odd sizes, short of a step
		if _, err := w.Write(make([]byte, Step/3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if asked != 0 || w.decided {
		t.Errorf("write-back asked about %d time(s) for a file smaller than a step", asked)
	}
	w, err = Create(dir + "/step")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if asked != 0 {
		t.Fatal("write-back asked about when the file was created")
	}
	for _, n := range []int{Step - 1, 1, 5} {
		if _, err := w.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	if asked != 1 || w.plain {
		t.Errorf("a file of one step: asked %d time(s), plain %t; want once, and written back", asked, w.plain)
	}
}

// An unnamed file is in no folder until linked; once linked it has what was written, and
// a name that exists is refused; one never linked leaves nothing once closed.
func TestCreateUnnamed(t *testing.T) {
	dir := t.TempDir()
	w, err := CreateUnnamed(dir + "/a")
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("the temporary folder's file system has no unnamed files: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("unnamed "), 1000)
	if _, err := w.Write(content); err != nil {
		t.Fatal(err)
	}
	listed := func() []string {
		t.Helper()
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		names, err := f.Readdirnames(-1)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		return names
	}
	if names := listed(); len(names) != 0 {
		t.Fatalf("before Link the folder lists %q, want nothing", names)
	}
	if err := w.Link(dir + "/a"); err != nil {
		t.Fatal(err)
	}
	if err := w.Link(dir + "/a"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Link to a name that exists: %v, want fs.ErrExist", err)
	}
	if err := w.Link(dir + "/b"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b"} {
		if got, err := os.ReadFile(dir + "/" + name); err != nil || !bytes.Equal(got, content) {
			t.Errorf("%s: %d bytes, %v; want the %d written", name, len(got), err, len(content))
		}
	}

	dropped, err := CreateUnnamed(dir + "/c")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dropped.Write(content); err != nil {
		t.Fatal(err)
	}
	dropped.Close()
	if names := listed(); !slices.Equal(names, []string{"a", "b"}) {
		t.Errorf("after an unnamed file is closed the folder lists %q, want a and b", names)
	}

	// A file made by Create has a name: Link refuses it. A folder that is not there is an
	// error of its own, not ErrUnsupported (which the caller takes as "make a named file").
	named, err := Create(dir + "/named")
	if err != nil {
		t.Fatal(err)
	}
	defer named.Close()
	if err := named.Link(dir + "/other"); err == nil {
		t.Error("Link of a named file succeeded")
	}
	_, err = CreateUnnamed(dir + "/missing/f")
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, errors.ErrUnsupported) || !errors.As(err, &pe) || pe.Path != dir+"/missing/f" {
		t.Errorf("CreateUnnamed in a missing folder: %v, want fs.ErrNotExist naming the file", err)
	}
}

// An unnamed file is known by the name it is made for (a write's error names it), and
// once linked has the mode a named file gets: the umask applied (kernels before 5.19 left
// it out on file systems without POSIX ACLs).
func TestUnnamedNameAndMode(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0o027)
	defer syscall.Umask(old)
	named, err := Create(dir + "/named")
	if err != nil {
		t.Fatal(err)
	}
	named.Close()
	w, err := CreateUnnamed(dir + "/unnamed")
	if errors.Is(err, errors.ErrUnsupported) {
		t.Skipf("no unnamed files here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if w.Name() != dir+"/unnamed" {
		t.Errorf("Name() = %q, want the name it is made for", w.Name())
	}
	if err := w.Link(dir + "/unnamed"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	want, _ := os.Stat(dir + "/named")
	got, err := os.Stat(dir + "/unnamed")
	if err != nil || got.Mode() != want.Mode() {
		t.Errorf("linked file's mode %v (%v), want %v as a named file's", got.Mode(), err, want.Mode())
	}
}

// Where unnamed files cannot be linked (no /proc/self/fd, or the first file's link was
// refused), CreateUnnamed says so with errors.ErrUnsupported: the caller makes a named
// file instead.
func TestUnnamedRefused(t *testing.T) {
	dir := t.TempDir()
	saved := procFDs
	procFDs = func() bool { return false }
	_, err := CreateUnnamed(dir + "/f")
	procFDs = saved
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("without /proc/self/fd: %v, want errors.ErrUnsupported", err)
	}

	unnamed.Lock()
	checked, refused := unnamed.checked, unnamed.refused
	unnamed.checked, unnamed.refused = true, syscall.EPERM
	unnamed.Unlock()
	defer func() {
		unnamed.Lock()
		unnamed.checked, unnamed.refused = checked, refused
		unnamed.Unlock()
	}()
	_, err = CreateUnnamed(dir + "/f")
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("when linking was refused: %v, want errors.ErrUnsupported", err)
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("the folder lists %d entries, want none", len(names))
	}
}
