package metastoretest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

func testData(t *testing.T, s metastore.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s metastore.Store)
	}{
		{"Vlobs", testDataVlobs},
		{"TimeTravel", testDataTimeTravel},
		{"Changes", testDataChanges},
		{"VlobExists", testDataVlobExists},
		{"LargeBatch", testDataLargeBatch},
		{"Blocks", testDataBlocks},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, s) })
	}
}

// dataRealms creates an organization and realms in it (idempotent per organization).
func dataRealms(t *testing.T, s metastore.Store, org parsec.OrganizationID, n int) []parsec.VlobID {
	t.Helper()
	ids := make([]parsec.VlobID, n)
	update(t, s, func(tx metastore.Tx) error {
		if _, err := tx.Organization(org); errors.Is(err, metastore.ErrNotFound) {
			if err := tx.PutOrganization(sampleOrg(org)); err != nil {
				return err
			}
		}
		for i := range ids {
			ids[i] = parsec.NewVlobID()
			if err := tx.InsertRealm(org, metastore.Realm{ID: ids[i], CreatedOn: 1000, KeyIndex: 1, Archiving: metastore.ArchivingAvailable}); err != nil {
				return err
			}
		}
		return nil
	})
	return ids
}

func atom(id parsec.VlobID, version uint64, ts parsec.DateTime, author parsec.DeviceID, blob string) metastore.VlobAtom {
	return metastore.VlobAtom{VlobID: id, Version: version, KeyIndex: 1, Blob: []byte(blob), Author: author, Timestamp: ts}
}

// appendAtoms appends atoms to a realm's log and returns the checkpoint after them.
func appendAtoms(t *testing.T, s metastore.Store, org parsec.OrganizationID, realm parsec.VlobID, atoms ...metastore.VlobAtom) uint64 {
	t.Helper()
	var checkpoint uint64
	update(t, s, func(tx metastore.Tx) (err error) {
		checkpoint, err = tx.AppendVlobAtoms(org, realm, atoms)
		return err
	})
	return checkpoint
}

func testDataVlobs(t *testing.T, s metastore.Store) {
	realms := dataRealms(t, s, "Acme", 2)
	r1, r2 := realms[0], realms[1]
	other := dataRealms(t, s, "Other", 1)[0]
	alice, bob := parsec.NewDeviceID(), parsec.NewDeviceID()
	a, b, unknown := parsec.NewVlobID(), parsec.NewVlobID(), parsec.NewVlobID()

	view(t, s, func(tx metastore.Tx) error {
		if ts, err := tx.LastVlobTimestamp("Acme", r1); err != nil || !ts.IsZero() {
			return fmt.Errorf("last vlob timestamp of a realm without vlobs: %v, %v; want zero", ts, err)
		}
		got, err := tx.LatestVlobAtoms("Acme", r1, []parsec.VlobID{a}, 0)
		if err != nil || len(got) != 0 {
			return fmt.Errorf("latest atoms of a realm without vlobs: %v, %v; want none", got, err)
		}
		return nil
	})

	// b's second version is dated before its first (the store does not check; servers
	// before the check stored such): its last version's timestamp is not its greatest.
	a1, b1 := atom(a, 1, 5000, alice, "a1"), atom(b, 1, 6500, alice, "")
	a2 := atom(a, 2, 7000, bob, "a2")
	b2 := atom(b, 2, 6000, bob, "b2 is longer")
	b2.KeyIndex = 2
	appendAtoms(t, s, "Acme", r1, a1, b1)
	appendAtoms(t, s, "Acme", r1, a2, b2)
	// Same vlob IDs elsewhere: another realm, another organization.
	appendAtoms(t, s, "Acme", r2, atom(a, 1, 9000, alice, "a in r2"))
	appendAtoms(t, s, "Other", other, atom(a, 1, 9500, alice, "a in Other"))

	view(t, s, func(tx metastore.Tx) error {
		if ts, err := tx.LastVlobTimestamp("Acme", r1); err != nil || ts != 7000 {
			return fmt.Errorf("last vlob timestamp: %v, %v; want 7000 (the greatest, not the last written)", ts, err)
		}
		if ts, err := tx.LastVlobTimestamp("Acme", r2); err != nil || ts != 9000 {
			return fmt.Errorf("last vlob timestamp of r2: %v, %v; want 9000", ts, err)
		}
		versions, err := tx.LastVlobVersions("Acme", r1, []parsec.VlobID{a, unknown, b})
		if err != nil {
			return err
		}
		want := map[parsec.VlobID]metastore.LastVersion{a: {Version: 2, Timestamp: 7000}, b: {Version: 2, Timestamp: 6000}}
		if diff := cmp.Diff(want, versions); diff != "" {
			return fmt.Errorf("last versions (-want +got):\n%s", diff)
		}
		latest, err := tx.LatestVlobAtoms("Acme", r1, []parsec.VlobID{b, unknown, a}, 0)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.VlobAtom{b2, a2}, latest, cmpopts.EquateEmpty()); diff != "" {
			return fmt.Errorf("latest atoms (-want +got):\n%s", diff)
		}
		exact, err := tx.VlobAtoms("Acme", r1, []metastore.VlobRef{{VlobID: b, Version: 1}, {VlobID: a, Version: 3},
			{VlobID: a, Version: 1}, {VlobID: unknown, Version: 1}, {VlobID: a, Version: 0}})
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.VlobAtom{b1, a1}, exact, cmpopts.EquateEmpty()); diff != "" {
			return fmt.Errorf("atoms by version (-want +got):\n%s", diff)
		}
		if exact[0].Blob == nil {
			return fmt.Errorf("an empty blob read back as nil")
		}
		inR2, err := tx.LatestVlobAtoms("Acme", r2, []parsec.VlobID{a, b}, 0)
		if err != nil {
			return err
		}
		if len(inR2) != 1 || string(inR2[0].Blob) != "a in r2" {
			return fmt.Errorf("realms are not isolated: r2 holds %v", inR2)
		}
		inOther, err := tx.LatestVlobAtoms("Other", other, []parsec.VlobID{a}, 0)
		if err != nil {
			return err
		}
		if len(inOther) != 1 || string(inOther[0].Blob) != "a in Other" {
			return fmt.Errorf("organizations are not isolated: Other holds %v", inOther)
		}
		return nil
	})
}

func testDataTimeTravel(t *testing.T, s metastore.Store) {
	realm := dataRealms(t, s, "Acme", 1)[0]
	dev := parsec.NewDeviceID()
	a, b := parsec.NewVlobID(), parsec.NewVlobID()
	appendAtoms(t, s, "Acme", realm, atom(a, 1, 1000, dev, "a1"))
	appendAtoms(t, s, "Acme", realm, atom(a, 2, 2000, dev, "a2"), atom(b, 1, 2000, dev, "b1"))
	appendAtoms(t, s, "Acme", realm, atom(a, 3, 3000, dev, "a3"))
	for _, tc := range []struct {
		at   parsec.DateTime
		want []string
	}{
		{999, nil},
		{1000, []string{"a1"}},
		{1999, []string{"a1"}},
		{2000, []string{"a2", "b1"}},
		{2999, []string{"a2", "b1"}},
		{3000, []string{"a3", "b1"}},
		{0, []string{"a3", "b1"}}, // zero: now
	} {
		view(t, s, func(tx metastore.Tx) error {
			got, err := tx.LatestVlobAtoms("Acme", realm, []parsec.VlobID{a, b}, tc.at)
			if err != nil {
				return err
			}
			var blobs []string
			for _, g := range got {
				blobs = append(blobs, string(g.Blob))
			}
			if diff := cmp.Diff(tc.want, blobs); diff != "" {
				return fmt.Errorf("at %d (-want +got):\n%s", tc.at, diff)
			}
			return nil
		})
	}
}

func testDataChanges(t *testing.T, s metastore.Store) {
	realms := dataRealms(t, s, "Acme", 2)
	realm, quiet := realms[0], realms[1]
	dev := parsec.NewDeviceID()
	a, b, c := parsec.NewVlobID(), parsec.NewVlobID(), parsec.NewVlobID()
	// Each append returns the checkpoint after its atoms.
	for i, atoms := range [][]metastore.VlobAtom{
		{atom(a, 1, 1000, dev, ""), atom(b, 1, 1000, dev, "")}, // checkpoints 1, 2
		{atom(a, 2, 2000, dev, "")},                            // 3
		{atom(c, 1, 3000, dev, ""), atom(a, 3, 3000, dev, "")}, // 4, 5
		nil, // nothing appended: still 5
	} {
		if got, want := appendAtoms(t, s, "Acme", realm, atoms...), []uint64{2, 3, 5, 5}[i]; got != want {
			t.Errorf("append %d returned checkpoint %d, want %d", i+1, got, want)
		}
	}
	if got := appendAtoms(t, s, "Acme", quiet); got != 0 {
		t.Errorf("an empty append to a realm without vlobs returned checkpoint %d, want 0", got)
	}
	ref := func(id parsec.VlobID, v uint64) metastore.VlobRef { return metastore.VlobRef{VlobID: id, Version: v} }
	for _, tc := range []struct {
		after uint64
		want  []metastore.VlobRef
	}{
		{0, []metastore.VlobRef{ref(b, 1), ref(c, 1), ref(a, 3)}},
		{1, []metastore.VlobRef{ref(b, 1), ref(c, 1), ref(a, 3)}},
		{2, []metastore.VlobRef{ref(c, 1), ref(a, 3)}},
		{3, []metastore.VlobRef{ref(c, 1), ref(a, 3)}},
		{4, []metastore.VlobRef{ref(a, 3)}},
		{5, nil},
		{99, nil},
	} {
		view(t, s, func(tx metastore.Tx) error {
			got, current, err := tx.VlobChanges("Acme", realm, tc.after, 0)
			if err != nil {
				return err
			}
			if current != 5 {
				return fmt.Errorf("after %d: current checkpoint %d, want 5", tc.after, current)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				return fmt.Errorf("changes after %d (-want +got):\n%s", tc.after, diff)
			}
			return nil
		})
	}
	// Read a span of the log at a time: the last version of each vlob within the span.
	for _, tc := range []struct {
		after, span uint64
		want        []metastore.VlobRef
	}{
		{0, 2, []metastore.VlobRef{ref(a, 1), ref(b, 1)}},
		{2, 2, []metastore.VlobRef{ref(a, 2), ref(c, 1)}},
		{4, 2, []metastore.VlobRef{ref(a, 3)}},
		{0, 5, []metastore.VlobRef{ref(b, 1), ref(c, 1), ref(a, 3)}},
		{1, 1 << 63, []metastore.VlobRef{ref(b, 1), ref(c, 1), ref(a, 3)}},
		{5, 2, nil},
	} {
		view(t, s, func(tx metastore.Tx) error {
			got, current, err := tx.VlobChanges("Acme", realm, tc.after, tc.span)
			if err != nil {
				return err
			}
			if current != 5 {
				return fmt.Errorf("after %d, span %d: current checkpoint %d, want 5", tc.after, tc.span, current)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				return fmt.Errorf("changes after %d, span %d (-want +got):\n%s", tc.after, tc.span, diff)
			}
			return nil
		})
	}
	view(t, s, func(tx metastore.Tx) error {
		got, current, err := tx.VlobChanges("Acme", quiet, 0, 0)
		if err != nil || current != 0 || len(got) != 0 {
			return fmt.Errorf("changes of a realm without vlobs: %v, checkpoint %d, %v; want none at 0", got, current, err)
		}
		return nil
	})
}

// testDataVlobExists writes a version that is already stored: ErrExists, and the
// transaction abandoned leaves the realm as it was.
func testDataVlobExists(t *testing.T, s metastore.Store) {
	realm := dataRealms(t, s, "Acme", 1)[0]
	dev := parsec.NewDeviceID()
	a, b := parsec.NewVlobID(), parsec.NewVlobID()
	appendAtoms(t, s, "Acme", realm, atom(a, 1, 1000, dev, "first"))
	for name, batch := range map[string][]metastore.VlobAtom{
		"stored before":   {atom(b, 1, 2000, dev, "new"), atom(a, 1, 2000, dev, "again")},
		"twice in batch":  {atom(b, 1, 2000, dev, "new"), atom(b, 1, 2000, dev, "twice")},
		"stored, chunked": append(manyAtoms(250, 2000, dev), atom(a, 1, 2000, dev, "again")),
	} {
		err := s.Update(t.Context(), func(tx metastore.Tx) error {
			_, err := tx.AppendVlobAtoms("Acme", realm, batch)
			return err
		})
		if err := wantExists(name, err); err != nil {
			t.Error(err)
		}
	}
	view(t, s, func(tx metastore.Tx) error {
		changes, current, err := tx.VlobChanges("Acme", realm, 0, 0)
		if err != nil {
			return err
		}
		if current != 1 || len(changes) != 1 {
			return fmt.Errorf("after refused batches: %d changes, checkpoint %d; want 1 and 1", len(changes), current)
		}
		if ts, err := tx.LastVlobTimestamp("Acme", realm); err != nil || ts != 1000 {
			return fmt.Errorf("last vlob timestamp after refused batches: %v, %v; want 1000", ts, err)
		}
		got, err := tx.LatestVlobAtoms("Acme", realm, []parsec.VlobID{a, b}, 0)
		if err != nil || len(got) != 1 || string(got[0].Blob) != "first" {
			return fmt.Errorf("after refused batches: %v, %v; want only the first version of a", got, err)
		}
		return nil
	})
}

func manyAtoms(n int, ts parsec.DateTime, dev parsec.DeviceID) []metastore.VlobAtom {
	out := make([]metastore.VlobAtom, n)
	for i := range out {
		out[i] = atom(parsec.NewVlobID(), 1, ts, dev, fmt.Sprintf("blob %d", i))
	}
	return out
}

// testDataLargeBatch writes and reads batches larger than any statement chunking.
func testDataLargeBatch(t *testing.T, s metastore.Store) {
	realm := dataRealms(t, s, "Acme", 1)[0]
	dev := parsec.NewDeviceID()
	const n = 2500
	first := manyAtoms(n, 1000, dev)
	appendAtoms(t, s, "Acme", realm, first...)
	ids := make([]parsec.VlobID, n)
	second := make([]metastore.VlobAtom, n)
	for i, a := range first {
		ids[i] = a.VlobID
		second[i] = atom(a.VlobID, 2, 2000, dev, fmt.Sprintf("second %d", i))
	}
	appendAtoms(t, s, "Acme", realm, second...)
	view(t, s, func(tx metastore.Tx) error {
		latest, err := tx.LatestVlobAtoms("Acme", realm, ids, 0)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(second, latest); diff != "" {
			return fmt.Errorf("latest of a large batch (-want +got):\n%s", diff)
		}
		before, err := tx.LatestVlobAtoms("Acme", realm, ids, 1500)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(first, before); diff != "" {
			return fmt.Errorf("a large batch at 1500 (-want +got):\n%s", diff)
		}
		versions, err := tx.LastVlobVersions("Acme", realm, ids)
		if err != nil {
			return err
		}
		if len(versions) != n {
			return fmt.Errorf("last versions: %d, want %d", len(versions), n)
		}
		for _, id := range ids {
			if v := versions[id]; v != (metastore.LastVersion{Version: 2, Timestamp: 2000}) {
				return fmt.Errorf("last version of %s: %+v, want version 2 of 2000", id, v)
			}
		}
		changes, current, err := tx.VlobChanges("Acme", realm, n, 0)
		if err != nil {
			return err
		}
		if current != 2*n || len(changes) != n || changes[0] != (metastore.VlobRef{VlobID: ids[0], Version: 2}) {
			return fmt.Errorf("changes after the first batch: %d, checkpoint %d; want %d at %d", len(changes), current, n, 2*n)
		}
		return nil
	})
}

func testDataBlocks(t *testing.T, s metastore.Store) {
	realms := dataRealms(t, s, "Acme", 2)
	r1, r2 := realms[0], realms[1]
	other := dataRealms(t, s, "Other", 1)[0]
	dev := parsec.NewDeviceID()
	block := func(realm parsec.VlobID, size int64) metastore.Block {
		return metastore.Block{ID: parsec.NewBlockID(), Realm: realm, Author: dev, Size: size, KeyIndex: 3, CreatedOn: 4000}
	}
	x, y, z := block(r1, 100), block(r1, 0), block(r2, 4<<20)
	many := make([]metastore.Block, 250)
	for i := range many {
		many[i] = block(r2, int64(i))
	}
	update(t, s, func(tx metastore.Tx) error { return tx.InsertBlocks("Acme", []metastore.Block{x, y}) })
	update(t, s, func(tx metastore.Tx) error { return tx.InsertBlocks("Acme", append([]metastore.Block{z}, many...)) })
	// The same ID in another organization is another block.
	inOther := x
	inOther.Realm = other
	update(t, s, func(tx metastore.Tx) error { return tx.InsertBlocks("Other", []metastore.Block{inOther}) })

	unknown := parsec.NewBlockID()
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.Blocks("Acme", []parsec.BlockID{x.ID, unknown, y.ID, z.ID, many[249].ID})
		if err != nil {
			return err
		}
		want := map[parsec.BlockID]metastore.Block{x.ID: x, y.ID: y, z.ID: z, many[249].ID: many[249]}
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("blocks (-want +got):\n%s", diff)
		}
		got, err = tx.Blocks("Other", []parsec.BlockID{x.ID, y.ID})
		if err != nil {
			return err
		}
		if diff := cmp.Diff(map[parsec.BlockID]metastore.Block{x.ID: inOther}, got); diff != "" {
			return fmt.Errorf("blocks of Other (-want +got):\n%s", diff)
		}
		return nil
	})

	// Every block of a realm, by ID.
	view(t, s, func(tx metastore.Tx) error {
		for _, tc := range []struct {
			org   parsec.OrganizationID
			realm parsec.VlobID
			want  []metastore.Block
		}{
			{"Acme", r1, []metastore.Block{x, y}},
			{"Acme", r2, append([]metastore.Block{z}, many...)},
			{"Other", other, []metastore.Block{inOther}},
			{"Other", r1, nil},
		} {
			got, err := tx.RealmBlocks(tc.org, tc.realm)
			if err != nil {
				return err
			}
			want := slices.SortedFunc(slices.Values(tc.want), func(a, b metastore.Block) int { return bytes.Compare(a.ID[:], b.ID[:]) })
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				return fmt.Errorf("blocks of realm %s of %s (-want +got):\n%s", tc.realm, tc.org, diff)
			}
		}
		return nil
	})

	// An ID taken in the organization, in the same realm or another one.
	fresh := block(r1, 1)
	for name, batch := range map[string][]metastore.Block{
		"same realm":     {fresh, x},
		"another realm":  {fresh, {ID: z.ID, Realm: r1, Author: dev, Size: 1, KeyIndex: 3, CreatedOn: 5000}},
		"twice in batch": {fresh, fresh},
	} {
		err := s.Update(t.Context(), func(tx metastore.Tx) error { return tx.InsertBlocks("Acme", batch) })
		if err := wantExists(name, err); err != nil {
			t.Error(err)
		}
	}
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.Blocks("Acme", []parsec.BlockID{fresh.ID, z.ID})
		if err != nil {
			return err
		}
		if diff := cmp.Diff(map[parsec.BlockID]metastore.Block{z.ID: z}, got); diff != "" {
			return fmt.Errorf("after refused inserts (-want +got):\n%s", diff)
		}
		return nil
	})
}
