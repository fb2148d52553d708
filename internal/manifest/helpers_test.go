package manifest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// t0 is the time of the first manifest of the test world.
var t0 = parsec.FromTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))

type device struct {
	ID  parsec.DeviceID
	Key crypto.SigningKey
}

func newDevice() device { return device{ID: parsec.NewDeviceID(), Key: crypto.GenerateSigningKey()} }

// world is a realm with its key and two devices allowed to write in it.
type world struct {
	realm      parsec.VlobID
	key        crypto.RealmKey
	alice, bob device
}

func newWorld() *world {
	return &world{realm: parsec.NewVlobID(), key: crypto.GenerateRealmKey(), alice: newDevice(), bob: newDevice()}
}

// verifyKey knows alice and bob; any other device is unknown.
func (w *world) verifyKey(id parsec.DeviceID) (crypto.VerifyKey, error) {
	switch id {
	case w.alice.ID:
		return w.alice.Key.VerifyKey(), nil
	case w.bob.ID:
		return w.bob.Key.VerifyKey(), nil
	}
	return crypto.VerifyKey{}, parsec.Errorf(parsec.NotFound, "unknown device %s", id)
}

func header(author device, id, parent parsec.VlobID, version uint64) manifest.Header {
	return manifest.Header{Author: author.ID, Timestamp: t0.Add(time.Duration(version) * time.Second), ID: id, Parent: parent, Version: version, Created: t0, Updated: t0}
}

func (w *world) root(children map[string]parsec.VlobID) *manifest.FolderManifest {
	return &manifest.FolderManifest{Header: header(w.alice, w.realm, w.realm, 1), Children: children}
}

func (w *world) folder(parent parsec.VlobID, children map[string]parsec.VlobID) *manifest.FolderManifest {
	return &manifest.FolderManifest{Header: header(w.alice, parsec.NewVlobID(), parent, 1), Children: children}
}

// file returns a file of 40 bytes in spans of 16, with holes:
//
//	[0, 16) block 0, [16, 20) hole, [20, 28) block 1, [28, 40) hole
func (w *world) file(parent parsec.VlobID) *manifest.FileManifest {
	return &manifest.FileManifest{
		Header:    header(w.alice, parsec.NewVlobID(), parent, 1),
		Size:      28,
		BlockSize: 16,
		Blocks: []manifest.BlockAccess{
			{ID: parsec.NewBlockID(), Offset: 0, Size: 16, Digest: crypto.Sum([]byte("a"))},
			{ID: parsec.NewBlockID(), Offset: 20, Size: 8, Digest: crypto.Sum([]byte("b"))},
		},
	}
}

func expected(w *world, m manifest.Manifest) manifest.Expected {
	h := m.Head()
	return manifest.Expected{RealmID: w.realm, VlobID: h.ID, Version: h.Version, Author: h.Author, Timestamp: h.Timestamp}
}

// wantErr checks that err is of the given kind and that its message contains every
// fragment.
func wantErr(t *testing.T, err error, kind parsec.Kind, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s error containing %q", kind, fragments)
	}
	if got := parsec.KindOf(err); got != kind {
		t.Errorf("error %q: kind %s, want %s", err, got, kind)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not contain %q", err, f)
		}
	}
}

func wantIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("error %q does not wrap %q", err, target)
	}
}
