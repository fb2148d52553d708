package client_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/testenv"
)

// laterClock is the system clock moved forward by an offset that a test changes.
type laterClock struct{ offset atomic.Int64 }

func (c *laterClock) Now() parsec.DateTime {
	return parsec.SystemClock{}.Now().Add(time.Duration(c.offset.Load()))
}

// A push seals the next batch of manifests while the one before is on its way; when that
// request was slow, the batch is stamped again before it is sent, so that its timestamps
// are those of when it leaves, not of when it was sealed.
func TestPushStampsAgainABatchSealedLongBefore(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	clock := &laterClock{}
	c, err := client.Open(ctx, p.alice.ConfigDir, p.alice.Device, client.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.CreateWorkspace(ctx, "Many")
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Workspace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// More files than one batch holds: the root folder goes in the second batch.
	files := map[string][]byte{}
	for i := range protocol.MaxBatchItems + 1 {
		files[fmt.Sprintf("/f%04d", i)] = []byte("x")
	}
	write(t, w, files)
	// The first batch's request takes a minute, by the client's clock.
	var writes atomic.Int32
	var jumped atomic.Int64 // the client's time once the first batch's answer is given
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdVlobWrite && writes.Add(1) == 1 {
			time.Sleep(200 * time.Millisecond) // the next batch is sealed meanwhile
			clock.offset.Store(int64(time.Minute))
			jumped.Store(int64(clock.Now()))
		}
		return reply
	}
	if err := w.Push(ctx); err != nil {
		t.Fatal(err)
	}
	if writes.Load() != 2 {
		t.Fatalf("%d vlob_write requests, want 2", writes.Load())
	}
	versions, err := w.History(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if last, at := versions[len(versions)-1], parsec.DateTime(jumped.Load()); last.Timestamp < at {
		t.Errorf("the root folder was sent stamped %v, before the first batch's answer (%v)", last.Timestamp, at)
	}
}

// A device that stops after the server took its push but before it saved so (a crash, a
// kill) still holds its changes as not pushed: its next sync finds its own versions on the
// server, takes them as its own, and makes no conflict copy; nothing is pushed twice.
func TestPushTakenButNotSaved(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/kept.txt": []byte("kept")})
	syncWS(t, aw)
	files := map[string][]byte{"/a.txt": []byte("alpha"), "/d/b.txt": []byte("bravo"), "/kept.txt": []byte("kept, changed")}
	write(t, aw, files)
	if err := aw.Mkdir(ctx, "/empty", false); err != nil {
		t.Fatal(err)
	}
	// The device's local cache as it is before the push: what a crash right after the
	// server took it leaves.
	data := filepath.Join(p.alice.ConfigDir, "data")
	before := t.TempDir()
	if err := os.CopyFS(before, os.DirFS(data)); err != nil {
		t.Fatal(err)
	}
	syncWS(t, aw)
	if err := p.ac.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(data); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(data, os.DirFS(before)); err != nil {
		t.Fatal(err)
	}

	c := p.alice.Open(t)
	w, err := c.Workspace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !w.NeedSync() {
		t.Fatal("the changes read back from the cache saved before the push are not pending")
	}
	syncWS(t, w)
	if w.NeedSync() {
		t.Error("changes still pending after a sync")
	}
	entries, err := w.Walk("/")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, e := range entries {
		paths = append(paths, e.Path)
	}
	if want := []string{"/a.txt", "/d", "/d/b.txt", "/empty", "/kept.txt"}; !slices.Equal(paths, want) {
		t.Errorf("after the sync: %v, want %v (no conflict copy)", paths, want)
	}
	for p, want := range files {
		if got := read(t, w, p); !bytes.Equal(got, want) {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
	for p, n := range map[string]int{"/a.txt": 1, "/kept.txt": 2, "/": 2} {
		if v, err := w.History(ctx, p); err != nil || len(v) != n {
			t.Errorf("history of %s: %d versions (%v), want %d", p, len(v), err, n)
		}
	}
}

// A push stopped midway keeps what the server took before: the batches acknowledged are
// saved as pushed (the last one while the next was on its way), the others stay pending;
// the next sync ends with every file, each in one version (the batch the server took
// without the device knowing is found again, not pushed twice).
func TestPushStoppedMidwayKeepsWhatWasTaken(t *testing.T) {
	p := newPeople(t)
	id, aw, _, _ := shared(t, p)
	files := map[string][]byte{}
	for i := range 2*protocol.MaxBatchItems + 100 {
		files[fmt.Sprintf("/f%04d", i)] = []byte{byte(i)}
	}
	write(t, aw, files)
	var writes atomic.Int64
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdVlobWrite && writes.Add(1) == 3 {
			return []byte("not a reply") // the server took it, the device cannot know
		}
		return reply
	}
	if err := aw.Push(t.Context()); parsec.KindOf(err) != parsec.Tampered {
		t.Fatalf("push with its third reply spoiled: %v", err)
	}
	p.srv.Lie = nil
	w, _ := openWorkspaceAgain(t, p.alice, id)
	entries, err := w.Walk("/")
	if err != nil {
		t.Fatal(err)
	}
	pending := 0
	for _, e := range entries {
		if e.NeedSync {
			pending++
		}
	}
	if want := len(files) - 2*protocol.MaxBatchItems; pending != want {
		t.Errorf("%d files pending after the push stopped, want the %d of the batches not acknowledged", pending, want)
	}
	syncWS(t, w)
	if w.NeedSync() {
		t.Error("changes still pending after the next sync")
	}
	for _, p := range []string{"/f0000", fmt.Sprintf("/f%04d", len(files)-1)} {
		if got := read(t, w, p); !bytes.Equal(got, files[p]) {
			t.Errorf("%s: %v, want %v", p, got, files[p])
		}
		if v, err := w.History(t.Context(), p); err != nil || len(v) != 1 {
			t.Errorf("history of %s: %d versions (%v), want 1", p, len(v), err)
		}
	}
}

// A device whose clock is behind another's by a few seconds (both in the server's
// ballpark) changes a file the other just wrote: the server asks for a timestamp after
// the file's last version (require_greater_timestamp), and the push is stamped again
// after it. The server took the backdated version before, and every device that held the
// one before then found the file's history tampered with ("versions are never
// backdated").
func TestPushAfterAVersionFromAClockAhead(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	id, aw, _, _ := shared(t, p)
	ahead := &laterClock{}
	ahead.offset.Store(int64(10 * time.Second))
	bw := openWorkspace(t, p.bob, id, client.Options{Clock: ahead})
	write(t, bw, map[string][]byte{"/a.txt": []byte("by bob, 10 s ahead")})
	syncWS(t, bw)

	var asked atomic.Int32
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdVlobWrite && bytes.Contains(reply, []byte(protocol.StatusRequireGreaterTimestamp)) {
			asked.Add(1)
		}
		return reply
	}
	syncWS(t, aw) // alice's device gets bob's version
	write(t, aw, map[string][]byte{"/a.txt": []byte("by alice, right after")})
	syncWS(t, aw)
	if asked.Load() == 0 {
		t.Error("the server took alice's version, dated before bob's, without asking for a later timestamp")
	}
	syncWS(t, bw) // bob's device, which holds the version before, gets alice's
	if got := read(t, bw, "/a.txt"); string(got) != "by alice, right after" {
		t.Errorf("bob reads %q, want alice's version", got)
	}
	versions, err := bw.History(ctx, "/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[1].Timestamp <= versions[0].Timestamp {
		t.Errorf("history %+v, want two versions in order", versions)
	}
}

// listedChanges has the server count the changes its vlob_poll_changes replies list, and
// rewrite its vlob_write replies with edit when not nil.
func listedChanges(srv *testenv.Server, edit func(*protocol.VlobWriteRep)) *atomic.Int64 {
	listed := new(atomic.Int64)
	srv.Lie = func(cmd string, reply []byte) []byte {
		switch {
		case cmd == protocol.CmdVlobPollChanges:
			return rewriteReply(reply, func(rep *protocol.VlobPollChangesRep) { listed.Add(int64(len(rep.Changes))) })
		case cmd == protocol.CmdVlobWrite && edit != nil:
			return rewriteReply(reply, edit)
		}
		return reply
	}
	return listed
}

// syncCounting syncs w and returns how many changes the server's vlob_poll_changes
// replies listed meanwhile (see listedChanges).
func syncCounting(t *testing.T, w *client.Workspace, listed *atomic.Int64) int64 {
	t.Helper()
	listed.Store(0)
	syncWS(t, w)
	return listed.Load()
}

// A reply to a push whose checkpoint is not a number is refused as tampering, though the
// server took the batch; the next sync finds the device's own versions (one each), and
// nothing stays pending.
func TestPushReplyWithAMalformedCheckpoint(t *testing.T) {
	p := newPeople(t)
	_, aw, _, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/a.txt": []byte("alpha"), "/b.txt": []byte("bravo")})
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd != protocol.CmdVlobWrite {
			return reply
		}
		lie, err := protocol.OK(map[string]any{"checkpoint": "soon"})
		if err != nil {
			t.Error(err)
		}
		return lie
	}
	err := aw.Push(t.Context())
	if parsec.KindOf(err) != parsec.Tampered || !strings.Contains(err.Error(), "malformed reply") {
		t.Fatalf("push answered with a checkpoint that is not a number: %v, want a malformed reply refused as tampering", err)
	}
	p.srv.Lie = nil
	syncWS(t, aw)
	if aw.NeedSync() {
		t.Error("changes still pending after the next sync")
	}
	for name, want := range map[string]string{"/a.txt": "alpha", "/b.txt": "bravo"} {
		if got := string(read(t, aw, name)); got != want {
			t.Errorf("%s reads %q, want %q", name, got, want)
		}
		if v, err := aw.History(t.Context(), name); err != nil || len(v) != 1 {
			t.Errorf("history of %s: %d versions (%v), want 1", name, len(v), err)
		}
	}
}

// The server says where a push went in the change log: when its batches came right after
// the device's checkpoint, the checkpoint moves past them, and the next sync does not list
// the device's own versions again. When the server says nothing, or a checkpoint that
// does not follow, the next sync lists them as before.
func TestPushMovesTheCheckpointPastItsOwnVersions(t *testing.T) {
	files := map[string][]byte{}
	for i := range protocol.MaxBatchItems + 10 { // two batches, the root in the second
		files[fmt.Sprintf("/f%04d", i)] = []byte{byte(i)}
	}
	for _, tc := range []struct {
		name string
		edit func(*protocol.VlobWriteRep)
		want int64 // changes listed by the sync after the push
	}{
		{"honest", nil, 0},
		{"says nothing", func(rep *protocol.VlobWriteRep) { rep.Checkpoint = 0 }, int64(len(files)) + 1},
		{"says later", func(rep *protocol.VlobWriteRep) { rep.Checkpoint += 5 }, int64(len(files)) + 1},
		{"says earlier", func(rep *protocol.VlobWriteRep) { rep.Checkpoint-- }, int64(len(files)) + 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeople(t)
			_, aw, bw, _ := shared(t, p)
			write(t, aw, map[string][]byte{"/first.txt": []byte("first")})
			syncWS(t, aw)
			syncWS(t, bw)
			write(t, aw, files)
			listed := listedChanges(p.srv, tc.edit)
			if err := aw.Push(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := syncCounting(t, aw, listed); got != tc.want {
				t.Errorf("the sync after the push listed %d changes, want %d", got, tc.want)
			}
			// Another device's versions are listed all the same.
			write(t, bw, map[string][]byte{"/first.txt": []byte("by bob")})
			syncWS(t, bw)
			if got := syncCounting(t, aw, listed); got != 1 {
				t.Errorf("the sync after bob's change listed %d changes, want 1", got)
			}
			if got := string(read(t, aw, "/first.txt")); got != "by bob" {
				t.Errorf("/first.txt reads %q, want bob's version", got)
			}
			if got := read(t, aw, "/f0999"); !bytes.Equal(got, files["/f0999"]) {
				t.Errorf("/f0999 reads %v, want %v", got, files["/f0999"])
			}
		})
	}
}

// Another device writes between this device's last sync and its push: the push's entries
// do not follow its checkpoint in the log, which stays where it was, so that the next
// sync lists (and brings) the other device's version.
func TestPushAfterAnotherDeviceWroteKeepsItsVersion(t *testing.T) {
	p := newPeople(t)
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/b.txt": []byte("one")})
	syncWS(t, aw)
	syncWS(t, bw)
	write(t, bw, map[string][]byte{"/b.txt": []byte("two")}) // b.txt's manifest only
	syncWS(t, bw)
	write(t, aw, map[string][]byte{"/a.txt": []byte("new")}) // a.txt and the root
	listed := listedChanges(p.srv, nil)
	if err := aw.Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := syncCounting(t, aw, listed); got != 3 {
		t.Errorf("the sync after the push listed %d changes, want 3 (bob's, then the push's two)", got)
	}
	if got := string(read(t, aw, "/b.txt")); got != "two" {
		t.Errorf("/b.txt reads %q after the sync, want bob's version", got)
	}
}

// Another device writes between two batches of a push: the second batch's entries do not
// follow the first's in the log, and the checkpoint stays before the push, so that the
// next sync lists (and brings) the other device's version.
func TestPushWithAnotherDeviceBetweenItsBatches(t *testing.T) {
	p := newPeople(t)
	_, aw, bw, _ := shared(t, p)
	write(t, aw, map[string][]byte{"/first.txt": []byte("first")})
	syncWS(t, aw)
	syncWS(t, bw)
	files := map[string][]byte{}
	for i := range protocol.MaxBatchItems + 10 { // two batches
		files[fmt.Sprintf("/f%04d", i)] = []byte{byte(i)}
	}
	write(t, aw, files)
	write(t, bw, map[string][]byte{"/first.txt": []byte("by bob")})
	var first atomic.Bool
	first.Store(true)
	bobDone := make(chan error, 1)
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdVlobWrite && first.CompareAndSwap(true, false) {
			bobDone <- bw.Push(t.Context()) // bob's version goes in after alice's first batch
		}
		return reply
	}
	if err := aw.Push(t.Context()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-bobDone:
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatal("bob did not push between alice's batches")
	}
	syncWS(t, aw)
	if got := string(read(t, aw, "/first.txt")); got != "by bob" {
		t.Errorf("/first.txt reads %q, want bob's version, written between alice's batches", got)
	}
}
