package metastoretest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// sortedUsers returns n new user IDs in increasing order.
func sortedUsers(n int) []parsec.UserID {
	ids := make([]parsec.UserID, n)
	for i := range ids {
		ids[i] = parsec.NewUserID()
	}
	slices.SortFunc(ids, func(a, b parsec.UserID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

func testRealms(t *testing.T, s metastore.Store) {
	t.Run("Records", func(t *testing.T) { testRealmRecords(t, s) })
	t.Run("Roles", func(t *testing.T) { testRealmRoles(t, s) })
	t.Run("KeysBundles", func(t *testing.T) { testKeysBundles(t, s) })
	t.Run("Rollback", func(t *testing.T) { testRealmRollback(t, s) })
}

func testRealmRecords(t *testing.T, s metastore.Store) {
	r1 := metastore.Realm{ID: parsec.NewVlobID(), CreatedOn: 100, Archiving: metastore.ArchivingAvailable}
	r2 := metastore.Realm{ID: parsec.NewVlobID(), CreatedOn: 200, Archiving: metastore.ArchivingAvailable}
	update(t, s, func(tx metastore.Tx) error {
		if err := putOrgs(tx, "RA", "RB"); err != nil {
			return err
		}
		if err := wantNotFound("unknown realm", errOf(tx.Realm("RA", r1.ID))); err != nil {
			return err
		}
		for _, r := range []metastore.Realm{r1, r2} {
			if err := tx.InsertRealm("RA", r); err != nil {
				return err
			}
		}
		if err := wantExists("duplicate realm", tx.InsertRealm("RA", r1)); err != nil {
			return err
		}
		if err := wantNotFound("update of an unknown realm", tx.UpdateRealm("RA", metastore.Realm{ID: parsec.NewVlobID()})); err != nil {
			return err
		}
		// The same ID in another organization is another realm.
		return tx.InsertRealm("RB", metastore.Realm{ID: r1.ID, CreatedOn: 1, Archiving: metastore.ArchivingArchived})
	})
	view(t, s, func(tx metastore.Tx) error {
		for _, want := range []metastore.Realm{r1, r2} {
			got, err := tx.Realm("RA", want.ID)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want, got); diff != "" {
				return fmt.Errorf("realm round trip (-want +got):\n%s", diff)
			}
			if got.ReadOnly() {
				return fmt.Errorf("an AVAILABLE realm is read-only")
			}
		}
		if err := wantNotFound("realm of another organization", errOf(tx.Realm("RB", r2.ID))); err != nil {
			return err
		}
		return nil
	})
	r1.KeyIndex, r1.Archiving, r1.DeletionDate, r1.Named = 3, metastore.ArchivingDeletionPlanned, 5000, true
	update(t, s, func(tx metastore.Tx) error { return tx.UpdateRealm("RA", r1) })
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.Realm("RA", r1.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(r1, got); diff != "" {
			return fmt.Errorf("realm after update (-want +got):\n%s", diff)
		}
		if !got.ReadOnly() {
			return fmt.Errorf("a realm planned for deletion is not read-only")
		}
		other, err := tx.Realm("RB", r1.ID)
		if err != nil {
			return err
		}
		if other.Archiving != metastore.ArchivingArchived || other.KeyIndex != 0 {
			return fmt.Errorf("the update of a realm changed the realm of the same ID of another organization: %+v", other)
		}
		return nil
	})
}

func testRealmRoles(t *testing.T, s metastore.Store) {
	users := sortedUsers(4)
	a, b, c, d := users[0], users[1], users[2], users[3]
	dev := parsec.NewDeviceID()
	realm, other := parsec.NewVlobID(), parsec.NewVlobID()
	// In order: d creates realm, shares with b then a, changes b, removes a; c is shared
	// the other realm only.
	changes := []metastore.RealmRole{
		{User: d, Role: parsec.RoleOwner, On: 10, By: dev},
		{User: b, Role: parsec.RoleReader, On: 11, By: dev},
		{User: a, Role: parsec.RoleContributor, On: 12, By: dev},
		{User: b, Role: parsec.RoleManager, On: 13, By: dev},
		{User: a, Role: parsec.RoleNone, On: 14, By: dev},
	}
	otherChanges := []metastore.RealmRole{
		{User: c, Role: parsec.RoleOwner, On: 20, By: dev},
		{User: a, Role: parsec.RoleReader, On: 21, By: dev},
	}
	update(t, s, func(tx metastore.Tx) error {
		if err := putOrgs(tx, "RA", "RB"); err != nil {
			return err
		}
		if err := wantNotFound("role in an unknown realm", tx.AddRealmRole("RA", realm, changes[0])); err != nil {
			return err
		}
		for _, id := range []parsec.VlobID{realm, other} {
			if err := tx.InsertRealm("RA", metastore.Realm{ID: id, CreatedOn: 10, Archiving: metastore.ArchivingAvailable}); err != nil {
				return err
			}
		}
		for _, r := range changes {
			if err := tx.AddRealmRole("RA", realm, r); err != nil {
				return err
			}
		}
		for _, r := range otherChanges {
			if err := tx.AddRealmRole("RA", other, r); err != nil {
				return err
			}
		}
		// A realm of the same ID in another organization, where a is OWNER.
		if err := tx.InsertRealm("RB", metastore.Realm{ID: realm, CreatedOn: 1, Archiving: metastore.ArchivingAvailable}); err != nil {
			return err
		}
		return tx.AddRealmRole("RB", realm, metastore.RealmRole{User: a, Role: parsec.RoleOwner, On: 1, By: dev})
	})
	view(t, s, func(tx metastore.Tx) error {
		all, err := tx.RealmRoles("RA", realm)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(changes, all); diff != "" {
			return fmt.Errorf("role changes (-want +got):\n%s", diff)
		}
		for _, tc := range []struct {
			realm parsec.VlobID
			user  parsec.UserID
			want  parsec.RealmRole
		}{
			{realm, d, parsec.RoleOwner},
			{realm, b, parsec.RoleManager},
			{realm, a, parsec.RoleNone},              // removed
			{realm, c, parsec.RoleNone},              // never shared
			{other, a, parsec.RoleReader},            // another realm
			{parsec.NewVlobID(), d, parsec.RoleNone}, // unknown realm
		} {
			got, err := tx.CurrentRealmRole("RA", tc.realm, tc.user)
			if err != nil {
				return err
			}
			if got != tc.want {
				return fmt.Errorf("CurrentRealmRole(%s, %s) = %q, want %q", tc.realm, tc.user, got, tc.want)
			}
		}
		members, err := tx.RealmMembers("RA", realm)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.RealmRole{changes[3], changes[0]}, members); diff != "" {
			return fmt.Errorf("members, by user ID (-want +got):\n%s", diff)
		}
		if members, err := tx.RealmMembers("RA", parsec.NewVlobID()); err != nil || len(members) != 0 {
			return fmt.Errorf("members of an unknown realm: %v, %v", members, err)
		}
		realms, err := tx.UserRealms("RA", a)
		if err != nil {
			return err
		}
		want := []parsec.VlobID{realm, other}
		slices.SortFunc(want, func(x, y parsec.VlobID) int { return bytes.Compare(x[:], y[:]) })
		if diff := cmp.Diff(want, realms); diff != "" {
			return fmt.Errorf("realms of a user who left one (-want +got):\n%s", diff)
		}
		if realms, err := tx.UserRealms("RA", parsec.NewUserID()); err != nil || len(realms) != 0 {
			return fmt.Errorf("realms of a user without any: %v, %v", realms, err)
		}
		last, err := tx.UserRealmRoles("RA", a)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(map[parsec.VlobID]metastore.RealmRole{realm: changes[4], other: otherChanges[1]}, last); diff != "" {
			return fmt.Errorf("last role of a user in each realm (-want +got):\n%s", diff)
		}
		if last, err := tx.UserRealmRoles("RA", parsec.NewUserID()); err != nil || len(last) != 0 {
			return fmt.Errorf("roles of a user without any: %v, %v", last, err)
		}
		if r, err := tx.CurrentRealmRole("RB", realm, a); err != nil || r != parsec.RoleOwner {
			return fmt.Errorf("role in the realm of the same ID of another organization: %q, %v", r, err)
		}
		return nil
	})
}

func testKeysBundles(t *testing.T, s metastore.Store) {
	realm := parsec.NewVlobID()
	alice, bob, carol := parsec.NewUserID(), parsec.NewUserID(), parsec.NewUserID()
	dev := parsec.NewDeviceID()
	k1 := metastore.KeysBundle{KeyIndex: 1, On: 10, By: dev, Canary: []byte("canary1"), Bundle: []byte("bundle1")}
	k2 := metastore.KeysBundle{KeyIndex: 2, On: 20, By: dev, Canary: []byte("canary2"), Bundle: []byte("bundle2")}
	update(t, s, func(tx metastore.Tx) error {
		if err := putOrgs(tx, "RA"); err != nil {
			return err
		}
		if err := wantNotFound("bundle of an unknown realm", tx.InsertKeysBundle("RA", realm, k1, nil)); err != nil {
			return err
		}
		if err := tx.InsertRealm("RA", metastore.Realm{ID: realm, CreatedOn: 1, Archiving: metastore.ArchivingAvailable}); err != nil {
			return err
		}
		if err := tx.InsertKeysBundle("RA", realm, k1, map[parsec.UserID][]byte{alice: []byte("a1"), bob: []byte("b1")}); err != nil {
			return err
		}
		if err := tx.InsertKeysBundle("RA", realm, k2, map[parsec.UserID][]byte{alice: []byte("a2")}); err != nil {
			return err
		}
		if err := wantExists("second bundle of a key index", tx.InsertKeysBundle("RA", realm, k1, nil)); err != nil {
			return err
		}
		// carol is shared the realm at key 2, bob's access to key 1 is given again.
		if err := tx.PutKeysBundleAccess("RA", realm, 2, carol, []byte("c2")); err != nil {
			return err
		}
		if err := tx.PutKeysBundleAccess("RA", realm, 1, bob, []byte("b1-again")); err != nil {
			return err
		}
		return wantNotFound("access to an unknown key index", tx.PutKeysBundleAccess("RA", realm, 3, carol, []byte("c3")))
	})
	view(t, s, func(tx metastore.Tx) error {
		for _, want := range []metastore.KeysBundle{k1, k2} {
			got, err := tx.KeysBundle("RA", realm, want.KeyIndex)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want, got); diff != "" {
				return fmt.Errorf("keys bundle round trip (-want +got):\n%s", diff)
			}
		}
		if err := wantNotFound("bundle of an unknown key index", errOf(tx.KeysBundle("RA", realm, 3))); err != nil {
			return err
		}
		for _, tc := range []struct {
			index uint64
			user  parsec.UserID
			want  string // "" for none
		}{
			{1, alice, "a1"}, {1, bob, "b1-again"}, {1, carol, ""},
			{2, alice, "a2"}, {2, bob, ""}, {2, carol, "c2"},
			{3, alice, ""},
		} {
			got, err := tx.KeysBundleAccess("RA", realm, tc.index, tc.user)
			if tc.want == "" {
				if err := wantNotFound(fmt.Sprintf("access to key %d of a non-participant", tc.index), err); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			if string(got) != tc.want {
				return fmt.Errorf("access to key %d: %q, want %q", tc.index, got, tc.want)
			}
		}
		return nil
	})
}

func testRealmRollback(t *testing.T, s metastore.Store) {
	realm := parsec.NewVlobID()
	user := parsec.NewUserID()
	update(t, s, func(tx metastore.Tx) error { return putOrgs(tx, "RA") })
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx metastore.Tx) error {
		if err := tx.InsertRealm("RA", metastore.Realm{ID: realm, CreatedOn: 1, Archiving: metastore.ArchivingAvailable}); err != nil {
			return err
		}
		if err := tx.AddRealmRole("RA", realm, metastore.RealmRole{User: user, Role: parsec.RoleOwner, On: 1, By: parsec.NewDeviceID()}); err != nil {
			return err
		}
		if err := tx.InsertKeysBundle("RA", realm, metastore.KeysBundle{KeyIndex: 1, On: 2, Canary: []byte("c"), Bundle: []byte("b")},
			map[parsec.UserID][]byte{user: []byte("a")}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	view(t, s, func(tx metastore.Tx) error {
		if err := wantNotFound("realm of a failed transaction", errOf(tx.Realm("RA", realm))); err != nil {
			return err
		}
		if r, err := tx.CurrentRealmRole("RA", realm, user); err != nil || r != parsec.RoleNone {
			return fmt.Errorf("role of a failed transaction: %q, %v", r, err)
		}
		return wantNotFound("bundle of a failed transaction", errOf(tx.KeysBundle("RA", realm, 1)))
	})
}
