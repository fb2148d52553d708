package manifest_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// fixedWorld is a world with fixed IDs and keys, so that corpus entries mean the same thing
// from one run to the next.
func fixedWorld() *world {
	id := func(b byte) (v [16]byte) {
		for i := range v {
			v[i] = b
		}
		return v
	}
	dev := func(b byte) device {
		seed := bytes.Repeat([]byte{b}, 32)
		k, err := crypto.SigningKeyFromSeed(seed)
		if err != nil {
			panic(err)
		}
		return device{ID: id(b), Key: k}
	}
	var key crypto.RealmKey
	copy(key[:], bytes.Repeat([]byte{7}, len(key)))
	return &world{realm: id(1), key: key, alice: dev(2), bob: dev(3)}
}

// fuzzSamples are manifests of fixedWorld, all of vlob 4 but the root.
func fuzzSamples(w *world) []manifest.Manifest {
	vlob := parsec.VlobID(bytes.Repeat([]byte{4}, 16))
	folder := w.folder(w.realm, map[string]parsec.VlobID{"a": parsec.VlobID(bytes.Repeat([]byte{5}, 16)), "é ü": parsec.VlobID(bytes.Repeat([]byte{6}, 16))})
	folder.ID = vlob
	file := w.file(w.realm)
	file.ID = vlob
	for i := range file.Blocks {
		file.Blocks[i].ID = parsec.BlockID(bytes.Repeat([]byte{byte(8 + i)}, 16))
	}
	empty := w.file(w.realm)
	empty.ID, empty.Size, empty.Blocks = vlob, 0, nil
	return []manifest.Manifest{w.root(map[string]parsec.VlobID{"x": vlob}), folder, file, empty}
}

// FuzzDecode checks that Decode never panics on untrusted bytes, and that whatever it
// accepts is valid and canonical: re-encoding gives back exactly the input.
func FuzzDecode(f *testing.F) {
	for _, m := range fuzzSamples(fixedWorld()) {
		f.Add(manifest.Encode(m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := manifest.Decode(b)
		if err != nil {
			if parsec.KindOf(err) != parsec.Invalid {
				t.Fatalf("error of kind %s: %v", parsec.KindOf(err), err)
			}
			return
		}
		if err := m.Check(); err != nil {
			t.Fatalf("accepted an invalid manifest: %v", err)
		}
		if again := manifest.Encode(m); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, b)
		}
	})
}

// The bits of FuzzOpen's mode: mode%3 is how much of the blob the fuzzer writes; with
// fuzzAsFolder the harness signs in the domain of folders (else files); with fuzzRoot the
// blob is expected to be the root (vlob = realm), else vlob 4.
const (
	fuzzBlob     = 0 // the whole blob
	fuzzSigned   = 1 // signature ‖ body; the harness encrypts
	fuzzBody     = 2 // the body; the harness signs (as alice) and encrypts
	fuzzAsFolder = 4
	fuzzRoot     = 8
)

// FuzzOpen checks that Open never panics and never accepts a manifest that is not exactly
// what the server claims: the fuzzer writes the blob, or (to get past the encryption) the
// signed payload, or (to get past the signature) the body.
func FuzzOpen(f *testing.F) {
	w := fixedWorld()
	for _, m := range fuzzSamples(w) {
		var bits uint8
		if m.IsFolder() {
			bits |= fuzzAsFolder
		}
		if m.Head().IsRoot() {
			bits |= fuzzRoot
		}
		body := manifest.Encode(m)
		if _, err := manifest.Open(manifest.Seal(m, w.alice.Key, w.key), w.key, expected(w, m), w.verifyKey); err != nil {
			f.Fatalf("seed does not open: %v", err)
		}
		f.Add(fuzzBody|bits, body)
		f.Add(fuzzSigned|bits, append(w.alice.Key.Sign("parsec/1/"+m.Kind(), body), body...))
		f.Add(fuzzBlob|bits, manifest.Seal(m, w.alice.Key, w.key))
	}
	f.Fuzz(func(t *testing.T, mode uint8, payload []byte) {
		exp := manifest.Expected{RealmID: w.realm, VlobID: parsec.VlobID(bytes.Repeat([]byte{4}, 16)), Version: 1, Author: w.alice.ID, Timestamp: t0.Add(time.Second)}
		if mode&fuzzRoot != 0 {
			exp.VlobID = w.realm
		}
		kind := manifest.KindFile
		if mode&fuzzAsFolder != 0 {
			kind = manifest.KindFolder
		}
		blob, body := payload, []byte(nil)
		switch mode % 3 {
		case fuzzSigned:
			if len(payload) > crypto.SignatureSize {
				body = payload[crypto.SignatureSize:]
			}
			blob = sealed(w, exp.VlobID, payload)
		case fuzzBody:
			body = payload
			blob = sealed(w, exp.VlobID, append(w.alice.Key.Sign("parsec/1/"+kind, payload), payload...))
		}
		m, err := manifest.Open(blob, w.key, exp, w.verifyKey)
		if err != nil {
			if k := parsec.KindOf(err); k != parsec.Tampered && k != parsec.NotFound && !(k == parsec.Invalid && errors.Is(err, manifest.ErrWrittenInvalid)) {
				t.Fatalf("error of kind %s: %v", k, err)
			}
			return
		}
		h := m.Head()
		if h.ID != exp.VlobID || h.Version != exp.Version || h.Author != exp.Author || h.Timestamp != exp.Timestamp {
			t.Fatalf("accepted a manifest that differs from the server's metadata: %+v", h)
		}
		if err := m.Check(); err != nil {
			t.Fatalf("accepted an invalid manifest: %v", err)
		}
		if h.IsRoot() != (h.ID == w.realm) || h.IsRoot() && !m.IsFolder() {
			t.Fatalf("accepted a misplaced root: %+v", h)
		}
		if f, ok := m.(*manifest.FolderManifest); ok && len(f.Dropped) > 0 {
			// Entries with names a member wrote invalid are left out (and said), so the
			// folder stays usable: what is kept no longer encodes as the body.
			for _, d := range f.Dropped {
				if d == "" {
					t.Fatalf("an entry dropped without saying why")
				}
			}
			return
		}
		if body != nil && !bytes.Equal(manifest.Encode(m), body) {
			t.Fatalf("accepted a non-canonical body")
		}
	})
}

// sealed encrypts a signed payload as the blob of vlob id.
func sealed(w *world, id parsec.VlobID, signed []byte) []byte {
	return w.key.Derive(crypto.PurposeManifest, id).Encrypt(signed, id[:])
}

// FuzzOpenKeysBundle checks that OpenKeysBundle never panics and never accepts a bundle
// that differs from its key rotation certificate. The fuzzer writes the body; the harness
// signs and encrypts it.
func FuzzOpenKeysBundle(f *testing.F) {
	w := fixedWorld()
	keys := []crypto.RealmKey{{1}, {2}}
	canaries := [][]byte{keys[0].Canary(), keys[1].Canary()}
	exp := manifest.BundleExpected{RealmID: w.realm, KeyIndex: 2, Author: w.alice.ID, Timestamp: t0}
	b := manifest.KeysBundle{Type: manifest.KindKeysBundle, Author: w.alice.ID, Timestamp: t0, RealmID: w.realm, Keys: keys}
	f.Add(withBundleField(f, b, "type", manifest.KindKeysBundle))
	f.Fuzz(func(t *testing.T, body []byte) {
		blob, bk := manifest.SealKeysBundleBody(body, w.alice.Key)
		o, err := manifest.OpenKeysBundle(blob, bk, exp, w.alice.Key.VerifyKey(), canaries)
		if err != nil {
			if parsec.KindOf(err) != parsec.Tampered {
				t.Fatalf("error of kind %s: %v", parsec.KindOf(err), err)
			}
			return
		}
		if o.RealmID != exp.RealmID || o.Author != exp.Author || o.Timestamp != exp.Timestamp || o.KeyIndex() != exp.KeyIndex {
			t.Fatalf("accepted a bundle that differs from its certificate: %+v", o)
		}
		if _, _, err := o.Last(); err != nil {
			t.Fatalf("accepted a bundle whose last key is corrupted: %v", err)
		}
	})
}

// FuzzFileSize checks that a file manifest that decodes cannot claim more bytes than its
// blocks back: what a reader streams (its spans) is bounded by its blocks.
func FuzzFileSize(f *testing.F) {
	for _, m := range fuzzSamples(fixedWorld()) {
		f.Add(manifest.Encode(m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := manifest.Decode(b)
		if err != nil {
			return
		}
		fm, ok := m.(*manifest.FileManifest)
		if !ok {
			return
		}
		if bound := uint64(len(fm.Blocks)) * manifest.MaxBlockSize; fm.Size > bound {
			t.Fatalf("size %d with %d blocks", fm.Size, len(fm.Blocks))
		}
		var total uint64
		for _, s := range fm.Spans(0, fm.Size) {
			total += s.Size
		}
		if total != fm.Size {
			t.Fatalf("spans cover %d bytes of %d", total, fm.Size)
		}
	})
}
