package manifest_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// rotation is what a realm's key rotations give: the keys, their canaries (from the
// certificates), and the last bundle.
type rotation struct {
	w        *world
	keys     []crypto.RealmKey
	canaries [][]byte
	bundle   manifest.KeysBundle
	expect   manifest.BundleExpected
}

func newRotation(w *world, n int) *rotation {
	r := &rotation{w: w}
	for range n {
		k := crypto.GenerateRealmKey()
		r.keys = append(r.keys, k)
		r.canaries = append(r.canaries, k.Canary())
	}
	ts := t0.Add(42)
	r.bundle = manifest.KeysBundle{Author: w.alice.ID, Timestamp: ts, RealmID: w.realm, Keys: append([]crypto.RealmKey(nil), r.keys...)}
	r.expect = manifest.BundleExpected{RealmID: w.realm, KeyIndex: uint64(n), Author: w.alice.ID, Timestamp: ts}
	return r
}

func (r *rotation) open(blob []byte, bundleKey crypto.SecretKey) (manifest.OpenedBundle, error) {
	return manifest.OpenKeysBundle(blob, bundleKey, r.expect, r.w.alice.Key.VerifyKey(), r.canaries)
}

func TestKeysBundleRoundTrip(t *testing.T) {
	w := newWorld()
	r := newRotation(w, 3)
	blob, bundleKey := manifest.SealKeysBundle(r.bundle, w.alice.Key)

	// Each member gets the bundle key sealed for its user key.
	member := crypto.GenerateUserKey()
	access, err := manifest.SealKeysBundleAccess(bundleKey, member.Public())
	if err != nil {
		t.Fatal(err)
	}
	got, err := manifest.OpenKeysBundleAccess(access, member)
	if err != nil {
		t.Fatal(err)
	}
	if got != bundleKey {
		t.Fatal("bundle key differs")
	}

	b, err := r.open(blob, got)
	if err != nil {
		t.Fatal(err)
	}
	if b.RealmID != w.realm || b.Author != w.alice.ID || b.Timestamp != r.expect.Timestamp || b.KeyIndex() != 3 {
		t.Errorf("opened %+v", b)
	}
	for i, want := range r.keys {
		k, err := b.Key(uint64(i + 1))
		if err != nil || k != want {
			t.Errorf("Key(%d) = %v, %v", i+1, k == want, err)
		}
		if b.Corrupted(uint64(i + 1)) {
			t.Errorf("key %d marked corrupted", i+1)
		}
	}
	if idx, k, err := b.Last(); idx != 3 || k != r.keys[2] || err != nil {
		t.Errorf("Last() = %d, %v, %v", idx, k == r.keys[2], err)
	}
	if diff := cmp.Diff(r.keys, b.AllKeys()); diff != "" {
		t.Errorf("AllKeys (-want +got):\n%s", diff)
	}
	for _, i := range []uint64{0, 4} {
		_, err := b.Key(i)
		wantErr(t, err, parsec.NotFound, "has no key")
	}
}

// A key that does not match its canary is kept but never handed out for use; when it is
// the last one, opening reports it, distinctly, and still gives the bundle.
func TestKeysBundleCanaries(t *testing.T) {
	w := newWorld()
	t.Run("older key corrupted", func(t *testing.T) {
		r := newRotation(w, 3)
		r.bundle.Keys[1] = crypto.GenerateRealmKey() // the rotating device lied about key 2
		blob, bk := manifest.SealKeysBundle(r.bundle, w.alice.Key)
		b, err := r.open(blob, bk)
		if err != nil {
			t.Fatal(err)
		}
		if !b.Corrupted(2) || b.Corrupted(1) || b.Corrupted(3) {
			t.Errorf("corrupted: %v %v %v, want only 2", b.Corrupted(1), b.Corrupted(2), b.Corrupted(3))
		}
		_, err = b.Key(2)
		wantErr(t, err, parsec.Tampered, "key 2 of realm "+w.realm.String()+" does not match its canary")
		wantIs(t, err, manifest.ErrKeyCorrupted)
		if _, k, err := b.Last(); err != nil || k != r.keys[2] {
			t.Errorf("Last: %v", err)
		}
		if got := b.AllKeys(); got[1] != r.bundle.Keys[1] {
			t.Error("AllKeys does not keep the corrupted key for the next bundle")
		}
	})
	t.Run("last key corrupted", func(t *testing.T) {
		r := newRotation(w, 3)
		r.bundle.Keys[2] = crypto.GenerateRealmKey()
		blob, bk := manifest.SealKeysBundle(r.bundle, w.alice.Key)
		b, err := r.open(blob, bk)
		wantErr(t, err, parsec.Tampered, "key 3 of realm "+w.realm.String()+" does not match its canary", "cannot be used to write")
		wantIs(t, err, manifest.ErrKeyCorrupted)
		if b.KeyIndex() != 3 {
			t.Fatalf("bundle not returned with the error: %+v", b)
		}
		if k, err := b.Key(1); err != nil || k != r.keys[0] {
			t.Errorf("older key refused: %v", err)
		}
		if _, _, err := b.Last(); !errors.Is(err, manifest.ErrKeyCorrupted) {
			t.Errorf("Last() error = %v", err)
		}
	})
	t.Run("canary of another key", func(t *testing.T) {
		r := newRotation(w, 2)
		r.canaries[0] = crypto.GenerateRealmKey().Canary()
		blob, bk := manifest.SealKeysBundle(r.bundle, w.alice.Key)
		b, err := r.open(blob, bk)
		if err != nil || !b.Corrupted(1) {
			t.Fatalf("err %v, corrupted(1) = %v", err, b.Corrupted(1))
		}
	})
}

func TestKeysBundleTampering(t *testing.T) {
	w := newWorld()
	r := newRotation(w, 2)
	blob, bk := manifest.SealKeysBundle(r.bundle, w.alice.Key)
	for _, tc := range []struct {
		name   string
		seal   func() ([]byte, crypto.SecretKey)
		expect func(e *manifest.BundleExpected)
		err    string
		is     error
	}{
		{name: "wrong bundle key", seal: func() ([]byte, crypto.SecretKey) { return blob, crypto.GenerateSecretKey() }, err: "cannot decrypt", is: crypto.ErrDecrypt},
		{name: "flipped byte", seal: func() ([]byte, crypto.SecretKey) {
			c := bytes.Clone(blob)
			c[30] ^= 1
			return c, bk
		}, err: "cannot decrypt"},
		{name: "signed by another device", seal: func() ([]byte, crypto.SecretKey) {
			return manifest.SealKeysBundle(r.bundle, w.bob.Key)
		}, err: "signature of device " + w.alice.ID.String() + " does not verify", is: crypto.ErrBadSignature},
		{name: "certificate by another author", seal: func() ([]byte, crypto.SecretKey) { return blob, bk }, expect: func(e *manifest.BundleExpected) { e.Author = w.bob.ID },
			err: "signed by device " + w.alice.ID.String() + ", the key rotation certificate by " + w.bob.ID.String()},
		{name: "author field differs", seal: sealEdited(r, func(b *manifest.KeysBundle) { b.Author = w.bob.ID }, w.alice),
			err: "signed by device " + w.bob.ID.String() + ", the key rotation certificate by " + w.alice.ID.String()},
		{name: "timestamp differs", seal: func() ([]byte, crypto.SecretKey) { return blob, bk }, expect: func(e *manifest.BundleExpected) { e.Timestamp++ },
			err: "signed at " + r.expect.Timestamp.String() + ", the key rotation certificate at"},
		{name: "bundle of another realm", seal: sealEdited(r, func(b *manifest.KeysBundle) { b.RealmID = parsec.NewVlobID() }, w.alice), err: "the bundle is of realm"},
		{name: "fewer keys than the index", seal: sealEdited(r, func(b *manifest.KeysBundle) { b.Keys = b.Keys[:1] }, w.alice), err: "it has 1 keys"},
		{name: "more keys than the index", seal: sealEdited(r, func(b *manifest.KeysBundle) { b.Keys = append(b.Keys, crypto.GenerateRealmKey()) }, w.alice), err: "it has 3 keys"},
		{name: "unknown field", seal: sealRawBundle(w, withBundleField(t, r.bundle, "evil", 1)), err: "unknown field"},
		{name: "wrong type", seal: sealRawBundle(w, withBundleField(t, r.bundle, "type", "file_manifest")), err: `type is "file_manifest"`},
		{name: "malformed key", seal: sealRawBundle(w, withBundleField(t, r.bundle, "keys", [][]byte{{1, 2}, {3}})), err: "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := r.expect
			if tc.expect != nil {
				tc.expect(&e)
			}
			blob, key := tc.seal()
			b, err := manifest.OpenKeysBundle(blob, key, e, w.alice.Key.VerifyKey(), r.canaries)
			if err == nil {
				t.Fatalf("accepted: %+v", b)
			}
			wantErr(t, err, parsec.Tampered, "keys bundle 2 of realm "+w.realm.String()+": ", tc.err)
			if tc.is != nil {
				wantIs(t, err, tc.is)
			}
			if b.KeyIndex() != 0 {
				t.Error("a bundle is returned with the error")
			}
		})
	}

	t.Run("older bundle replayed", func(t *testing.T) {
		// With the canaries of 3 rotations, the bundle of rotation 2 has one key too few.
		e := r.expect
		e.KeyIndex = 3
		canaries := append(r.canaries, crypto.GenerateRealmKey().Canary())
		_, err := manifest.OpenKeysBundle(blob, bk, e, w.alice.Key.VerifyKey(), canaries)
		wantErr(t, err, parsec.Tampered, "keys bundle 3 of realm "+w.realm.String()+": it has 2 keys")
	})
	t.Run("wrong number of canaries", func(t *testing.T) {
		// A mistake of the caller, not of the server.
		for _, n := range []int{0, 1, 3} {
			canaries := make([][]byte, n)
			copy(canaries, r.canaries)
			_, err := manifest.OpenKeysBundle(blob, bk, r.expect, w.alice.Key.VerifyKey(), canaries)
			wantErr(t, err, parsec.Invalid, "canaries given, want 2")
		}
		e := r.expect
		e.KeyIndex = 0
		_, err := manifest.OpenKeysBundle(blob, bk, e, w.alice.Key.VerifyKey(), nil)
		wantErr(t, err, parsec.Invalid, "0 canaries given, want 0")
	})
}

func sealEdited(r *rotation, edit func(b *manifest.KeysBundle), signer device) func() ([]byte, crypto.SecretKey) {
	return func() ([]byte, crypto.SecretKey) {
		b := r.bundle
		b.Keys = append([]crypto.RealmKey(nil), b.Keys...)
		edit(&b)
		return manifest.SealKeysBundle(b, signer.Key)
	}
}

// withBundleField encodes a bundle with one field changed.
func withBundleField(t testing.TB, b manifest.KeysBundle, key string, value any) []byte {
	t.Helper()
	b.Type = manifest.KindKeysBundle
	var fields map[string]any
	if err := codec.UnmarshalLenient(codec.MustMarshal(b), &fields); err != nil {
		t.Fatal(err)
	}
	fields[key] = value
	return codec.MustMarshal(fields)
}

// sealRawBundle signs and encrypts a bundle body as SealKeysBundle does.
func sealRawBundle(w *world, body []byte) func() ([]byte, crypto.SecretKey) {
	return func() ([]byte, crypto.SecretKey) {
		return manifest.SealKeysBundleBody(body, w.alice.Key)
	}
}

func TestKeysBundleAccess(t *testing.T) {
	alice, bob := crypto.GenerateUserKey(), crypto.GenerateUserKey()
	bk := crypto.GenerateSecretKey()
	access, err := manifest.SealKeysBundleAccess(bk, alice.Public())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("opened by another user", func(t *testing.T) {
		_, err := manifest.OpenKeysBundleAccess(access, bob)
		wantErr(t, err, parsec.Tampered, "keys bundle access: cannot open it with this user's key")
		wantIs(t, err, crypto.ErrDecrypt)
	})
	t.Run("flipped byte", func(t *testing.T) {
		c := bytes.Clone(access)
		c[len(c)-3] ^= 1
		_, err := manifest.OpenKeysBundleAccess(c, alice)
		wantErr(t, err, parsec.Tampered, "cannot open it")
	})
	t.Run("sealed in another domain", func(t *testing.T) {
		other, err := crypto.SealForUser(alice.Public(), "parsec/1/something_else", codec.MustMarshal(map[string]any{"type": "realm_keys_bundle_access", "keys_bundle_key": bk[:]}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = manifest.OpenKeysBundleAccess(other, alice)
		wantErr(t, err, parsec.Tampered, "cannot open it")
	})
	for _, tc := range []struct {
		name string
		body any
		err  string
	}{
		{"wrong type", map[string]any{"type": "x", "keys_bundle_key": bk[:]}, `type is "x"`},
		{"short key", map[string]any{"type": "realm_keys_bundle_access", "keys_bundle_key": bk[:5]}, "malformed"},
		{"unknown field", map[string]any{"type": "realm_keys_bundle_access", "keys_bundle_key": bk[:], "x": 1}, "malformed"},
		{"raw key", bk[:], "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := crypto.SealForUser(alice.Public(), "parsec/1/realm_keys_bundle_access", codec.MustMarshal(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			_, err = manifest.OpenKeysBundleAccess(sealed, alice)
			wantErr(t, err, parsec.Tampered, "keys bundle access: "+tc.err)
		})
	}
}
