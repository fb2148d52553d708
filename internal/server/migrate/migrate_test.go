package migrate

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore/disk"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlite"
)

func openStores(t *testing.T) Stores {
	t.Helper()
	dir := t.TempDir()
	meta, err := sqlite.Open(t.Context(), filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := disk.Open(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close(); blocks.Close() })
	return Stores{Meta: meta, Blocks: blocks}
}

// A copy of a workspace with a block; run again it skips everything; a block changed in the
// target is found by the check.
func TestCopy(t *testing.T) {
	ctx := t.Context()
	from, to := openStores(t), openStores(t)
	realm, dev, block, user := parsec.NewVlobID(), parsec.NewDeviceID(), parsec.NewBlockID(), parsec.NewUserID()
	setup := metastore.RecoverySetup{User: user, Timestamp: 2500, CipheredData: []byte("device"), RevealToken: parsec.NewAccessToken(),
		Shares: map[parsec.UserID][]byte{parsec.NewUserID(): []byte("share")}}
	err := from.Meta.Update(ctx, func(tx metastore.Tx) error {
		if err := tx.PutOrganization(metastore.Organization{ID: "Acme", CreatedOn: 1000}); err != nil {
			return err
		}
		if err := tx.InsertRealm("Acme", metastore.Realm{ID: realm, CreatedOn: 2000, KeyIndex: 1, Archiving: metastore.ArchivingAvailable}); err != nil {
			return err
		}
		if err := tx.AddCertificate("Acme", metastore.Certificate{Topic: metastore.RealmTopic(realm), Timestamp: 2000, Kind: "realm_role", Data: []byte("cert")}); err != nil {
			return err
		}
		atoms := []metastore.VlobAtom{{VlobID: realm, Version: 1, KeyIndex: 1, Blob: []byte("v1"), Author: dev, Timestamp: 3000},
			{VlobID: realm, Version: 2, KeyIndex: 1, Blob: []byte("v2"), Author: dev, Timestamp: 4000}}
		for _, a := range atoms {
			if _, err := tx.AppendVlobAtoms("Acme", realm, []metastore.VlobAtom{a}); err != nil {
				return err
			}
		}
		if err := tx.AddCertificate("Acme", metastore.Certificate{Topic: metastore.RecoveryTopic(user), Timestamp: 2500, Kind: "shamir_recovery_brief_certificate", Data: []byte("setup")}); err != nil {
			return err
		}
		if err := tx.InsertRecoverySetup("Acme", setup); err != nil {
			return err
		}
		return tx.InsertBlocks("Acme", []metastore.Block{{ID: block, Realm: realm, Author: dev, Size: 5, KeyIndex: 1, CreatedOn: 3000}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := from.Blocks.Put(ctx, "Acme", block, []byte("bytes")); err != nil {
		t.Fatal(err)
	}

	sum, err := Copy(ctx, from, to, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Certificates: 2, Realms: 1, VlobVersions: 2, Blocks: 1}
	if len(sum.Organizations) != 1 || sum.Organizations[0].Skipped || sum.Organizations[0].Counts != want || sum.BlocksCopied != 1 || sum.BlocksChecked != 1 {
		t.Errorf("first copy: %+v", sum)
	}
	err = to.Meta.View(ctx, func(tx metastore.Tx) error {
		got, err := tx.RecoverySetup("Acme", user)
		if err != nil || string(got.CipheredData) != "device" || len(got.Shares) != 1 || got.RevealToken != setup.RevealToken {
			t.Errorf("shared-recovery setup in the target: %+v, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, err = Copy(ctx, from, to, t.Logf)
	if err != nil || !sum.Organizations[0].Skipped || sum.BlocksSkipped != 1 || sum.BlocksCopied != 0 {
		t.Errorf("second copy: %+v, %v", sum, err)
	}

	if err := to.Blocks.Put(context.Background(), "Acme", block, []byte("BYTES")); err != nil {
		t.Fatal(err)
	}
	if _, err := Copy(ctx, from, to, t.Logf); err == nil || !strings.Contains(err.Error(), "differs in the target block store") {
		t.Errorf("a changed block: %v, want a difference found", err)
	}
}
