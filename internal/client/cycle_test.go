package client_test

import (
	"strings"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// TestRenameIntoParentCycle: bob, a contributor, writes a version of /a that says its
// parent is /a/b/c. Walking up from /a/b/c then loops; moving anything there must fail,
// not spin forever.
func TestRenameIntoParentCycle(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, aw, bw, _ := shared(t, p)
	if err := aw.Mkdir(ctx, "/a/b/c", true); err != nil {
		t.Fatal(err)
	}
	write(t, aw, map[string][]byte{"/f": []byte("x")})
	syncWS(t, aw)
	syncWS(t, bw)
	a, err := bw.Stat("/a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := bw.Stat("/a/b")
	if err != nil {
		t.Fatal(err)
	}
	c, err := bw.Stat("/a/b/c")
	if err != nil {
		t.Fatal(err)
	}

	bobWrites(t, p, id, &manifest.FolderManifest{
		Header:   manifest.Header{ID: a.ID, Parent: c.ID, Created: a.Created},
		Children: map[string]parsec.VlobID{"b": b.ID},
	}, 2)
	syncWS(t, aw)

	// Before the parents were walked with a visited set, Rename never returned: wait for it
	// in a goroutine so that the test fails instead of hanging.
	done := make(chan error, 1)
	go func() { done <- aw.Rename(ctx, "/f", "/a/b/c/f") }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Rename into /a/b/c has not returned after 10s: it loops on the parents")
	}
	wantKind(t, "Rename into a parent cycle", err, parsec.Invalid)
	if want := "cannot move /f to /a/b/c/f: the parents of "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("the error %q does not start with %q", err, want)
	}
	for _, e := range []client.Entry{a, b, c} {
		if !strings.Contains(err.Error(), parsec.ShortID(e.ID)) {
			t.Errorf("the error %q does not name %s, which is in the cycle", err, e.Name)
		}
	}
	if got := string(read(t, aw, "/f")); got != "x" {
		t.Errorf("after the refused move /f reads %q", got)
	}
}
