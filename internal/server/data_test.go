package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// flakyBlocks is a block store that fails on demand, as a broken disk or an unreachable
// object store would.
type flakyBlocks struct {
	blockstore.Store
	failPut, failGet atomic.Bool
	longer           atomic.Bool // Open says a block has 1 KiB more than it has
	longerReader     atomic.Bool // and gives it as a reader that is not its file
}

func (f *flakyBlocks) PutBatch(ctx context.Context, org parsec.OrganizationID, blocks []blockstore.Block) error {
	if f.failPut.Load() {
		return parsec.Errorf(parsec.Unavailable, "block store down")
	}
	return f.Store.PutBatch(ctx, org, blocks)
}

// Open's reader, like an object store's, reads only while the context given to Open lasts.
func (f *flakyBlocks) Open(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) (io.ReadCloser, int64, error) {
	if f.failGet.Load() {
		return nil, 0, parsec.Errorf(parsec.Unavailable, "block store down")
	}
	r, size, err := f.Store.Open(ctx, org, id)
	if err != nil {
		return nil, 0, err
	}
	if f.longer.Load() {
		if f.longerReader.Load() {
			return ctxReader{ctx, r}, size + 1024, nil // sent through the reply's buffer
		}
		return r, size + 1024, nil // the disk store's file itself: sent with sendfile
	}
	return ctxReader{ctx, r}, size, nil
}

type ctxReader struct {
	ctx context.Context
	io.ReadCloser
}

func (r ctxReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.ReadCloser.Read(p)
}

func (f *flakyBlocks) Get(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, error) {
	if f.failGet.Load() {
		return nil, parsec.Errorf(parsec.Unavailable, "block store down")
	}
	return f.Store.Get(ctx, org, id)
}

// dataUsers are the users of the data tests, and dataRealm the realm they share (key index
// 1): alice is its OWNER, dave MANAGER, bob CONTRIBUTOR and carol READER; erin is a member
// of the organization only.
const (
	dataUsers = "alice:admin bob:member carol:member dave:member erin:member"
	dataRealm = "alice:owner dave:manager bob:contributor carol:reader"
)

// The data commands.

func vw(id parsec.VlobID, version uint64, at parsec.DateTime, blob string) protocol.VlobWrite {
	return protocol.VlobWrite{VlobID: id, Version: version, Timestamp: at, Blob: []byte(blob)}
}

func (w *world) writeVlobs(t *testing.T, m *member, realm parsec.VlobID, keyIndex uint64, items ...protocol.VlobWrite) error {
	t.Helper()
	return w.call(t, m, protocol.CmdVlobWrite, protocol.VlobWriteReq{RealmID: realm, KeyIndex: keyIndex, Items: items}, nil)
}

func (w *world) readVlobs(t *testing.T, m *member, realm parsec.VlobID, at parsec.DateTime, ids ...parsec.VlobID) (protocol.VlobReadRep, error) {
	t.Helper()
	var rep protocol.VlobReadRep
	err := w.call(t, m, protocol.CmdVlobReadBatch, protocol.VlobReadBatchReq{RealmID: realm, Vlobs: ids, At: at}, &rep)
	return rep, err
}

func (w *world) readVersions(t *testing.T, m *member, realm parsec.VlobID, items ...protocol.VlobVersion) (protocol.VlobReadRep, error) {
	t.Helper()
	var rep protocol.VlobReadRep
	err := w.call(t, m, protocol.CmdVlobReadVersions, protocol.VlobReadVersionsReq{RealmID: realm, Items: items}, &rep)
	return rep, err
}

func (w *world) pollChanges(t *testing.T, m *member, realm parsec.VlobID, checkpoint uint64) (protocol.VlobPollChangesRep, error) {
	t.Helper()
	var rep protocol.VlobPollChangesRep
	err := w.call(t, m, protocol.CmdVlobPollChanges, protocol.VlobPollChangesReq{RealmID: realm, LastCheckpoint: checkpoint}, &rep)
	return rep, err
}

func (w *world) createBlocks(t *testing.T, m *member, realm parsec.VlobID, keyIndex uint64, blocks ...protocol.BlockData) error {
	t.Helper()
	return w.call(t, m, protocol.CmdBlockCreate, protocol.BlockCreateReq{RealmID: realm, KeyIndex: keyIndex, Blocks: blocks}, nil)
}

func (w *world) readBlocks(t *testing.T, m *member, realm parsec.VlobID, ids ...parsec.BlockID) (protocol.BlockReadRep, error) {
	t.Helper()
	var rep protocol.BlockReadRep
	err := w.call(t, m, protocol.CmdBlockRead, protocol.BlockReadReq{RealmID: realm, BlockIDs: ids}, &rep)
	return rep, err
}

// checkpoint is the realm's current checkpoint, as m polls it.
func (w *world) checkpoint(t *testing.T, m *member, realm parsec.VlobID) uint64 {
	t.Helper()
	rep, err := w.pollChanges(t, m, realm, 0)
	wantStatus(t, err, protocol.StatusOK)
	return rep.CurrentCheckpoint
}

// wantVlobDetail checks that a refusal names the vlob.
func wantVlobDetail(t *testing.T, err error, id parsec.VlobID) {
	t.Helper()
	if d := statusDetail(t, err); d.VlobID == nil || *d.VlobID != id {
		t.Errorf("detail names vlob %v, want %s", d.VlobID, id)
	}
}

func wantBlockDetail(t *testing.T, err error, id parsec.BlockID) {
	t.Helper()
	if d := statusDetail(t, err); d.BlockID == nil || *d.BlockID != id {
		t.Errorf("detail names block %v, want %s", d.BlockID, id)
	}
}

func keyIndex(k uint64) *uint64 { return &k }

func TestVlobWrite(t *testing.T) {
	w := newWorld(t, dataUsers)
	realm := w.newRealm(t, dataRealm)
	alice, bob, carol, dave, erin := w.user("alice"), w.user("bob"), w.user("carol"), w.user("dave"), w.user("erin")
	a, b, c, unknown := parsec.NewVlobID(), parsec.NewVlobID(), parsec.NewVlobID(), parsec.NewVlobID()
	lastRealm := func() parsec.DateTime { return w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm)) }

	// The cases run in order; the accepted writes are the state of the next ones.
	tests := []struct {
		name   string
		caller *member
		realm  parsec.VlobID // when not the world's
		key    *uint64       // when not 1
		items  func(at parsec.DateTime) []protocol.VlobWrite
		want   protocol.Status
		detail *parsec.VlobID // the vlob a refusal names
	}{
		{name: "OWNER creates two", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(a, 1, at, "a1"), vw(b, 1, at, "b1")}
		}, want: protocol.StatusOK},
		{name: "CONTRIBUTOR updates and creates", caller: bob, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(a, 2, at, "a2"), vw(c, 1, at, "c1")}
		}, want: protocol.StatusOK},
		{name: "MANAGER updates", caller: dave, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(a, 3, at, "a3")}
		}, want: protocol.StatusOK},
		{name: "empty batch", caller: alice, items: func(parsec.DateTime) []protocol.VlobWrite { return nil }, want: protocol.StatusOK},
		{name: "READER", caller: carol, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(a, 4, at, "a4")}
		}, want: protocol.StatusAuthorNotAllowed},
		{name: "not a member", caller: erin, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(unknown, 1, at, "x")}
		}, want: protocol.StatusAuthorNotAllowed},
		{name: "unknown realm", caller: alice, realm: parsec.NewVlobID(), items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(unknown, 1, at, "x")}
		}, want: protocol.StatusRealmNotFound},
		{name: "key index 0", caller: alice, key: keyIndex(0), items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(unknown, 1, at, "x")}
		}, want: protocol.StatusBadKeyIndex},
		{name: "key index not made yet", caller: alice, key: keyIndex(2), items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(unknown, 1, at, "x")}
		}, want: protocol.StatusBadKeyIndex},
		{name: "create an existing vlob", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(unknown, 1, at, "new"), vw(b, 1, at, "b1 again")}
		}, want: protocol.StatusVlobAlreadyExists, detail: &b},
		{name: "update an unknown vlob", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(b, 2, at, "b2"), vw(unknown, 2, at, "x")}
		}, want: protocol.StatusVlobNotFound, detail: &unknown},
		{name: "update to an existing version", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(a, 3, at, "a3 again")}
		}, want: protocol.StatusBadVlobVersion, detail: &a},
		{name: "update skipping a version", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(b, 2, at, "b2"), vw(a, 5, at, "a5")}
		}, want: protocol.StatusBadVlobVersion, detail: &a},
		{name: "version 0", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(a, 0, at, "a0")}
		}, want: protocol.StatusBadVlobVersion, detail: &a},
		{name: "version 0 of an unknown vlob", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(unknown, 0, at, "x")}
		}, want: protocol.StatusBadVlobVersion, detail: &unknown},
		{name: "same vlob twice", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(b, 2, at, "b2"), vw(b, 3, at, "b3")}
		}, want: protocol.StatusBadRequest, detail: &b},
		{name: "far from the server's time", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(b, 2, at, "b2"), vw(c, 2, at.Add(-time.Hour), "c2")}
		}, want: protocol.StatusTimestampOutOfBallpark, detail: &c},
		{name: "not after the realm's last certificate", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			return []protocol.VlobWrite{vw(b, 2, at, "b2"), vw(c, 2, lastRealm(), "c2")}
		}, want: protocol.StatusRequireGreaterTimestamp, detail: &c},
		{name: "too many", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			items := make([]protocol.VlobWrite, protocol.MaxBatchItems+1)
			for i := range items {
				items[i] = vw(parsec.NewVlobID(), 1, at, "x")
			}
			return items
		}, want: protocol.StatusTooManyElements},
		{name: "as many as allowed", caller: alice, items: func(at parsec.DateTime) []protocol.VlobWrite {
			items := make([]protocol.VlobWrite, protocol.MaxBatchItems)
			for i := range items {
				items[i] = vw(parsec.NewVlobID(), 1, at, "x")
			}
			return items
		}, want: protocol.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, key := realm, uint64(1)
			if !tc.realm.IsZero() {
				in = tc.realm
			}
			if tc.key != nil {
				key = *tc.key
			}
			before := w.checkpoint(t, alice, realm)
			at := w.tick()
			items := tc.items(at)
			err := w.writeVlobs(t, tc.caller, in, key, items...)
			wantStatus(t, err, tc.want)
			after := w.checkpoint(t, alice, realm)
			if tc.want == protocol.StatusOK {
				if after != before+uint64(len(items)) {
					t.Errorf("checkpoint %d after writing %d vlobs, want %d", after, len(items), before+uint64(len(items)))
				}
				return
			}
			if after != before {
				t.Errorf("a refused write moved the checkpoint from %d to %d", before, after)
			}
			if tc.detail != nil {
				wantVlobDetail(t, err, *tc.detail)
			}
			d := statusDetail(t, err)
			switch tc.want {
			case protocol.StatusBadKeyIndex:
				if d.LastCertificateTimestamp != lastRealm() {
					t.Errorf("last_certificate_timestamp = %v, want the realm's last certificate %v", d.LastCertificateTimestamp, lastRealm())
				}
			case protocol.StatusRequireGreaterTimestamp:
				if d.StrictlyGreaterThan != lastRealm() {
					t.Errorf("strictly_greater_than = %v, want the realm's last certificate %v", d.StrictlyGreaterThan, lastRealm())
				}
			case protocol.StatusTimestampOutOfBallpark:
				if d.ServerTimestamp != at || d.ClientTimestamp != at.Add(-time.Hour) {
					t.Errorf("ballpark detail: server %v client %v, want %v and %v", d.ServerTimestamp, d.ClientTimestamp, at, at.Add(-time.Hour))
				}
			}
		})
	}

	rep, err := w.readVlobs(t, carol, realm, 0, a, b, c)
	wantStatus(t, err, protocol.StatusOK)
	var got []string
	for _, it := range rep.Items {
		got = append(got, fmt.Sprintf("%s v%d by %s: %s", parsec.ShortID(it.VlobID), it.Version, parsec.ShortID(it.Author), it.Blob))
	}
	want := []string{
		fmt.Sprintf("%s v3 by %s: a3", parsec.ShortID(a), parsec.ShortID(dave.device)),
		fmt.Sprintf("%s v1 by %s: b1", parsec.ShortID(b), parsec.ShortID(alice.device)),
		fmt.Sprintf("%s v1 by %s: c1", parsec.ShortID(c), parsec.ShortID(bob.device)),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("vlobs after the writes (-want +got):\n%s", diff)
	}
}

// TestVlobWriteAfterCommonCertificate: a vlob comes after the last certificate of the
// common topic too (a user created or revoked after the realm's last certificate).
func TestVlobWriteAfterCommonCertificate(t *testing.T) {
	w := newWorld(t, dataUsers)
	realm := w.newRealm(t, dataRealm)
	alice := w.user("alice")
	w.createUser(t, alice, "frank", parsec.ProfileStandard)
	common := w.lastTimestamp(t, "Acme", metastore.CommonTopic)
	if common <= w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm)) {
		t.Fatal("the common topic should be the most recent")
	}
	id := parsec.NewVlobID()
	err := w.writeVlobs(t, alice, realm, 1, vw(id, 1, common, "x"))
	wantStatus(t, err, protocol.StatusRequireGreaterTimestamp)
	if d := statusDetail(t, err); d.StrictlyGreaterThan != common {
		t.Errorf("strictly_greater_than = %v, want the common topic's last certificate %v", d.StrictlyGreaterThan, common)
	}
	wantVlobDetail(t, err, id)
	wantStatus(t, w.writeVlobs(t, alice, realm, 1, vw(id, 1, w.tick(), "x")), protocol.StatusOK)
}

// TestVlobVersionNotBackdated: a new version of a vlob comes after its last version. Every
// client refuses a history that goes back in time ("versions are never backdated"), and
// two honest devices whose clocks differ by a few seconds wrote one. The refusal names the
// first backdated vlob; its bound is the greatest last timestamp among them, so that the
// batch restamped once after it passes.
func TestVlobVersionNotBackdated(t *testing.T) {
	w := newWorld(t, dataUsers)
	realm := w.newRealm(t, dataRealm)
	alice, bob := w.user("alice"), w.user("bob")
	x, y := parsec.NewVlobID(), parsec.NewVlobID()
	// alice's clock is ahead of the server's and bob's, within the ballpark.
	now := w.tick()
	wantStatus(t, w.writeVlobs(t, alice, realm, 1, vw(x, 1, now.Add(10*time.Second), "x1"), vw(y, 1, now.Add(20*time.Second), "y1")), protocol.StatusOK)
	for _, tc := range []struct {
		name  string
		at    parsec.DateTime
		named parsec.VlobID
	}{
		{"before both", now.Add(5 * time.Second), x},
		{"after x, at y's time", now.Add(20 * time.Second), y},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.checkpoint(t, alice, realm)
			err := w.writeVlobs(t, bob, realm, 1, vw(x, 2, tc.at, "x2"), vw(y, 2, tc.at, "y2"))
			wantStatus(t, err, protocol.StatusRequireGreaterTimestamp)
			wantVlobDetail(t, err, tc.named)
			if d := statusDetail(t, err); d.StrictlyGreaterThan != now.Add(20*time.Second) {
				t.Errorf("strictly_greater_than = %v, want y's last version's %v", d.StrictlyGreaterThan, now.Add(20*time.Second))
			}
			if after := w.checkpoint(t, alice, realm); after != before {
				t.Errorf("a refused write moved the checkpoint from %d to %d", before, after)
			}
		})
	}
	at := now.Add(20*time.Second + time.Microsecond)
	wantStatus(t, w.writeVlobs(t, bob, realm, 1, vw(x, 2, at, "x2"), vw(y, 2, at, "y2")), protocol.StatusOK)
}

// TestVlobWriteKeyRotation: after a rotation, only the new key index is accepted.
func TestVlobWriteKeyRotation(t *testing.T) {
	w := newWorld(t, dataUsers)
	realm := w.newRealm(t, dataRealm)
	alice, bob := w.user("alice"), w.user("bob")
	id := parsec.NewVlobID()
	wantStatus(t, w.writeVlobs(t, bob, realm, 1, vw(id, 1, w.tick(), "v1")), protocol.StatusOK)
	if k := w.rotate(t, alice, realm); k != 2 {
		t.Fatalf("key index %d after the second rotation", k)
	}
	err := w.writeVlobs(t, bob, realm, 1, vw(id, 2, w.tick(), "v2"))
	wantStatus(t, err, protocol.StatusBadKeyIndex)
	if d := statusDetail(t, err); d.LastCertificateTimestamp != w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm)) {
		t.Errorf("last_certificate_timestamp = %v, want the rotation's", d.LastCertificateTimestamp)
	}
	wantStatus(t, w.writeVlobs(t, bob, realm, 2, vw(id, 2, w.tick(), "v2")), protocol.StatusOK)
	rep, err := w.readVlobs(t, bob, realm, 0, id)
	wantStatus(t, err, protocol.StatusOK)
	if len(rep.Items) != 1 || rep.Items[0].KeyIndex != 2 || rep.Items[0].Version != 2 {
		t.Errorf("after the rotation: %+v, want version 2 with key index 2", rep.Items)
	}
}

// TestRoleAfterLastVlob: a role certificate must come after the realm's last vlob.
func TestRoleAfterLastVlob(t *testing.T) {
	w := newWorld(t, dataUsers)
	realm := w.newRealm(t, dataRealm)
	alice, bob, erin := w.user("alice"), w.user("bob"), w.user("erin")
	at := w.tick()
	wantStatus(t, w.writeVlobs(t, bob, realm, 1, vw(parsec.NewVlobID(), 1, at, "x")), protocol.StatusOK)
	err := w.realmShare(t, alice, roleCert(alice, realm, erin.user, parsec.RoleReader, at), []byte("access"), 1)
	wantStatus(t, err, protocol.StatusRequireGreaterTimestamp)
	if d := statusDetail(t, err); d.StrictlyGreaterThan != at {
		t.Errorf("strictly_greater_than = %v, want the last vlob's timestamp %v", d.StrictlyGreaterThan, at)
	}
	w.share(t, alice, realm, erin, parsec.RoleReader)
}

func TestVlobRead(t *testing.T) {
	w := newWorld(t, dataUsers)
	realm := w.newRealm(t, dataRealm)
	alice, bob, carol, erin := w.user("alice"), w.user("bob"), w.user("carol"), w.user("erin")
	a, b, unknown := parsec.NewVlobID(), parsec.NewVlobID(), parsec.NewVlobID()
	t1 := w.tick()
	wantStatus(t, w.writeVlobs(t, alice, realm, 1, vw(a, 1, t1, "a1")), protocol.StatusOK)
	t2 := w.tick()
	wantStatus(t, w.writeVlobs(t, bob, realm, 1, vw(a, 2, t2, "a2"), vw(b, 1, t2, "b1")), protocol.StatusOK)
	t3 := w.tick()
	wantStatus(t, w.writeVlobs(t, alice, realm, 1, vw(a, 3, t3, "a3")), protocol.StatusOK)
	item := func(id parsec.VlobID, version uint64, by *member, at parsec.DateTime, blob string) protocol.VlobItem {
		return protocol.VlobItem{VlobID: id, KeyIndex: 1, Author: by.device, Version: version, Timestamp: at, Blob: []byte(blob)}
	}
	a1, a2, a3, b1 := item(a, 1, alice, t1, "a1"), item(a, 2, bob, t2, "a2"), item(a, 3, alice, t3, "a3"), item(b, 1, bob, t2, "b1")
	neededCommon := w.lastTimestamp(t, "Acme", metastore.CommonTopic)
	neededRealm := w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm))

	t.Run("batch", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			at   parsec.DateTime
			ids  []parsec.VlobID
			want []protocol.VlobItem
		}{
			{"latest", 0, []parsec.VlobID{b, a}, []protocol.VlobItem{b1, a3}},
			{"unknown skipped, repeated once", 0, []parsec.VlobID{unknown, a, b, a}, []protocol.VlobItem{a3, b1}},
			{"none asked", 0, nil, nil},
			{"before the first", t1 - 1, []parsec.VlobID{a, b}, nil},
			{"at the first", t1, []parsec.VlobID{a, b}, []protocol.VlobItem{a1}},
			{"between", t2 - 1, []parsec.VlobID{a, b}, []protocol.VlobItem{a1}},
			{"at the second", t2, []parsec.VlobID{a, b}, []protocol.VlobItem{a2, b1}},
			{"at the last", t3, []parsec.VlobID{a, b}, []protocol.VlobItem{a3, b1}},
			{"later", t3.Add(time.Hour), []parsec.VlobID{a, b}, []protocol.VlobItem{a3, b1}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, m := range []*member{alice, carol} {
					rep, err := w.readVlobs(t, m, realm, tc.at, tc.ids...)
					wantStatus(t, err, protocol.StatusOK)
					want := protocol.VlobReadRep{Items: tc.want, NeededCommonCertificateTimestamp: neededCommon, NeededRealmCertificateTimestamp: neededRealm}
					if diff := cmp.Diff(want, rep, cmpopts.EquateEmpty()); diff != "" {
						t.Errorf("read by %s (-want +got):\n%s", m.email, diff)
					}
				}
			})
		}
	})
	t.Run("versions", func(t *testing.T) {
		rep, err := w.readVersions(t, carol, realm, protocol.VlobVersion{VlobID: a, Version: 2}, protocol.VlobVersion{VlobID: b, Version: 2},
			protocol.VlobVersion{VlobID: a, Version: 1}, protocol.VlobVersion{VlobID: unknown, Version: 1},
			protocol.VlobVersion{VlobID: a, Version: 0}, protocol.VlobVersion{VlobID: a, Version: 2})
		wantStatus(t, err, protocol.StatusOK)
		want := protocol.VlobReadRep{Items: []protocol.VlobItem{a2, a1}, NeededCommonCertificateTimestamp: neededCommon, NeededRealmCertificateTimestamp: neededRealm}
		if diff := cmp.Diff(want, rep, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("read versions (-want +got):\n%s", diff)
		}
	})
	t.Run("refused", func(t *testing.T) {
		many := make([]parsec.VlobID, protocol.MaxBatchItems+1)
		manyVersions := make([]protocol.VlobVersion, protocol.MaxBatchItems+1)
		for i := range many {
			many[i] = parsec.NewVlobID()
			manyVersions[i] = protocol.VlobVersion{VlobID: many[i], Version: 1}
		}
		other := parsec.NewVlobID()
		for _, tc := range []struct {
			name string
			err  func() error
			want protocol.Status
		}{
			{"batch by a non-member", func() error { _, err := w.readVlobs(t, erin, realm, 0, a); return err }, protocol.StatusAuthorNotAllowed},
			{"versions by a non-member", func() error {
				_, err := w.readVersions(t, erin, realm, protocol.VlobVersion{VlobID: a, Version: 1})
				return err
			}, protocol.StatusAuthorNotAllowed},
			{"batch of an unknown realm", func() error { _, err := w.readVlobs(t, alice, other, 0, a); return err }, protocol.StatusRealmNotFound},
			{"versions of an unknown realm", func() error {
				_, err := w.readVersions(t, alice, other, protocol.VlobVersion{VlobID: a, Version: 1})
				return err
			}, protocol.StatusRealmNotFound},
			{"batch too large", func() error { _, err := w.readVlobs(t, alice, realm, 0, many...); return err }, protocol.StatusTooManyElements},
			{"versions too many", func() error { _, err := w.readVersions(t, alice, realm, manyVersions...); return err }, protocol.StatusTooManyElements},
			{"as many as allowed", func() error {
				_, err := w.readVlobs(t, alice, realm, 0, many[:protocol.MaxBatchItems]...)
				return err
			}, protocol.StatusOK},
		} {
			t.Run(tc.name, func(t *testing.T) { wantStatus(t, tc.err(), tc.want) })
		}
	})
}

func TestVlobPollChanges(t *testing.T) {
	w := newWorld(t, dataUsers)
	realm := w.newRealm(t, dataRealm)
	alice, bob, carol, erin := w.user("alice"), w.user("bob"), w.user("carol"), w.user("erin")
	a, b, c := parsec.NewVlobID(), parsec.NewVlobID(), parsec.NewVlobID()
	poll := func(m *member, checkpoint uint64) protocol.VlobPollChangesRep {
		t.Helper()
		rep, err := w.pollChanges(t, m, realm, checkpoint)
		wantStatus(t, err, protocol.StatusOK)
		return rep
	}
	if rep := poll(carol, 0); rep.CurrentCheckpoint != 0 || len(rep.Changes) != 0 {
		t.Errorf("a realm without vlobs: %+v, want no change at checkpoint 0", rep)
	}
	// Each write's reply gives the checkpoint after its items.
	for i, write := range []struct {
		by    *member
		items []protocol.VlobWrite
	}{
		{alice, []protocol.VlobWrite{vw(a, 1, w.tick(), ""), vw(b, 1, w.clock.Now(), "")}},
		{bob, []protocol.VlobWrite{vw(a, 2, w.tick(), "")}},
		{bob, []protocol.VlobWrite{vw(c, 1, w.tick(), ""), vw(a, 3, w.clock.Now(), "")}},
	} {
		var rep protocol.VlobWriteRep
		err := w.call(t, write.by, protocol.CmdVlobWrite, protocol.VlobWriteReq{RealmID: realm, KeyIndex: 1, Items: write.items}, &rep)
		wantStatus(t, err, protocol.StatusOK)
		if want := []uint64{2, 3, 5}[i]; rep.Checkpoint != want {
			t.Errorf("write %d: reply's checkpoint %d, want %d", i+1, rep.Checkpoint, want)
		}
	}
	v := func(id parsec.VlobID, version uint64) protocol.VlobVersion {
		return protocol.VlobVersion{VlobID: id, Version: version}
	}
	for _, tc := range []struct {
		after uint64
		want  []protocol.VlobVersion
	}{
		{0, []protocol.VlobVersion{v(b, 1), v(c, 1), v(a, 3)}},
		{2, []protocol.VlobVersion{v(c, 1), v(a, 3)}},
		{3, []protocol.VlobVersion{v(c, 1), v(a, 3)}},
		{4, []protocol.VlobVersion{v(a, 3)}},
		{5, nil},
		{100, nil},
	} {
		rep := poll(carol, tc.after)
		want := protocol.VlobPollChangesRep{CurrentCheckpoint: 5, Changes: tc.want}
		if diff := cmp.Diff(want, rep, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("changes after %d (-want +got):\n%s", tc.after, diff)
		}
	}
	_, err := w.pollChanges(t, erin, realm, 0)
	wantStatus(t, err, protocol.StatusAuthorNotAllowed)
	_, err = w.pollChanges(t, alice, parsec.NewVlobID(), 0)
	wantStatus(t, err, protocol.StatusRealmNotFound)
}

// TestVlobEvents: each vlob written is announced to the realm's other members, with its
// blob when small; the author's device and non-members do not get it.
func TestVlobEvents(t *testing.T) {
	w := newWorld(t, dataUsers)
	realm := w.newRealm(t, dataRealm)
	alice, bob, erin := w.user("alice"), w.user("bob"), w.user("erin")
	streams := map[*member]*eventStream{}
	for _, m := range []*member{alice, bob, erin} {
		streams[m] = w.openEvents(t, m, "")
		streams[m].wantConfig(t, defaultConfig)
	}
	small, large := bytes.Repeat([]byte{'s'}, protocol.InlineEventBlob), bytes.Repeat([]byte{'l'}, protocol.InlineEventBlob+1)
	a, b := parsec.NewVlobID(), parsec.NewVlobID()
	at := w.tick()
	wantStatus(t, w.writeVlobs(t, alice, realm, 1, protocol.VlobWrite{VlobID: a, Version: 1, Timestamp: at, Blob: small},
		protocol.VlobWrite{VlobID: b, Version: 1, Timestamp: at, Blob: large}), protocol.StatusOK)
	lastCommon := w.lastTimestamp(t, "Acme", metastore.CommonTopic)
	lastRealm := w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm))
	vlobEvent := func(m *member) protocol.EventVlobData {
		t.Helper()
		_, ev := streams[m].nextEvent(t, protocol.EventVlob)
		var got protocol.EventVlobData
		if err := protocol.DecodeEvent(ev.Data, &got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	base := protocol.EventVlobData{RealmID: realm, Author: alice.device, Timestamp: at, Version: 1, KeyIndex: 1,
		LastCommonCertificateTimestamp: lastCommon, LastRealmCertificateTimestamp: lastRealm}
	wantA, wantB := base, base
	wantA.VlobID, wantA.Blob = a, small
	wantB.VlobID = b // too large to travel with the event
	for i, want := range []protocol.EventVlobData{wantA, wantB} {
		if diff := cmp.Diff(want, vlobEvent(bob)); diff != "" {
			t.Errorf("event %d (-want +got):\n%s", i, diff)
		}
	}
	// Bob writes: alice's first event is his, so she did not get her own.
	at2 := w.tick()
	wantStatus(t, w.writeVlobs(t, bob, realm, 1, vw(a, 2, at2, "by bob")), protocol.StatusOK)
	got := vlobEvent(alice)
	if got.VlobID != a || got.Version != 2 || got.Author != bob.device || string(got.Blob) != "by bob" {
		t.Errorf("alice's first event: %+v, want bob's version 2 of %s", got, a)
	}
	// A certificate for everyone: it is erin's first event, so she got no vlob event.
	frank := w.createUser(t, alice, "frank", parsec.ProfileStandard)
	wantStatus(t, w.revoke(t, alice, revokeCert(alice, frank.user, w.tick())), protocol.StatusOK)
	streams[erin].nextEvent(t, protocol.EventCommonCertificate)
}

// TestArchivedRealm: an archived realm refuses writes and still serves reads; back to
// available, it takes writes again.
func TestArchivedRealm(t *testing.T) {
	w := newWorld(t, dataUsers)
	realm := w.newRealm(t, dataRealm)
	alice, bob, carol := w.user("alice"), w.user("bob"), w.user("carol")
	archive := func(t *testing.T, configuration string) {
		t.Helper()
		wantStatus(t, w.realmArchive(t, alice, archivingCert(alice, realm, configuration, 0, w.tick())), protocol.StatusOK)
	}
	a := parsec.NewVlobID()
	block := protocol.BlockData{BlockID: parsec.NewBlockID(), Data: []byte("block")}
	wantStatus(t, w.writeVlobs(t, bob, realm, 1, vw(a, 1, w.tick(), "a1")), protocol.StatusOK)
	wantStatus(t, w.createBlocks(t, bob, realm, 1, block), protocol.StatusOK)
	for _, configuration := range []string{metastore.ArchivingArchived, metastore.ArchivingDeletionPlanned} {
		t.Run(configuration, func(t *testing.T) {
			if configuration == metastore.ArchivingDeletionPlanned {
				deletion := w.clock.Now().Add(60 * 24 * time.Hour)
				wantStatus(t, w.realmArchive(t, alice, archivingCert(alice, realm, configuration, deletion, w.tick())), protocol.StatusOK)
			} else {
				archive(t, configuration)
			}
			wantStatus(t, w.writeVlobs(t, bob, realm, 1, vw(a, 2, w.tick(), "a2")), protocol.StatusRealmArchived)
			wantStatus(t, w.writeVlobs(t, alice, realm, 1, vw(parsec.NewVlobID(), 1, w.tick(), "new")), protocol.StatusRealmArchived)
			wantStatus(t, w.createBlocks(t, bob, realm, 1, protocol.BlockData{BlockID: parsec.NewBlockID(), Data: []byte("x")}), protocol.StatusRealmArchived)
			rep, err := w.readVlobs(t, carol, realm, 0, a)
			wantStatus(t, err, protocol.StatusOK)
			if len(rep.Items) != 1 || string(rep.Items[0].Blob) != "a1" {
				t.Errorf("read in an archived realm: %+v", rep.Items)
			}
			_, err = w.readVersions(t, carol, realm, protocol.VlobVersion{VlobID: a, Version: 1})
			wantStatus(t, err, protocol.StatusOK)
			if p, err := w.pollChanges(t, carol, realm, 0); err != nil || p.CurrentCheckpoint != 1 {
				t.Errorf("poll in an archived realm: %+v, %v", p, err)
			}
			blocks, err := w.readBlocks(t, carol, realm, block.BlockID)
			wantStatus(t, err, protocol.StatusOK)
			if len(blocks.Blocks) != 1 || string(blocks.Blocks[0].Data) != "block" {
				t.Errorf("block read in an archived realm: %+v", blocks.Blocks)
			}
		})
	}
	archive(t, metastore.ArchivingAvailable)
	wantStatus(t, w.writeVlobs(t, bob, realm, 1, vw(a, 2, w.tick(), "a2")), protocol.StatusOK)
	wantStatus(t, w.createBlocks(t, bob, realm, 1, protocol.BlockData{BlockID: parsec.NewBlockID(), Data: []byte("x")}), protocol.StatusOK)
}

func TestBlocks(t *testing.T) {
	flaky := &flakyBlocks{}
	w := newWorld(t, dataUsers, func(c *Config) { flaky.Store, c.Blocks = c.Blocks, flaky })
	realm := w.newRealm(t, dataRealm)
	alice, bob, carol, dave, erin := w.user("alice"), w.user("bob"), w.user("carol"), w.user("dave"), w.user("erin")
	other := w.newRealm(t, "alice:owner") // alice's only
	bd := func(data string) protocol.BlockData {
		return protocol.BlockData{BlockID: parsec.NewBlockID(), Data: []byte(data)}
	}
	x, y, empty, z := bd("x by alice"), bd("y by bob"), bd(""), bd("z by dave")
	inOther := bd("in the other realm")
	unknown := parsec.NewBlockID()

	t.Run("create", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			caller *member
			realm  parsec.VlobID
			key    uint64
			blocks []protocol.BlockData
			want   protocol.Status
			detail *parsec.BlockID
		}{
			{"OWNER", alice, realm, 1, []protocol.BlockData{x, empty}, protocol.StatusOK, nil},
			{"CONTRIBUTOR", bob, realm, 1, []protocol.BlockData{y}, protocol.StatusOK, nil},
			{"MANAGER", dave, realm, 1, []protocol.BlockData{z}, protocol.StatusOK, nil},
			{"in another realm", alice, other, 1, []protocol.BlockData{inOther}, protocol.StatusOK, nil},
			{"again: a retry", bob, realm, 1, []protocol.BlockData{bd("new"), {BlockID: y.BlockID, Data: []byte("retried")}}, protocol.StatusOK, nil},
			{"none", bob, realm, 1, nil, protocol.StatusOK, nil},
			{"READER", carol, realm, 1, []protocol.BlockData{bd("r")}, protocol.StatusAuthorNotAllowed, nil},
			{"not a member", erin, realm, 1, []protocol.BlockData{bd("e")}, protocol.StatusAuthorNotAllowed, nil},
			{"unknown realm", alice, parsec.NewVlobID(), 1, []protocol.BlockData{bd("u")}, protocol.StatusRealmNotFound, nil},
			{"key index 0", alice, realm, 0, []protocol.BlockData{bd("k")}, protocol.StatusBadKeyIndex, nil},
			{"key index not made yet", alice, realm, 2, []protocol.BlockData{bd("k")}, protocol.StatusBadKeyIndex, nil},
			{"ID taken in another realm", alice, realm, 1, []protocol.BlockData{bd("fresh"), {BlockID: inOther.BlockID, Data: []byte("steal")}},
				protocol.StatusBlockAlreadyExists, &inOther.BlockID},
			{"same block twice", bob, realm, 1, []protocol.BlockData{z, z}, protocol.StatusBadRequest, &z.BlockID},
			{"block too large", bob, realm, 1, []protocol.BlockData{{BlockID: unknown, Data: make([]byte, protocol.MaxBlockSize+1)}},
				protocol.StatusBadRequest, &unknown},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := w.createBlocks(t, tc.caller, tc.realm, tc.key, tc.blocks...)
				wantStatus(t, err, tc.want)
				if tc.detail != nil {
					wantBlockDetail(t, err, *tc.detail)
				}
				if tc.want == protocol.StatusBadKeyIndex {
					if d := statusDetail(t, err); d.LastCertificateTimestamp != w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm)) {
						t.Errorf("last_certificate_timestamp = %v, want the realm's last certificate", d.LastCertificateTimestamp)
					}
				}
				if tc.want == protocol.StatusOK {
					return
				}
				// Nothing of a refused request is stored.
				for _, b := range tc.blocks {
					if b.BlockID == inOther.BlockID || b.BlockID == z.BlockID {
						continue
					}
					_, err := w.readBlocks(t, alice, realm, b.BlockID)
					wantStatus(t, err, protocol.StatusBlockNotFound)
				}
			})
		}
		many := make([]protocol.BlockData, protocol.MaxBatchItems+1)
		for i := range many {
			many[i] = bd("")
		}
		t.Run("too many", func(t *testing.T) {
			wantStatus(t, w.createBlocks(t, alice, realm, 1, many...), protocol.StatusTooManyElements)
		})
		t.Run("as many as allowed", func(t *testing.T) {
			wantStatus(t, w.createBlocks(t, alice, realm, 1, many[:protocol.MaxBatchItems]...), protocol.StatusOK)
		})
	})

	t.Run("read", func(t *testing.T) {
		neededRealm := w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm))
		item := func(b protocol.BlockData) protocol.BlockItem {
			return protocol.BlockItem{BlockID: b.BlockID, KeyIndex: 1, Data: b.Data}
		}
		for _, m := range []*member{alice, carol} {
			rep, err := w.readBlocks(t, m, realm, z.BlockID, x.BlockID, empty.BlockID, y.BlockID, x.BlockID)
			wantStatus(t, err, protocol.StatusOK)
			// y keeps its first bytes: the retry in the same realm was skipped.
			want := protocol.BlockReadRep{Blocks: []protocol.BlockItem{item(z), item(x), item(empty), item(y), item(x)},
				NeededRealmCertificateTimestamp: neededRealm}
			if diff := cmp.Diff(want, rep, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("read by %s (-want +got):\n%s", m.email, diff)
			}
		}
		for _, tc := range []struct {
			name   string
			caller *member
			realm  parsec.VlobID
			ids    []parsec.BlockID
			want   protocol.Status
			detail *parsec.BlockID
		}{
			{"unknown block", carol, realm, []parsec.BlockID{x.BlockID, unknown}, protocol.StatusBlockNotFound, &unknown},
			{"block of another realm", alice, realm, []parsec.BlockID{inOther.BlockID, x.BlockID}, protocol.StatusBlockNotFound, &inOther.BlockID},
			{"not a member", erin, realm, []parsec.BlockID{x.BlockID}, protocol.StatusAuthorNotAllowed, nil},
			{"not a member of the other realm", bob, other, []parsec.BlockID{inOther.BlockID}, protocol.StatusAuthorNotAllowed, nil},
			{"unknown realm", alice, parsec.NewVlobID(), []parsec.BlockID{x.BlockID}, protocol.StatusRealmNotFound, nil},
			{"too many", alice, realm, make([]parsec.BlockID, protocol.MaxBatchItems+1), protocol.StatusTooManyElements, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := w.readBlocks(t, tc.caller, tc.realm, tc.ids...)
				wantStatus(t, err, tc.want)
				if tc.detail != nil {
					wantBlockDetail(t, err, *tc.detail)
				}
			})
		}
	})

	t.Run("too many bytes", func(t *testing.T) {
		big := make([]protocol.BlockData, 4)
		for i := range big {
			big[i] = protocol.BlockData{BlockID: parsec.NewBlockID(), Data: bytes.Repeat([]byte{byte(i)}, protocol.MaxReadBytes/3)}
		}
		wantStatus(t, w.createBlocks(t, alice, realm, 1, big[:2]...), protocol.StatusOK)
		wantStatus(t, w.createBlocks(t, alice, realm, 1, big[2:]...), protocol.StatusOK)
		rep, err := w.readBlocks(t, alice, realm, big[0].BlockID, big[1].BlockID, big[2].BlockID)
		wantStatus(t, err, protocol.StatusOK)
		if len(rep.Blocks) != 3 || !bytes.Equal(rep.Blocks[2].Data, big[2].Data) {
			t.Errorf("read of three large blocks: %d blocks", len(rep.Blocks))
		}
		_, err = w.readBlocks(t, alice, realm, big[0].BlockID, big[1].BlockID, big[2].BlockID, big[3].BlockID)
		wantStatus(t, err, protocol.StatusTooManyElements)
	})

	t.Run("a block shorter than the store says", func(t *testing.T) {
		large := protocol.BlockData{BlockID: parsec.NewBlockID(), Data: bytes.Repeat([]byte("large"), 100<<10)}
		wantStatus(t, w.createBlocks(t, alice, realm, 1, large), protocol.StatusOK)
		// A file is sent with sendfile, another reader (an object's body) through a buffer.
		for _, reader := range []bool{false, true} {
			flaky.longer.Store(true)
			flaky.longerReader.Store(reader)
			req := w.signedRequest(t, alice, encodeRequest(t, protocol.CmdBlockRead, protocol.BlockReadReq{RealmID: realm, BlockIDs: []parsec.BlockID{large.BlockID}}), w.clock.Now())
			resp, err := w.hs.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			flaky.longer.Store(false)
			if !errors.Is(err, io.ErrUnexpectedEOF) || n >= resp.ContentLength {
				t.Fatalf("read of a block shorter than announced (not a file: %v): %d of %d bytes, %v; want the reply cut", reader, n, resp.ContentLength, err)
			}
			rep, err := w.readBlocks(t, alice, realm, large.BlockID)
			wantStatus(t, err, protocol.StatusOK)
			if len(rep.Blocks) != 1 || !bytes.Equal(rep.Blocks[0].Data, large.Data) {
				t.Errorf("read again: %d blocks, want the block whole", len(rep.Blocks))
			}
		}
	})

	t.Run("store unavailable", func(t *testing.T) {
		flaky.failPut.Store(true)
		lost := bd("lost")
		wantStatus(t, w.createBlocks(t, bob, realm, 1, lost), protocol.StatusStoreUnavailable)
		flaky.failPut.Store(false)
		_, err := w.readBlocks(t, bob, realm, lost.BlockID)
		wantStatus(t, err, protocol.StatusBlockNotFound) // no record without its bytes

		flaky.failGet.Store(true)
		_, err = w.readBlocks(t, bob, realm, x.BlockID)
		wantStatus(t, err, protocol.StatusStoreUnavailable)
		flaky.failGet.Store(false)

		// A record whose bytes are gone: the store lost them.
		if err := flaky.Delete(t.Context(), "Acme", x.BlockID); err != nil {
			t.Fatal(err)
		}
		_, err = w.readBlocks(t, bob, realm, x.BlockID)
		wantStatus(t, err, protocol.StatusStoreUnavailable)
		wantStatus(t, w.createBlocks(t, bob, realm, 1, lost), protocol.StatusOK)
	})
}

// The handler benchmarks call the data handlers directly, without HTTP, request signing
// or encoding: what the server itself spends (metadata store, block store, events). See
// data_bench_test.go for the same operations through a real client.

// benchHandlers returns a server on a fresh metadata store and block store, a caller and a
// realm (key index 1) of which the caller is OWNER.
func benchHandlers(b *testing.B) (*Server, *caller, parsec.VlobID) {
	b.Helper()
	w := startServer(b, func(c *Config) { c.Clock = parsec.SystemClock{} })
	c := &caller{
		org:    metastore.Organization{ID: "Bench", CreatedOn: testStart},
		user:   metastore.User{ID: parsec.NewUserID()},
		device: metastore.Device{ID: parsec.NewDeviceID()},
	}
	realm := parsec.NewVlobID()
	err := w.store.Update(b.Context(), func(tx metastore.Tx) error {
		if err := tx.PutOrganization(c.org); err != nil {
			return err
		}
		if err := tx.InsertRealm(c.org.ID, metastore.Realm{ID: realm, CreatedOn: testStart, KeyIndex: 1, Archiving: metastore.ArchivingAvailable}); err != nil {
			return err
		}
		return tx.AddRealmRole(c.org.ID, realm, metastore.RealmRole{User: c.user.ID, Role: parsec.RoleOwner, On: testStart, By: c.device.ID})
	})
	if err != nil {
		b.Fatal(err)
	}
	return w.srv, c, realm
}

// BenchmarkHandlerVlobWrite writes 10,000 vlobs of 300 bytes in batches of 1000 per
// operation.
func BenchmarkHandlerVlobWrite(b *testing.B) {
	s, c, realm := benchHandlers(b)
	blob := bytes.Repeat([]byte{7}, 300)
	const n = 10_000
	for b.Loop() {
		for range n / protocol.MaxBatchItems {
			req := &protocol.VlobWriteReq{RealmID: realm, KeyIndex: 1, Items: make([]protocol.VlobWrite, protocol.MaxBatchItems)}
			now := parsec.FromTime(time.Now())
			for i := range req.Items {
				req.Items[i] = protocol.VlobWrite{VlobID: parsec.NewVlobID(), Version: 1, Timestamp: now, Blob: blob}
			}
			if _, err := s.vlobWrite(b.Context(), c, req); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "vlobs/s")
}

// BenchmarkHandlerBlockCreate stores 10,000 blocks of 4 KiB in batches of 1000, or one
// batch of sixteen 512 KiB blocks, per operation.
func BenchmarkHandlerBlockCreate(b *testing.B) {
	for _, tc := range []struct {
		name               string
		size, batch, count int
	}{
		{"4KiBx10000", 4 << 10, protocol.MaxBatchItems, 10_000},
		{"512KiBx16", 512 << 10, 16, 16},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, c, realm := benchHandlers(b)
			data := bytes.Repeat([]byte{7}, tc.size)
			b.SetBytes(int64(tc.size * tc.count))
			for b.Loop() {
				for range tc.count / tc.batch {
					req := &protocol.BlockCreateReq{RealmID: realm, KeyIndex: 1, Blocks: make([]protocol.BlockData, tc.batch)}
					for i := range req.Blocks {
						req.Blocks[i] = protocol.BlockData{BlockID: parsec.NewBlockID(), Data: data}
					}
					if _, err := s.blockCreate(b.Context(), c, req); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(tc.count*b.N)/b.Elapsed().Seconds(), "blocks/s")
		})
	}
}

// A block_create request's signature covers each block byte for byte, though the client
// hashes it block by block (protocol.BodyHash): a body changed after signing, in one byte of
// one block, is refused, and no block of it is stored.
func TestBlockCreateSignedBlockByBlock(t *testing.T) {
	w := newWorld(t, "alice:admin")
	alice := w.user("alice")
	realm := w.newRealm(t, "alice:owner")
	blocks := []protocol.BlockData{
		{BlockID: parsec.NewBlockID(), Data: bytes.Repeat([]byte("a"), 1000)},
		{BlockID: parsec.NewBlockID(), Data: bytes.Repeat([]byte("b"), 1000)},
	}
	body := encodeRequest(t, protocol.CmdBlockCreate, protocol.BlockCreateReq{RealmID: realm, KeyIndex: 1, Blocks: blocks})
	req := w.signedRequest(t, alice, body, w.clock.Now())
	changed := bytes.Clone(body)
	changed[bytes.Index(changed, blocks[1].Data)+500] ^= 1 // one byte of the second block's data
	var env struct {
		Cmd string                   `cbor:"cmd"`
		Req *protocol.BlockCreateReq `cbor:"req"`
	}
	if err := codec.Unmarshal(changed, &env); err != nil || len(env.Req.Blocks) != 2 || bytes.Equal(env.Req.Blocks[1].Data, blocks[1].Data) {
		t.Fatalf("the changed body does not decode with another second block (%v): the test tests nothing", err)
	}
	req.Body = io.NopCloser(bytes.NewReader(changed))
	req.ContentLength = int64(len(changed))
	wantCode(t, w.do(t, req), 403)
	_, err := w.readBlocks(t, alice, realm, blocks[0].BlockID)
	wantStatus(t, err, protocol.StatusBlockNotFound)

	wantStatus(t, w.createBlocks(t, alice, realm, 1, blocks...), protocol.StatusOK)
	rep, err := w.readBlocks(t, alice, realm, blocks[1].BlockID)
	wantStatus(t, err, protocol.StatusOK)
	if len(rep.Blocks) != 1 || !bytes.Equal(rep.Blocks[0].Data, blocks[1].Data) {
		t.Fatal("the block read back is not the one signed")
	}
}
