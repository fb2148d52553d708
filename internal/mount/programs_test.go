package mount

import (
	"bytes"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/parsec"
)

// run runs a program and returns its output; the test fails if it fails. Paths are given
// in full and the program runs in a folder outside the mount: a child that changes into the
// mount between fork and exec holds a copy of this process's FUSE device, and if this
// process ends meanwhile nothing can ever answer it.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("PARSEC_TEST_DISALLOW_SKIP") != "" {
			t.Fatalf("%s is needed (PARSEC_TEST_DISALLOW_SKIP is set)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	cmd := exec.CommandContext(t.Context(), name, args...)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=A", "GIT_AUTHOR_EMAIL=a@example.com",
		"GIT_COMMITTER_NAME=A", "GIT_COMMITTER_EMAIL=a@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// writeTree writes a tree of files with random content, sizes around the 512 KiB block,
// an empty file and an empty folder, and returns what it holds.
func writeTree(t *testing.T, dir string, seed uint64) map[string][]byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	content := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	files := map[string][]byte{
		"empty":             {},
		"one":               content(1),
		"notes.txt":         []byte("some notes\n"),
		"sub/block":         content(512 << 10),
		"sub/block+1":       content(512<<10 + 1),
		"sub/deep/big":      content(3<<20 + 12345),
		"sub/deep/small.md": []byte("# title\n"),
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		must(t, os.MkdirAll(filepath.Dir(p), 0o755))
		must(t, os.WriteFile(p, b, 0o644))
	}
	must(t, os.MkdirAll(filepath.Join(dir, "hollow"), 0o755))
	return files
}

// readTree reads every file under dir, and names its empty folders with a trailing "/".
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	must(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if entries, err := os.ReadDir(p); err == nil && len(entries) == 0 {
				out[rel+"/"] = nil
			}
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = b
		return err
	}))
	return out
}

func sameTree(t *testing.T, what string, want map[string][]byte, dir string) {
	t.Helper()
	want["hollow/"] = nil
	if diff := cmp.Diff(want, readTree(t, dir), cmp.Comparer(bytes.Equal)); diff != "" {
		t.Errorf("%s differs (-want +got):\n%s", what, diff)
	}
}

// TestPrograms runs real programs on a mount of every workspace: cp -r in and out, rsync
// twice, git, sqlite3, tar, and a random read/write/truncate test against a local file.
// Then another member reads what they wrote.
func TestPrograms(t *testing.T) {
	p := newPeople(t)
	id := createWorkspace(t, p.alice, "Docs")
	must(t, p.alice.ShareWorkspace(t.Context(), id, p.bobUser.Device.UserID, parsec.RoleReader))
	mnt, m := mountFor(t, p.alice, parsec.VlobID{})
	docs := filepath.Join(mnt, "Docs")
	entries, err := os.ReadDir(mnt)
	must(t, err)
	if len(entries) != 1 || entries[0].Name() != "Docs" || !entries[0].IsDir() {
		t.Fatalf("the mount point lists %v, want the folder Docs", entries)
	}
	src := t.TempDir()
	files := writeTree(t, src, 1)

	t.Run("cp", func(t *testing.T) {
		run(t, "cp", "-r", src, filepath.Join(docs, "cp"))
		out := filepath.Join(t.TempDir(), "out")
		run(t, "cp", "-r", filepath.Join(docs, "cp"), out)
		sameTree(t, "the tree copied in and out", files, out)
	})

	t.Run("rsync", func(t *testing.T) {
		dst := filepath.Join(docs, "rsync")
		run(t, "rsync", "-a", src+"/", dst+"/")
		sameTree(t, "the tree rsynced in", files, dst)
		out := run(t, "rsync", "-a", "--itemize-changes", src+"/", dst+"/")
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line != "" && line[1] == 'f' {
				t.Errorf("the second rsync copied a file again: %s\n%s", line, out)
			}
		}
	})

	t.Run("git", func(t *testing.T) {
		repo := filepath.Join(docs, "repo")
		must(t, os.Mkdir(repo, 0o755))
		run(t, "git", "-C", repo, "init", "-q", "-b", "main")
		must(t, os.WriteFile(filepath.Join(repo, "README"), []byte("hello\n"), 0o644))
		run(t, "git", "-C", repo, "add", "README")
		run(t, "git", "-C", repo, "commit", "-q", "-m", "first")
		must(t, os.WriteFile(filepath.Join(repo, "README"), []byte("hello again\n"), 0o644))
		run(t, "git", "-C", repo, "commit", "-q", "-am", "second")
		if got := run(t, "git", "-C", repo, "log", "--format=%s"); got != "second\nfirst\n" {
			t.Errorf("git log = %q", got)
		}
		if got := run(t, "git", "-C", repo, "status", "--porcelain"); got != "" {
			t.Errorf("git status after commit = %q", got)
		}
		run(t, "git", "-C", repo, "fsck", "--strict")
	})

	t.Run("sqlite3", func(t *testing.T) {
		db := filepath.Join(docs, "data.db")
		run(t, "sqlite3", db, "create table t(k integer primary key, v text);"+
			"with recursive n(i) as (select 1 union all select i+1 from n where i<2000) insert into t select i, printf('value %d', i) from n;")
		run(t, "sqlite3", db, "update t set v = 'changed' where k % 7 = 0; delete from t where k > 1500;")
		if got := run(t, "sqlite3", db, "select count(*), sum(v = 'changed') from t; pragma integrity_check;"); got != "1500|214\nok\n" {
			t.Errorf("sqlite3 query = %q", got)
		}
	})

	t.Run("tar", func(t *testing.T) {
		archive := filepath.Join(t.TempDir(), "in.tar")
		run(t, "tar", "-cf", archive, "-C", src, ".")
		dst := filepath.Join(docs, "tar")
		must(t, os.Mkdir(dst, 0o755))
		run(t, "tar", "-xf", archive, "-C", dst)
		sameTree(t, "the tree extracted", files, dst)
		out := t.TempDir()
		run(t, "tar", "-cf", filepath.Join(out, "out.tar"), "-C", dst, ".")
		back := filepath.Join(out, "back")
		must(t, os.Mkdir(back, 0o755))
		run(t, "tar", "-xf", filepath.Join(out, "out.tar"), "-C", back)
		sameTree(t, "the tree archived from the mount", files, back)
	})

	t.Run("fsx", func(t *testing.T) {
		fsx(t, filepath.Join(docs, "fsx.bin"), filepath.Join(t.TempDir(), "fsx.bin"), 3000)
	})

	// Bob, a reader, receives everything, and his mount refuses writes.
	must(t, m.Sync(t.Context()))
	_, err = p.bob.PollCertificates(t.Context())
	must(t, err)
	bobMnt, _ := mountFor(t, p.bob, id)
	sameTree(t, "the tree as bob's mount shows it", files, filepath.Join(bobMnt, "cp"))
	for name, want := range map[string]os.FileMode{"cp": fs.ModeDir | 0o555, "cp/one": 0o444} {
		if fi, err := os.Stat(filepath.Join(bobMnt, name)); err != nil || fi.Mode() != want {
			t.Errorf("a reader's %s: mode %v (%v), want %v", name, fi.Mode(), err, want)
		}
	}
	wantErrno(t, "a reader creating a file", os.WriteFile(filepath.Join(bobMnt, "new"), nil, 0o644), syscall.EROFS)
	wantErrno(t, "a reader writing a file", func() error {
		f, err := os.OpenFile(filepath.Join(bobMnt, "cp", "one"), os.O_WRONLY, 0)
		if err == nil {
			f.Close()
		}
		return err
	}(), syscall.EROFS)
	wantErrno(t, "a reader making a folder", os.Mkdir(filepath.Join(bobMnt, "d"), 0o755), syscall.EROFS)
	wantErrno(t, "a reader renaming", os.Rename(filepath.Join(bobMnt, "cp"), filepath.Join(bobMnt, "cp2")), syscall.EROFS)
	wantErrno(t, "a reader removing", os.Remove(filepath.Join(bobMnt, "cp", "notes.txt")), syscall.EROFS)
	wantErrno(t, "a reader truncating", os.Truncate(filepath.Join(bobMnt, "cp", "one"), 0), syscall.EROFS)
}

// fsx does ops random reads, writes and truncates, from a fixed seed, on a file of the
// mount and on a local reference file, and compares every read and the final contents.
func fsx(t *testing.T, mounted, local string, ops int) {
	rng := rand.New(rand.NewPCG(42, 42))
	var files [2]*os.File
	for i, p := range []string{mounted, local} {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		must(t, err)
		defer f.Close()
		files[i] = f
	}
	const maxSize = 1536 << 10 // three blocks
	size := int64(0)
	buf := make([]byte, 256<<10)
	for i := range ops {
		switch op := rng.IntN(10); {
		case op < 4: // write
			off := rng.Int64N(maxSize - int64(len(buf)))
			n := 1 + rng.IntN(len(buf))
			for j := range buf[:n] {
				buf[j] = byte(rng.Uint32())
			}
			for _, f := range files {
				if _, err := f.WriteAt(buf[:n], off); err != nil {
					t.Fatalf("op %d: write %d at %d: %v", i, n, off, err)
				}
			}
			size = max(size, off+int64(n))
		case op < 8: // read
			off := rng.Int64N(size + 1)
			n := rng.IntN(len(buf)) + 1
			var got [2][]byte
			for k, f := range files {
				b := make([]byte, n)
				m, _ := f.ReadAt(b, off)
				got[k] = b[:m]
			}
			if !bytes.Equal(got[0], got[1]) {
				t.Fatalf("op %d: read %d at %d differs: %d bytes from the mount, %d from the reference", i, n, off, len(got[0]), len(got[1]))
			}
		case op < 9: // truncate
			size = rng.Int64N(maxSize)
			for _, f := range files {
				must(t, f.Truncate(size))
			}
		default: // save a version, or close and open again
			if rng.IntN(2) == 0 {
				must(t, files[0].Sync())
				continue
			}
			must(t, files[0].Close())
			f, err := os.OpenFile(mounted, os.O_RDWR, 0)
			must(t, err)
			files[0] = f
		}
	}
	must(t, files[0].Close())
	got, err := os.ReadFile(mounted)
	must(t, err)
	want, err := os.ReadFile(local)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("after %d operations, the file differs from the reference (%d bytes, want %d)", ops, len(got), len(want))
	}
}
