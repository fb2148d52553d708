package metastoretest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

func testRecovery(t *testing.T, s metastore.Store) {
	alice, bob, carol := parsec.NewUserID(), parsec.NewUserID(), parsec.NewUserID()
	first := metastore.RecoverySetup{User: alice, Timestamp: 100, CipheredData: []byte("device-1"), RevealToken: parsec.NewAccessToken(),
		Shares: map[parsec.UserID][]byte{bob: []byte("share-bob-1"), carol: []byte("share-carol-1")}}
	second := metastore.RecoverySetup{User: alice, Timestamp: 300, CipheredData: []byte("device-2"), RevealToken: parsec.NewAccessToken(),
		Shares: map[parsec.UserID][]byte{carol: []byte("share-carol-2")}}
	ofBob := metastore.RecoverySetup{User: bob, Timestamp: 200, CipheredData: []byte("device-bob"), RevealToken: parsec.NewAccessToken(),
		Shares: map[parsec.UserID][]byte{carol: []byte("share-carol-bob")}}
	update(t, s, func(tx metastore.Tx) error {
		if err := putOrgs(tx, "SA", "SB"); err != nil {
			return err
		}
		if err := wantNotFound("no setup yet", errOf(tx.RecoverySetup("SA", alice))); err != nil {
			return err
		}
		if err := wantNotFound("deleting no setup", tx.DeleteRecoverySetup("SA", alice, 100, 150)); err != nil {
			return err
		}
		for _, setup := range []metastore.RecoverySetup{first, ofBob} {
			if err := tx.InsertRecoverySetup("SA", setup); err != nil {
				return err
			}
		}
		if err := wantExists("same user and timestamp", tx.InsertRecoverySetup("SA", first)); err != nil {
			return err
		}
		if err := tx.DeleteRecoverySetup("SA", alice, 100, 250); err != nil {
			return err
		}
		// Another organization's user with the same ID is someone else.
		return tx.InsertRecoverySetup("SB", metastore.RecoverySetup{User: alice, Timestamp: 999, CipheredData: []byte("x"),
			Shares: map[parsec.UserID][]byte{}})
	})
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.RecoverySetup("SA", alice)
		if err != nil {
			return err
		}
		want := first
		want.DeletedOn = 250
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("deleted setup (-want +got):\n%s", diff)
		}
		if !got.Deleted() {
			return fmt.Errorf("setup not reported deleted")
		}
		return nil
	})
	update(t, s, func(tx metastore.Tx) error { return tx.InsertRecoverySetup("SA", second) })
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.RecoverySetup("SA", alice)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(second, got); diff != "" {
			return fmt.Errorf("last setup (-want +got):\n%s", diff)
		}
		all, err := tx.RecoverySetups("SA")
		if err != nil {
			return err
		}
		var stamps []parsec.DateTime
		for _, s := range all {
			stamps = append(stamps, s.Timestamp)
		}
		if !slices.Equal(stamps, []parsec.DateTime{100, 200, 300}) || len(all[1].Shares) != 1 {
			return fmt.Errorf("every setup: timestamps %v", stamps)
		}
		for _, tc := range []struct {
			recipient parsec.UserID
			want      []parsec.UserID
		}{{bob, []parsec.UserID{alice}}, {carol, []parsec.UserID{alice, bob}}, {alice, nil}} {
			users, err := tx.RecoveryUsersFor("SA", tc.recipient)
			if err != nil {
				return err
			}
			if !sameUsers(users, tc.want) {
				return fmt.Errorf("users with recipient %s: %v, want %v", tc.recipient, users, tc.want)
			}
		}
		other, err := tx.RecoverySetups("SB")
		if err != nil || len(other) != 1 {
			return fmt.Errorf("other organization: %d setups, %v", len(other), err)
		}
		return nil
	})
}

func sameUsers(a, b []parsec.UserID) bool {
	return len(a) == len(b) && !slices.ContainsFunc(a, func(u parsec.UserID) bool { return !slices.Contains(b, u) })
}
