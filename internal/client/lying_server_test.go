package client_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/crypto/cryptotest"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/testenv"
)

// The attacks of a server that lies, alone or with the help of a member (who signs what it
// likes with its own device and keeps the realm keys it had). Each test names its attack.

// bobWrites has bob (a contributor) write m as the next version of its vlob, the way any
// member's device could write anything it likes: the server accepts it.
func bobWrites(t *testing.T, p *people, realm parsec.VlobID, m manifest.Manifest, version uint64) {
	t.Helper()
	bobWritesWith(t, p, realm, 1, m, version)
}

// bobWritesWith is bobWrites with the realm's key of index.
func bobWritesWith(t *testing.T, p *people, realm parsec.VlobID, index uint64, m manifest.Manifest, version uint64) {
	t.Helper()
	key, err := openBundle(t, p, p.bc, p.bob, realm, index).Key(index)
	if err != nil {
		t.Fatal(err)
	}
	err = p.bc.WithFreshTimestamp(t.Context(), 0, func(ts parsec.DateTime) error {
		h := m.Head()
		h.Author, h.Timestamp, h.Version, h.Updated = p.bob.Device.DeviceID, ts, version, ts
		item := protocol.VlobWrite{VlobID: h.ID, Version: version, Timestamp: ts, Blob: manifest.Seal(m, signingKey(t, p.bob), key)}
		return p.bc.Call(t.Context(), protocol.CmdVlobWrite, protocol.VlobWriteReq{RealmID: realm, KeyIndex: index, Items: []protocol.VlobWrite{item}}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// stat is Stat that must succeed.
func stat(t *testing.T, w *client.Workspace, p string) client.Entry {
	t.Helper()
	e, err := w.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestLyingServerBackdatedVersionOfRemovedMember: bob keeps key 1 and his signing key after
// alice removes him from the workspace (or revokes him); the server stores a version of a
// file bob signs with key 1, dated before his removal, and serves it to alice. Before, she
// took it and the file was truncated.
func TestLyingServerBackdatedVersionOfRemovedMember(t *testing.T) {
	for _, how := range []string{"removed", "revoked"} {
		t.Run(how, func(t *testing.T) {
			p := newPeople(t)
			ctx := t.Context()
			id, aw, bw, _ := shared(t, p)
			write(t, bw, map[string][]byte{"/f": []byte("bob's text")})
			syncWS(t, bw)
			syncWS(t, aw)
			f := stat(t, aw, "/f")
			key, err := openBundle(t, p, p.bc, p.bob, id, 1).Key(1)
			if err != nil {
				t.Fatal(err)
			}
			backdated := parsec.SystemClock{}.Now()
			time.Sleep(time.Millisecond) // the removal is dated after backdated
			if how == "removed" {
				_, _, err = p.ac.UnshareWorkspace(ctx, id, p.bob.Device.UserID)
			} else {
				err = p.ac.RevokeUser(ctx, p.bob.Device.UserID)
			}
			if err != nil {
				t.Fatal(err)
			}
			syncWS(t, aw)

			forged := &manifest.FileManifest{
				Header:    manifest.Header{Author: p.bob.Device.DeviceID, Timestamp: backdated, ID: f.ID, Parent: id, Version: 2, Created: f.Created, Updated: backdated},
				BlockSize: manifest.DefaultBlockSize,
			}
			err = p.srv.Store.Update(ctx, func(tx metastore.Tx) error {
				_, err := tx.AppendVlobAtoms(p.bob.Device.OrganizationID, id, []metastore.VlobAtom{{
					VlobID: f.ID, Version: 2, KeyIndex: 1, Author: p.bob.Device.DeviceID, Timestamp: backdated,
					Blob: manifest.Seal(forged, signingKey(t, p.bob), key),
				}})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			wantTampered(t, aw.Sync(ctx), "the server backdated it")
			if got := string(read(t, aw, "/f")); got != "bob's text" {
				t.Errorf("/f reads %q after the refused version", got)
			}
		})
	}
}

// TestLyingServerBlockReturnedTwice: block_read returns one requested block twice instead
// of two different blocks. Before, the client panicked (slice bounds out of range).
func TestLyingServerBlockReturnedTwice(t *testing.T) {
	p := newPeople(t)
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/two-blocks": randomBytes(manifest.DefaultBlockSize + 10)})
	syncWS(t, aw)
	syncWS(t, bw)
	lie(t, p.srv, protocol.CmdBlockRead, func(rep *protocol.BlockReadRep) {
		if len(rep.Blocks) > 1 {
			rep.Blocks[1] = rep.Blocks[0]
		}
	})
	wantTampered(t, bw.ReadFile(t.Context(), "/two-blocks", io.Discard), "or twice")
}

// TestLyingServerFolderCycle: bob, a contributor, writes folder /a/b/c so that it holds
// /a: it passes validation and the server stores it. Before, every member's next walk of the
// workspace overflowed the stack.
func TestLyingServerFolderCycle(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/a/b/c/f": []byte("x")})
	syncWS(t, aw)
	syncWS(t, bw)
	a, b, c, f := stat(t, bw, "/a"), stat(t, bw, "/a/b"), stat(t, bw, "/a/b/c"), stat(t, bw, "/a/b/c/f")
	bobWrites(t, p, id, &manifest.FolderManifest{
		Header:   manifest.Header{ID: c.ID, Parent: b.ID, Created: c.Created},
		Children: map[string]parsec.VlobID{"a": a.ID, "f": f.ID},
	}, c.Version+1)
	syncWS(t, aw)

	done := make(chan error, 1)
	go func() {
		entries, err := aw.Walk("/")
		if err == nil && len(entries) != 5 {
			var paths []string
			for _, e := range entries {
				paths = append(paths, e.Path)
			}
			err = errors.New("walk listed " + strings.Join(paths, ", "))
		}
		if err == nil {
			err = aw.CopyWithin(ctx, "/a", "/copy")
		}
		if err == nil {
			_, err = aw.Walk("/copy")
		}
		if err == nil {
			err = aw.Restore(ctx, "/a", parsec.SystemClock{}.Now())
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("walking a folder cycle has not returned after 20s")
	}
	if got := string(read(t, aw, "/copy/b/c/f")); got != "x" {
		t.Errorf("/copy/b/c/f reads %q", got)
	}
}

// limitWriter fails once more than n bytes were written: a reader that would stream
// forever stops there.
type limitWriter struct{ n int64 }

func (l *limitWriter) Write(b []byte) (int, error) {
	if l.n -= int64(len(b)); l.n < 0 {
		return 0, errors.New("more bytes than the file can hold")
	}
	return len(b), nil
}

// TestLyingServerFileClaimsAnySize: bob writes a version of a file that claims 1 TiB and
// holds no block. Before, a reader streamed zeros forever; now the version is skipped with
// a warning and the file keeps the content it had.
func TestLyingServerFileClaimsAnySize(t *testing.T) {
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	write(t, bw, map[string][]byte{"/huge": []byte("small")})
	syncWS(t, bw)
	syncWS(t, aw)
	h := stat(t, bw, "/huge")
	bobWrites(t, p, id, &manifest.FileManifest{
		Header: manifest.Header{ID: h.ID, Parent: id, Created: h.Created},
		Size:   1 << 40, BlockSize: manifest.DefaultBlockSize,
	}, h.Version+1)
	syncWS(t, aw)
	if err := aw.ReadFile(t.Context(), "/huge", &limitWriter{n: 1 << 20}); err != nil {
		t.Fatalf("reading /huge: %v", err)
	}
	if got := string(read(t, aw, "/huge")); got != "small" {
		t.Errorf("/huge reads %q, want the last valid version", got)
	}
}

// TestLyingServerHidesNewestVersion: the server leaves the newest version of a file out of
// the history. Before, History listed versions 1 and 2 of a file whose version 3 bob had
// read, and succeeded.
func TestLyingServerHidesNewestVersion(t *testing.T) {
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	for _, v := range []string{"v1", "v2", "v3"} {
		write(t, aw, map[string][]byte{"/f": []byte(v)})
		syncWS(t, aw)
	}
	syncWS(t, bw)
	f := stat(t, bw, "/f")
	var v2 protocol.VlobReadRep
	if err := p.bc.Call(t.Context(), protocol.CmdVlobReadVersions, protocol.VlobReadVersionsReq{RealmID: id, Items: []protocol.VlobVersion{{VlobID: f.ID, Version: 2}}}, &v2); err != nil {
		t.Fatal(err)
	}
	lie(t, p.srv, protocol.CmdVlobReadBatch, func(rep *protocol.VlobReadRep) { rep.Items = v2.Items })
	_, err := bw.History(t.Context(), "/f")
	wantTampered(t, err, "older than the version 3")
}

// TestLyingServerHugeVersionNumber: bob signs version 2^40 of a file, which the server
// stores after version 1 (an honest one refuses a version that does not follow the last).
// A sync takes it (nothing in a manifest says how many versions came before), but its
// history cannot be listed. Before, History asked for versions 1 to 2^40, a thousand at a
// time, a billion requests; now the first batch, which lacks version 2, ends it.
func TestLyingServerHugeVersionNumber(t *testing.T) {
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/f": []byte("v1")})
	syncWS(t, aw)
	syncWS(t, bw)
	f := stat(t, bw, "/f")
	key, err := openBundle(t, p, p.bc, p.bob, id, 1).Key(1)
	if err != nil {
		t.Fatal(err)
	}
	const huge = uint64(1) << 40
	ts := parsec.SystemClock{}.Now()
	forged := &manifest.FileManifest{
		Header:    manifest.Header{Author: p.bob.Device.DeviceID, Timestamp: ts, ID: f.ID, Parent: id, Version: huge, Created: f.Created, Updated: ts},
		BlockSize: manifest.DefaultBlockSize,
	}
	err = p.srv.Store.Update(t.Context(), func(tx metastore.Tx) error {
		_, err := tx.AppendVlobAtoms(p.bob.Device.OrganizationID, id, []metastore.VlobAtom{{
			VlobID: f.ID, Version: huge, KeyIndex: 1, Author: p.bob.Device.DeviceID, Timestamp: ts,
			Blob: manifest.Seal(forged, signingKey(t, p.bob), key),
		}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	syncWS(t, aw)
	if got := stat(t, aw, "/f").Version; got != huge {
		t.Fatalf("alice holds version %d of /f, want %d", got, huge)
	}
	var reads atomic.Int64
	lie(t, p.srv, protocol.CmdVlobReadVersions, func(rep *protocol.VlobReadRep) { reads.Add(1) }) // counts only
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, err = aw.History(ctx, "/f")
	wantTampered(t, err, "hides version 2 of /f")
	if n := reads.Load(); n != 1 {
		t.Errorf("History sent %d requests for versions, want 1", n)
	}
}

// TestLyingServerRollsBackSnapshot: bob holds version 2 of a file, written before the
// time he looks at; as of that time, the server returns version 1. Before, the workspace as
// it was then read "v1", and Restore would have made that content the file's next version;
// now reading the file and loading the whole workspace at that time are tampering.
func TestLyingServerRollsBackSnapshot(t *testing.T) {
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/f": []byte("v1")})
	syncWS(t, aw)
	write(t, aw, map[string][]byte{"/f": []byte("v2")})
	syncWS(t, aw)
	syncWS(t, bw)
	f := stat(t, bw, "/f")
	if f.Version != 2 {
		t.Fatalf("bob holds version %d of /f, want 2", f.Version)
	}
	var v1 protocol.VlobReadRep
	if err := p.bc.Call(t.Context(), protocol.CmdVlobReadVersions, protocol.VlobReadVersionsReq{RealmID: id, Items: []protocol.VlobVersion{{VlobID: f.ID, Version: 1}}}, &v1); err != nil {
		t.Fatal(err)
	}
	now := parsec.SystemClock{}.Now()
	var b bytes.Buffer
	if err := bw.At(now).ReadFile(t.Context(), "/f", &b); err != nil || b.String() != "v2" {
		t.Fatalf("as of now, honestly, /f reads %q (%v)", b.String(), err)
	}
	lie(t, p.srv, protocol.CmdVlobReadBatch, func(rep *protocol.VlobReadRep) {
		for i, it := range rep.Items {
			if it.VlobID == f.ID {
				rep.Items[i] = v1.Items[0]
			}
		}
	})
	b.Reset()
	err := bw.At(now).ReadFile(t.Context(), "/f", &b)
	wantTampered(t, err, "older than version 2")
	_, err = bw.At(now).Load(t.Context())
	wantTampered(t, err, "older than version 2")
	// As of a time before version 2, version 1 is what was current.
	b.Reset()
	if err := bw.At(f.Updated-1).ReadFile(t.Context(), "/f", &b); err != nil || b.String() != "v1" {
		t.Errorf("as of before version 2, /f reads %q (%v), want v1", b.String(), err)
	}
}

// TestLyingServerDropsChangeFromLog: the server leaves one entry out of the change log.
// Before, the client never fetched it although a signed folder names it: the file stayed
// missing for good, even once the server was honest again.
func TestLyingServerDropsChangeFromLog(t *testing.T) {
	p := newPeople(t)
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/a.txt": []byte("a"), "/b.txt": []byte("b")})
	syncWS(t, aw)
	hidden := stat(t, aw, "/b.txt").ID
	lie(t, p.srv, protocol.CmdVlobPollChanges, func(rep *protocol.VlobPollChangesRep) {
		var kept []protocol.VlobVersion
		for _, ch := range rep.Changes {
			if ch.VlobID != hidden {
				kept = append(kept, ch)
			}
		}
		rep.Changes = kept
	})
	syncWS(t, bw)
	if got := string(read(t, bw, "/b.txt")); got != "b" {
		t.Errorf("/b.txt reads %q", got)
	}
}

// TestLyingServerTamperedKeysBundleIsNotNotFound: the server rewrites the keys bundle.
// Before, looking the workspace up by name said `no workspace named "Docs"` (exit code 3),
// which hid the tampering from the person.
func TestLyingServerTamperedKeysBundleIsNotNotFound(t *testing.T) {
	p := newPeople(t)
	shared(t, p)
	lie(t, p.srv, protocol.CmdRealmGetKeysBundle, func(rep *protocol.RealmGetKeysBundleRep) {
		rep.KeysBundle = bytes.Clone(rep.KeysBundle)
		rep.KeysBundle[len(rep.KeysBundle)/2] ^= 1
	})
	fresh := p.bob.Open(t) // no keys in memory yet
	_, err := fresh.FindWorkspace(t.Context(), "Docs")
	if parsec.KindOf(err) != parsec.Tampered {
		t.Fatalf("FindWorkspace: %v; want a tampering error", err)
	}
}

// TestLyingServerBadNamesDoNotBreakTheWorkspace: bob writes folders with names no device
// accepts (a control character, invalid UTF-8). Before, one such name made the workspace
// unreadable for everyone; now the entry is reported and skipped, the rest stays usable,
// and the local cache stays readable.
func TestLyingServerBadNamesDoNotBreakTheWorkspace(t *testing.T) {
	p := newPeople(t)
	id, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/keep": []byte("kept"), "/new": []byte("new")})
	syncWS(t, aw)
	syncWS(t, bw)
	root := stat(t, bw, "/")
	keep, added := stat(t, bw, "/keep"), stat(t, bw, "/new")
	// A second process of alice's device, which says what it skips.
	again, warned := openAgain(t, p.alice)
	version := root.Version
	for _, children := range []map[string]parsec.VlobID{
		{"keep": keep.ID, "new": added.ID, "bad\x1b[2J": parsec.NewVlobID()}, // the bad entry is dropped
		{"keep": keep.ID, "\xff": added.ID},                                  // the version is skipped
	} {
		version++
		bobWrites(t, p, id, &manifest.FolderManifest{Header: manifest.Header{ID: id, Parent: id, Created: root.Created}, Children: children}, version)
		w, err := again.Workspace(t.Context(), id)
		if err != nil {
			t.Fatalf("the local cache: %v", err)
		}
		syncWS(t, w)
		if got := string(read(t, w, "/keep")); got != "kept" {
			t.Errorf("/keep reads %q", got)
		}
		if _, err := w.Walk("/"); err != nil {
			t.Fatal(err)
		}
	}
	// The first process loads what the second one stored.
	syncWS(t, aw)
	if got := string(read(t, aw, "/new")); got != "new" {
		t.Errorf("/new reads %q", got)
	}
	if len(warned.all()) == 0 {
		t.Error("nothing was said of the version that cannot be read")
	}
}

// TestLyingServerHidesAnEntryUntilHonest: the server leaves an entry that a folder names out
// of its change log and out of its replies. The client says so once and asks for it again
// at every later sync, also from another process of the device, though the folder naming it
// does not change: once the server is honest again, the entry arrives.
func TestLyingServerHidesAnEntryUntilHonest(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/a.txt": []byte("a"), "/b.txt": []byte("b")})
	syncWS(t, aw)
	hidden := stat(t, aw, "/b.txt").ID
	honest := hideEntry(p.srv, hidden, func(rep *protocol.VlobReadRep) {
		rep.Items = slices.DeleteFunc(rep.Items, func(it protocol.VlobItem) bool { return it.VlobID == hidden })
	})
	w, warned := openWorkspaceAgain(t, p.bob, id)
	syncWS(t, w)
	syncWS(t, w)
	if _, err := w.Stat("/b.txt"); parsec.KindOf(err) != parsec.Unavailable {
		t.Errorf("Stat of the hidden file: %v, want it not synced yet", err)
	}
	if said := warned.all(); len(said) != 1 || !strings.Contains(said[0], `names "b.txt"`) || !strings.Contains(said[0], "does not return") {
		t.Errorf("warnings %q, want one naming b.txt", said)
	}

	honest.Store(true)
	again, _ := openWorkspaceAgain(t, p.bob, id)
	syncWS(t, again)
	if got := string(read(t, again, "/b.txt")); got != "b" {
		t.Errorf("/b.txt reads %q once the server is honest", got)
	}
}

// hideEntry has the server leave entry id out of its change log, and change its
// vlob_read_batch replies with read, until the returned flag says it is honest again.
func hideEntry(srv *testenv.Server, id parsec.VlobID, read func(*protocol.VlobReadRep)) *atomic.Bool {
	honest := new(atomic.Bool)
	srv.Lie = func(cmd string, reply []byte) []byte {
		if honest.Load() {
			return reply
		}
		switch cmd {
		case protocol.CmdVlobPollChanges:
			return withoutChange(reply, id)
		case protocol.CmdVlobReadBatch:
			return rewriteReply(reply, read)
		}
		return reply
	}
	return honest
}

// withoutChange leaves entry id out of a vlob_poll_changes reply.
func withoutChange(reply []byte, id parsec.VlobID) []byte {
	return rewriteReply(reply, func(rep *protocol.VlobPollChangesRep) {
		rep.Changes = slices.DeleteFunc(rep.Changes, func(ch protocol.VlobVersion) bool { return ch.VlobID == id })
	})
}

// rewriteReply decodes an ok reply, lets edit change it, and encodes it again.
func rewriteReply[Rep any](reply []byte, edit func(*Rep)) []byte {
	var rep Rep
	if err := protocol.DecodeReply(reply, &rep); err != nil {
		return reply
	}
	edit(&rep)
	out, err := protocol.OK(rep)
	if err != nil {
		panic(err)
	}
	return out
}

// TestPullSavesBatchByBatch: a first sync of more entries than one batch saves each batch
// as it merges it. Stopped midway (the server leaves an entry out of its reply to the second batch), the
// next sync, in another process, fetches only the entries the first had not saved, and
// ends with all of them.
func TestPullSavesBatchByBatch(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	files := writeMany(t, aw, protocol.MaxBatchItems+200)
	total := len(files) + 1 // and the root

	var items atomic.Int64
	var honest atomic.Bool
	lie(t, p.srv, protocol.CmdVlobReadBatch, func(rep *protocol.VlobReadRep) {
		// The second batch (the log's last 201 entries; it is read while the first is
		// merged, and may be answered first).
		if len(rep.Items) < protocol.MaxBatchItems && !honest.Load() {
			rep.Items = rep.Items[1:]
		}
		items.Add(int64(len(rep.Items)))
	})
	w, _ := openWorkspaceAgain(t, p.bob, id)
	if err := w.Sync(t.Context()); parsec.KindOf(err) != parsec.Tampered {
		t.Fatalf("sync with an entry left out: %v", err)
	}
	first := items.Load()
	if first < protocol.MaxBatchItems {
		t.Fatalf("%d entries read before the sync stopped, want a batch at least", first)
	}
	honest.Store(true)
	items.Store(0)
	w, _ = openWorkspaceAgain(t, p.bob, id) // what the first kept in memory only is gone
	syncWS(t, w)
	if got, want := items.Load(), int64(total-protocol.MaxBatchItems); got != want {
		t.Errorf("the second sync read %d entries, want the %d not saved by the first", got, want)
	}
	list, err := w.List("/")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(files) {
		t.Errorf("%d files listed, want %d", len(list), len(files))
	}
}

// TestPullPagesOfTheLog: the server gives its change log 50 entries at a time. A first sync
// of 120 files polls page after page and ends with all of them; a server that says its log
// goes on and gives nothing after a checkpoint is caught, not followed without end.
func TestPullPagesOfTheLog(t *testing.T) {
	p := newPeople(t, func(c *server.Config) { c.Limits.PollChanges = 50 })
	id, aw, _, _ := shared(t, p)
	files := writeMany(t, aw, 120)

	var polls, more atomic.Int64
	var stuck atomic.Bool
	lie(t, p.srv, protocol.CmdVlobPollChanges, func(rep *protocol.VlobPollChangesRep) {
		polls.Add(1)
		if rep.More {
			more.Add(1)
		}
		if stuck.Load() {
			rep.Changes, rep.More = nil, true
		}
	})
	w, _ := openWorkspaceAgain(t, p.bob, id)
	syncWS(t, w)
	if polls.Load() != 3 || more.Load() != 2 {
		t.Errorf("%d polls, %d saying more; want 3 pages of 50 for the 121 versions", polls.Load(), more.Load())
	}
	list, err := w.List("/")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(files) {
		t.Errorf("%d files listed, want %d", len(list), len(files))
	}

	write(t, aw, map[string][]byte{"/new": []byte("new")})
	syncWS(t, aw)
	stuck.Store(true)
	err = w.Sync(t.Context())
	if parsec.KindOf(err) != parsec.Tampered || !strings.Contains(err.Error(), "goes on after") {
		t.Errorf("sync with a log that goes on and gives nothing: %v", err)
	}
}

// TestLyingServerFailsAPullMidway: a pull fails after merging some entries (the server
// returns an entry twice), and the same process syncs again once the server is honest:
// what the failed pull merged and did not save is not taken for saved, and the entry is
// there, also for another process.
func TestLyingServerFailsAPullMidway(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/a.txt": []byte("a")})
	syncWS(t, aw)
	w, _ := openWorkspaceAgain(t, p.bob, id)
	syncWS(t, w)
	write(t, aw, map[string][]byte{"/b.txt": []byte("b")})
	syncWS(t, aw)
	b := stat(t, aw, "/b.txt").ID
	// b.txt is found through the root, in round 1, and comes back twice.
	honest := hideEntry(p.srv, b, func(rep *protocol.VlobReadRep) {
		for _, it := range rep.Items {
			if it.VlobID == b {
				rep.Items = append(rep.Items, it)
				return
			}
		}
	})
	if err := w.Sync(t.Context()); parsec.KindOf(err) != parsec.Tampered {
		t.Fatalf("sync with an entry returned twice: %v", err)
	}
	honest.Store(true)
	syncWS(t, w)
	if got := string(read(t, w, "/b.txt")); got != "b" {
		t.Errorf("/b.txt reads %q after the sync again", got)
	}
	again, _ := openWorkspaceAgain(t, p.bob, id)
	if got := string(read(t, again, "/b.txt")); got != "b" {
		t.Errorf("/b.txt reads %q in another process", got)
	}
}

// TestLyingServerBlockOpensWithTwoKeys: bob, who holds the workspace's keys 1 and 2, writes
// a file whose one block decrypts with both (neither cipher commits to its key), and the
// server tells alice it was sealed with key 1: she would read other content than readers
// told key 2, under the same signed digest. She refuses it; told the truth, she reads it.
func TestLyingServerBlockOpensWithTwoKeys(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, aw, bw, _ := shared(t, p)
	if _, rotated, err := p.ac.UnshareWorkspace(ctx, id, p.mallory.Device.UserID); err != nil || !rotated {
		t.Fatalf("unshare: rotated %v, %v", rotated, err)
	}
	write(t, bw, map[string][]byte{"/f": []byte("x")})
	syncWS(t, bw)
	keys := openBundle(t, p, p.bc, p.bob, id, 2)
	key1, err1 := keys.Key(1)
	key2, err2 := keys.Key(2)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	block := parsec.NewBlockID()
	k1, k2 := crypto.AESKey(key1.Derive(crypto.PurposeBlockAES, block)), crypto.AESKey(key2.Derive(crypto.PurposeBlockAES, block))
	content := bytes.Repeat([]byte("what readers told key 1 read. "), 40)
	crafted := cryptotest.AESGCMCollision(k1[:], k2[:], crypto.RandomBytes(manifest.BlockNonceSize), block[:], content)
	if err := p.bc.Call(ctx, protocol.CmdBlockCreate, protocol.BlockCreateReq{RealmID: id, KeyIndex: 2,
		Blocks: []protocol.BlockData{{BlockID: block, Data: crafted}}}, nil); err != nil {
		t.Fatal(err)
	}
	h := stat(t, bw, "/f")
	bobWritesWith(t, p, id, 2, &manifest.FileManifest{
		Header: manifest.Header{ID: h.ID, Parent: id, Created: h.Created},
		Size:   uint64(len(content)), BlockSize: manifest.DefaultBlockSize,
		Blocks: []manifest.BlockAccess{{ID: block, Size: uint64(len(content)), Digest: crypto.SumBLAKE3(crafted), Sealed: true,
			Hash: manifest.HashBLAKE3, Cipher: manifest.CipherAES256GCM}},
	}, h.Version+1)
	syncWS(t, aw)

	lie(t, p.srv, protocol.CmdBlockRead, func(rep *protocol.BlockReadRep) {
		for i := range rep.Blocks {
			rep.Blocks[i].KeyIndex = 1
		}
	})
	var b bytes.Buffer
	wantTampered(t, aw.ReadFile(ctx, "/f", &b), "decrypts with key 1 of the workspace and with key 2")
	if b.Len() != 0 {
		t.Errorf("%d bytes of the block were written out", b.Len())
	}
	p.srv.Lie = nil
	p.ac.EnableBlockCache(8 << 20)
	got := read(t, aw, "/f")
	if len(got) != len(content) || bytes.Equal(got[16:], content[16:]) {
		t.Errorf("told key 2, alice reads %d bytes, want the %d that key 2 gives", len(got), len(content))
	}

	// Kept on her device by an earlier build, which checked no later key, as read with key
	// 1: checked now, refused, and read from the server (which no longer answers).
	kept := filepath.Join(keptBlocks(p.alice), id.String(), block.String())
	if _, err := os.Stat(kept); err != nil {
		t.Fatalf("the block is not kept on alice's device: %v", err)
	}
	if err := os.WriteFile(kept, append(binary.BigEndian.AppendUint64(nil, 1), crafted...), 0o600); err != nil {
		t.Fatal(err)
	}
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdBlockRead {
			return []byte("not a reply")
		}
		return reply
	}
	if err := aw.ReadFile(ctx, "/f", io.Discard); err == nil {
		t.Error("a block kept by an earlier build as read with key 1 reads")
	}
}
