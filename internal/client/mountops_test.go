package client_test

import (
	"testing"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// PathOf follows an entry through renames and moves, and says NotFound once it is removed;
// a ContentStamp survives its encoding (a mount keeps it on the device across runs).
func TestPathOfAndStamp(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/a/b/file.txt": []byte("content")})
	e, err := aw.Stat("/a/b/file.txt")
	if err != nil {
		t.Fatal(err)
	}
	wantPath := func(want string) {
		t.Helper()
		if got, err := aw.PathOf(e.ID); err != nil || got != want {
			t.Errorf("PathOf = %q, %v; want %q", got, err, want)
		}
	}
	wantPath("/a/b/file.txt")
	if got, err := aw.PathOf(aw.ID()); err != nil || got != "/" {
		t.Errorf("PathOf(root) = %q, %v", got, err)
	}
	if err := aw.Rename(ctx, "/a/b", "/c"); err != nil {
		t.Fatal(err)
	}
	wantPath("/c/file.txt")
	if err := aw.Rename(ctx, "/c/file.txt", "/renamed.txt"); err != nil {
		t.Fatal(err)
	}
	wantPath("/renamed.txt")

	stamp, err := aw.Stamp(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := stamp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back client.ContentStamp
	if err := back.UnmarshalBinary(b); err != nil || back != stamp {
		t.Errorf("the stamp decodes as %v (%v), want %v", back, err, stamp)
	}
	if err := back.UnmarshalBinary(b[:len(b)-1]); !parsec.IsKind(err, parsec.Invalid) {
		t.Errorf("a truncated stamp decodes with %v, want an Invalid error", err)
	}

	if err := aw.Remove(ctx, "/renamed.txt", false); err != nil {
		t.Fatal(err)
	}
	if _, err := aw.PathOf(e.ID); !parsec.IsKind(err, parsec.NotFound) {
		t.Errorf("PathOf a removed file: %v, want NotFound", err)
	}
}

// Reinstate puts a removed file back as a conflict copy in the folder it was in, or in the
// root once that folder is removed too; a file still in the workspace stays where it is.
func TestReinstate(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	_, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/a/file.txt": []byte("content")})
	e, err := aw.Stat("/a/file.txt")
	if err != nil {
		t.Fatal(err)
	}
	reinstate := func(want string) {
		t.Helper()
		if got, err := aw.Reinstate(ctx, e.ID, "file.txt"); err != nil || got != want {
			t.Errorf("Reinstate = %q, %v; want %q", got, err, want)
		}
	}
	reinstate("/a/file.txt")
	if err := aw.Remove(ctx, "/a/file.txt", false); err != nil {
		t.Fatal(err)
	}
	reinstate("/a/file (sync conflict 1).txt")
	if err := aw.Remove(ctx, "/a", true); err != nil {
		t.Fatal(err)
	}
	reinstate("/file (sync conflict 1).txt")
	if got, err := aw.PathOf(e.ID); err != nil || got != "/file (sync conflict 1).txt" {
		t.Errorf("PathOf after Reinstate = %q, %v", got, err)
	}
}
