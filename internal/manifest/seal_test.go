package manifest_test

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

func TestSealOpenRoundTrip(t *testing.T) {
	w := newWorld()
	sub := w.folder(w.realm, nil)
	for _, m := range []manifest.Manifest{
		w.root(map[string]parsec.VlobID{"sub": sub.ID}),
		sub,
		w.file(sub.ID),
	} {
		t.Run(m.Kind(), func(t *testing.T) {
			blob := manifest.Seal(m, w.alice.Key, w.key)
			got, err := manifest.Open(blob, w.key, expected(w, m), w.verifyKey)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// Every way a server (or a member with the realm key) can lie about a manifest is caught,
// with a message naming the vlob and what is wrong.
func TestOpenTampering(t *testing.T) {
	w := newWorld()
	other := newWorld()
	file := w.file(w.realm)
	good := manifest.Seal(file, w.alice.Key, w.key)
	exp := expected(w, file)
	stranger := newDevice()
	prefix := "manifest " + file.ID.String() + " v1: "

	// sealed builds a blob from a modified copy of the file manifest.
	sealed := func(edit func(m *manifest.FileManifest), signer device) []byte {
		c := *file
		c.Blocks = append([]manifest.BlockAccess(nil), file.Blocks...)
		edit(&c)
		return manifest.Seal(&c, signer.Key, w.key)
	}
	raw := func(body []byte) []byte {
		return manifest.SealBody(body, manifest.KindFile, file.ID, w.alice.Key, w.key)
	}
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 1
		return c
	}

	for _, tc := range []struct {
		name   string
		blob   []byte
		key    crypto.RealmKey
		expect func(e *manifest.Expected)
		err    []string
		is     error
		// written: the author signed it invalid (the server did not forge it).
		written bool
	}{
		{name: "flipped byte in the nonce", blob: flip(good, 0), err: []string{"cannot decrypt"}, is: crypto.ErrDecrypt},
		{name: "flipped byte in the ciphertext", blob: flip(good, len(good)/2), err: []string{"cannot decrypt"}, is: crypto.ErrDecrypt},
		{name: "flipped byte in the tag", blob: flip(good, len(good)-1), err: []string{"cannot decrypt"}, is: crypto.ErrDecrypt},
		{name: "truncated", blob: good[:len(good)-1], err: []string{"cannot decrypt"}},
		{name: "empty", blob: nil, err: []string{"cannot decrypt"}},
		{name: "another realm's key", blob: good, key: other.key, err: []string{"cannot decrypt"}},
		{name: "blob of another vlob", blob: manifest.Seal(w.file(w.realm), w.alice.Key, w.key), err: []string{"cannot decrypt"}},
		{name: "manifest of another vlob sealed for this one", blob: manifest.SealBody(manifest.Encode(w.file(w.realm)), manifest.KindFile, file.ID, w.alice.Key, w.key),
			err: []string{"the manifest is of vlob"}},
		{name: "older version replayed", blob: good, expect: func(e *manifest.Expected) { e.Version = 2 }, err: []string{"manifest " + file.ID.String() + " v2: the manifest is version 1"}},
		{name: "version 0", blob: sealed(func(m *manifest.FileManifest) { m.Version = 0 }, w.alice), expect: func(e *manifest.Expected) { e.Version = 0 }, err: []string{"the server gives version 0"}},
		{name: "wrong author", blob: good, expect: func(e *manifest.Expected) { e.Author = w.bob.ID }, err: []string{"signed by device " + w.alice.ID.String() + ", server says " + w.bob.ID.String()}},
		{name: "wrong timestamp", blob: good, expect: func(e *manifest.Expected) { e.Timestamp++ }, err: []string{"signed at " + file.Timestamp.String() + ", server says "}},
		{name: "signed by another device", blob: sealed(func(m *manifest.FileManifest) {}, w.bob), err: []string{"signature of device " + w.alice.ID.String() + " does not verify"}, is: crypto.ErrBadSignature},
		{name: "signed by its author as another kind", blob: manifest.SealBody(manifest.Encode(file), manifest.KindFolder, file.ID, w.alice.Key, w.key), err: []string{"does not verify"}},
		{name: "unsigned", blob: raw(nil), err: []string{"too short to be signed"}},
		{name: "unknown field", blob: raw(withField(t, file, "evil", true)), written: true, err: []string{"malformed file manifest", "unknown field"}},
		{name: "unknown type", blob: raw(withField(t, file, "type", "user_manifest")), written: true, err: []string{`unknown type "user_manifest"`}},
		{name: "non-canonical", blob: raw(nonCanonical(manifest.Encode(file))), written: true, err: []string{"not in canonical form"}},
		{name: "garbage body", blob: raw([]byte("\xff\xff")), written: true, err: []string{"malformed"}},
		{name: "overlapping blocks", blob: sealed(func(m *manifest.FileManifest) { m.Blocks[1].Offset = 10; m.Blocks[1].Size = 4 }, w.alice),
			written: true, err: []string{prefix + "invalid file manifest: block 1", "[10, 14) overlaps block 0 [0, 16)"}},
		{name: "unaligned block", blob: sealed(func(m *manifest.FileManifest) { m.Blocks[1].Offset = 12 }, w.alice), written: true, err: []string{"[12, 20) crosses the end of its span [0, 16)"}},
		{name: "two blocks in a span", blob: sealed(func(m *manifest.FileManifest) { m.Blocks[0].Size = 4; m.Blocks[1].Offset = 8 }, w.alice), written: true, err: []string{"blocks 0 and 1 are both in span [0, 16)"}},
		{name: "block past size", blob: sealed(func(m *manifest.FileManifest) { m.Size = 27 }, w.alice), written: true, err: []string{"goes past the end of the file (27)"}},
		{name: "empty block", blob: sealed(func(m *manifest.FileManifest) { m.Blocks[1].Size = 0 }, w.alice), written: true, err: []string{"is empty"}},
		{name: "file at the realm's ID", blob: sealed(func(m *manifest.FileManifest) { m.ID, m.Parent = w.realm, parsec.NewVlobID() }, w.alice), expect: func(e *manifest.Expected) { e.VlobID = w.realm },
			written: true, err: []string{"the workspace root is a file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := exp
			if tc.expect != nil {
				tc.expect(&e)
			}
			key := w.key
			if tc.key != (crypto.RealmKey{}) {
				key = tc.key
			}
			m, err := manifest.Open(tc.blob, key, e, w.verifyKey)
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			kind := parsec.Tampered
			if tc.written {
				kind = parsec.Invalid
				wantIs(t, err, manifest.ErrWrittenInvalid)
			}
			wantErr(t, err, kind, append([]string{"manifest " + e.VlobID.String() + " v"}, tc.err...)...)
			if tc.is != nil {
				wantIs(t, err, tc.is)
			}
		})
	}

	t.Run("unknown author", func(t *testing.T) {
		c := *file
		c.Author = stranger.ID
		blob := manifest.Seal(&c, stranger.Key, w.key)
		e := exp
		e.Author = stranger.ID
		_, err := manifest.Open(blob, w.key, e, w.verifyKey)
		// The error of verifyKey keeps its kind.
		wantErr(t, err, parsec.NotFound, prefix+"author "+stranger.ID.String()+": unknown device")
	})
	t.Run("no realm ID", func(t *testing.T) {
		e := exp
		e.RealmID = parsec.VlobID{}
		_, err := manifest.Open(good, w.key, e, w.verifyKey)
		wantErr(t, err, parsec.Invalid, "realm ID")
	})
}

// The rules that need the realm's ID: only the vlob of the realm's ID is the root, it is a
// folder that is its own parent, and no folder has it as a child.
func TestOpenRootRules(t *testing.T) {
	w := newWorld()
	open := func(m manifest.Manifest) error {
		_, err := manifest.Open(manifest.Seal(m, w.alice.Key, w.key), w.key, expected(w, m), w.verifyKey)
		return err
	}
	t.Run("root", func(t *testing.T) {
		if err := open(w.root(nil)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("root with another parent", func(t *testing.T) {
		m := w.root(nil)
		m.Parent = parsec.NewVlobID()
		wantErr(t, open(m), parsec.Invalid, "the workspace root has parent "+m.Parent.String())
	})
	t.Run("second root", func(t *testing.T) {
		m := w.folder(w.realm, nil)
		m.Parent = m.ID
		wantErr(t, open(m), parsec.Invalid, "the folder manifest is its own parent but is not the workspace root "+w.realm.String())
	})
	t.Run("root as a child", func(t *testing.T) {
		m := w.folder(parsec.NewVlobID(), map[string]parsec.VlobID{"loop": w.realm})
		wantErr(t, open(m), parsec.Invalid, `child "loop" is the workspace root`)
	})
	t.Run("folder's child is itself", func(t *testing.T) {
		m := w.folder(w.realm, nil)
		m.Children = map[string]parsec.VlobID{"me": m.ID}
		wantErr(t, open(m), parsec.Invalid, `invalid folder manifest: child "me" is the folder itself`)
	})
	t.Run("invalid child names are dropped", func(t *testing.T) {
		ok := parsec.NewVlobID()
		m := w.root(map[string]parsec.VlobID{"a/b": parsec.NewVlobID(), "bad\x1b[2J": parsec.NewVlobID(), "\xff": parsec.NewVlobID(), "ok": ok})
		_, err := manifest.Open(manifest.Seal(m, w.alice.Key, w.key), w.key, expected(w, m), w.verifyKey)
		if err == nil {
			t.Fatal("a name that is not UTF-8 was decoded")
		}
		wantErr(t, err, parsec.Invalid, "invalid UTF-8")
		wantIs(t, err, manifest.ErrWrittenInvalid)
		delete(m.Children, "\xff")
		got, err := manifest.Open(manifest.Seal(m, w.alice.Key, w.key), w.key, expected(w, m), w.verifyKey)
		if err != nil {
			t.Fatal(err)
		}
		f := got.(*manifest.FolderManifest)
		if len(f.Children) != 1 || f.Children["ok"] != ok || len(f.Dropped) != 2 {
			t.Fatalf("children %v, dropped %q", f.Children, f.Dropped)
		}
	})
}

// Seal sets the manifest's Type, and sealing it twice gives different blobs (fresh
// nonces).
func TestSealSetsType(t *testing.T) {
	w := newWorld()
	m := w.root(nil)
	_ = manifest.Seal(m, w.alice.Key, w.key)
	if m.Type != manifest.KindFolder {
		t.Errorf("Type = %q after Seal", m.Type)
	}
	a, b := manifest.Seal(m, w.alice.Key, w.key), manifest.Seal(m, w.alice.Key, w.key)
	if bytes.Equal(a, b) {
		t.Error("two seals of one manifest are identical: nonce reused")
	}
}
