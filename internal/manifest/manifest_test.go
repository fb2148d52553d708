package manifest_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	w := newWorld()
	sub := parsec.NewVlobID()
	for _, m := range []manifest.Manifest{
		w.root(nil),
		w.root(map[string]parsec.VlobID{"docs": sub, "é": parsec.NewVlobID()}),
		w.folder(w.realm, map[string]parsec.VlobID{}),
		w.file(sub),
		&manifest.FileManifest{Header: header(w.bob, parsec.NewVlobID(), sub, 0), BlockSize: manifest.DefaultBlockSize},
	} {
		t.Run(m.Kind(), func(t *testing.T) {
			b := manifest.Encode(m)
			got, err := manifest.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if got.IsFolder() != (m.Kind() == manifest.KindFolder) {
				t.Errorf("IsFolder() = %v for a %s", got.IsFolder(), m.Kind())
			}
		})
	}
}

// The header is encoded flat, beside the manifest's own fields, with the field names of
// the reference.
func TestEncodingFieldNames(t *testing.T) {
	w := newWorld()
	for _, tc := range []struct {
		m    manifest.Manifest
		want []string
	}{
		{w.root(nil), []string{"type", "author", "timestamp", "id", "parent", "version", "created", "updated", "children"}},
		{w.file(w.realm), []string{"type", "author", "timestamp", "id", "parent", "version", "created", "updated", "size", "blocksize", "blocks"}},
	} {
		var fields map[string]codec.RawMessage
		if err := codec.Unmarshal(manifest.Encode(tc.m), &fields); err != nil {
			t.Fatal(err)
		}
		var got []string
		for k := range fields {
			got = append(got, k)
		}
		if diff := cmp.Diff(tc.want, got, cmpSorted); diff != "" {
			t.Errorf("%s fields (-want +got):\n%s", tc.m.Kind(), diff)
		}
	}
	var blocks map[string][]map[string]codec.RawMessage
	_ = codec.UnmarshalLenient(manifest.Encode(w.file(w.realm)), &blocks)
	var got []string
	for k := range blocks["blocks"][0] {
		got = append(got, k)
	}
	if diff := cmp.Diff([]string{"id", "offset", "size", "digest"}, got, cmpSorted); diff != "" {
		t.Errorf("block access fields (-want +got):\n%s", diff)
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

// withField re-encodes a manifest's map with one field changed (nil value: removed).
func withField(t testing.TB, m manifest.Manifest, key string, value any) []byte {
	t.Helper()
	var fields map[string]any
	if err := codec.UnmarshalLenient(manifest.Encode(m), &fields); err != nil {
		t.Fatal(err)
	}
	if value == nil {
		delete(fields, key)
	} else {
		fields[key] = value
	}
	return codec.MustMarshal(fields)
}

func TestDecodeRejects(t *testing.T) {
	w := newWorld()
	file := w.file(w.realm)
	good := manifest.Encode(file)
	for _, tc := range []struct {
		name string
		in   []byte
		err  string
	}{
		{"empty", nil, "malformed"},
		{"not CBOR", []byte("hello"), "malformed"},
		{"not a map", codec.MustMarshal([]int{1}), "malformed"},
		{"unknown type", withField(t, file, "type", "user_manifest"), `unknown type "user_manifest"`},
		{"no type", withField(t, file, "type", nil), `unknown type ""`},
		{"unknown field", withField(t, file, "evil", 1), "unknown field"},
		{"field of the other type", withField(t, file, "children", map[string]any{}), "unknown field"},
		{"trailing byte", append(bytes.Clone(good), 0), "malformed"},
		{"wrong id length", withField(t, file, "id", []byte{1, 2, 3}), "malformed"},
		{"wrong digest length", withField(t, file, "blocks", []map[string]any{{"id": parsec.NewBlockID(), "offset": 0, "size": 1, "digest": []byte{1}}}), "malformed"},
		{"non-canonical", nonCanonical(good), "not in canonical form"},
		{"invalid structure", withField(t, file, "blocksize", 4), "block size 4 is not between 8 and"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := manifest.Decode(tc.in)
			if err == nil {
				t.Fatalf("accepted: %+v", m)
			}
			wantErr(t, err, parsec.Invalid, tc.err)
		})
	}
}

// nonCanonical re-encodes the leading map header of b in a longer form.
func nonCanonical(b []byte) []byte {
	n := b[0] & 0x1f
	if b[0]>>5 != 5 || n >= 24 {
		panic("not a small map")
	}
	return append([]byte{0xb8, n}, b[1:]...)
}

func TestFolderCheck(t *testing.T) {
	w := newWorld()
	child := parsec.NewVlobID()
	for _, tc := range []struct {
		name string
		edit func(m *manifest.FolderManifest)
		err  string
	}{
		{"valid root", func(m *manifest.FolderManifest) {}, ""},
		{"valid folder", func(m *manifest.FolderManifest) { m.ID = parsec.NewVlobID() }, ""},
		{"never synced", func(m *manifest.FolderManifest) { m.Version = 0 }, ""},
		{"zero author", func(m *manifest.FolderManifest) { m.Author = parsec.DeviceID{} }, "author is zero"},
		{"zero timestamp", func(m *manifest.FolderManifest) { m.Timestamp = 0 }, "timestamp is not positive"},
		{"zero id", func(m *manifest.FolderManifest) { m.ID = parsec.VlobID{} }, "id is zero"},
		{"zero parent", func(m *manifest.FolderManifest) { m.Parent = parsec.VlobID{} }, "parent is zero"},
		{"empty name", func(m *manifest.FolderManifest) { m.Children[""] = parsec.NewVlobID() }, `child name "" is empty`},
		{"dot dot", func(m *manifest.FolderManifest) { m.Children[".."] = parsec.NewVlobID() }, `child name ".." is reserved`},
		{"slash", func(m *manifest.FolderManifest) { m.Children["a/b"] = parsec.NewVlobID() }, `child name "a/b" contains '/'`},
		{"NUL", func(m *manifest.FolderManifest) { m.Children["a\x00"] = parsec.NewVlobID() }, `child name "a\x00" contains a control character`},
		{"too long", func(m *manifest.FolderManifest) { m.Children[strings.Repeat("x", 256)] = parsec.NewVlobID() }, "longer than 255 bytes"},
		{"not NFC", func(m *manifest.FolderManifest) { m.Children["e\u0301"] = parsec.NewVlobID() }, "not in Unicode normal form C"},
		{"zero child", func(m *manifest.FolderManifest) { m.Children["z"] = parsec.VlobID{} }, `child "z": id is zero`},
		{"child is itself", func(m *manifest.FolderManifest) { m.ID = parsec.NewVlobID(); m.Children["me"] = m.ID }, `child "me" is the folder itself`},
		{"child is parent", func(m *manifest.FolderManifest) { m.ID = parsec.NewVlobID(); m.Children["up"] = m.Parent }, `child "up" is the folder's parent`},
		{"same child twice", func(m *manifest.FolderManifest) { m.Children["again"] = child }, `children "again" and "docs" are the same entry ` + child.String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := w.root(map[string]parsec.VlobID{"docs": child})
			tc.edit(m)
			err := m.Check()
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, parsec.Invalid, "invalid folder manifest "+m.ID.String(), tc.err)
			// Decode refuses it too.
			if _, err := manifest.Decode(manifest.Encode(m)); err == nil {
				t.Error("Decode accepted it")
			}
		})
	}
}

func TestFileCheck(t *testing.T) {
	w := newWorld()
	blk := func(off, size uint64) manifest.BlockAccess {
		return manifest.BlockAccess{ID: parsec.NewBlockID(), Offset: off, Size: size, Digest: crypto.Sum(nil)}
	}
	for _, tc := range []struct {
		name      string
		size, bs  uint64
		blocks    []manifest.BlockAccess
		err       string
		ownParent bool
	}{
		{name: "empty file", size: 0, bs: 8},
		{name: "only holes", size: 1 << 40, bs: manifest.DefaultBlockSize, err: "size 1099511627776 is not what the blocks cover (0)"},
		{name: "trailing hole", size: 30, bs: 8, blocks: []manifest.BlockAccess{blk(0, 8)}, err: "size 30 is not what the blocks cover (8)"},
		{name: "block size too big", size: 0, bs: manifest.MaxBlockSize + 1, err: "block size 4194305 is not between 8 and 4194304"},
		{name: "full blocks", size: 24, bs: 8, blocks: []manifest.BlockAccess{blk(0, 8), blk(8, 8), blk(16, 8)}},
		{name: "short last block", size: 20, bs: 8, blocks: []manifest.BlockAccess{blk(0, 8), blk(8, 8), blk(16, 4)}},
		{name: "blocks inside spans, holes", size: 100, bs: 10, blocks: []manifest.BlockAccess{blk(3, 2), blk(10, 10), blk(55, 5), blk(99, 1)}},
		{name: "huge sparse", size: 1<<64 - 1, bs: 1 << 20, blocks: []manifest.BlockAccess{blk(1<<63, 1<<20), blk(1<<64-1<<20, 1<<20-1)}},
		{name: "own parent", size: 0, bs: 8, ownParent: true, err: "a file cannot be its own parent"},
		{name: "block size 7", size: 0, bs: 7, err: "block size 7 is not between 8 and"},
		{name: "block size 0", size: 0, bs: 0, err: "block size 0 is not between 8 and"},
		{name: "empty block", size: 8, bs: 8, blocks: []manifest.BlockAccess{blk(0, 0)}, err: ") is empty"},
		{name: "past size", size: 10, bs: 8, blocks: []manifest.BlockAccess{blk(0, 8), blk(8, 4)}, err: "[8, +4) goes past the end of the file (10)"},
		{name: "starts past size", size: 10, bs: 8, blocks: []manifest.BlockAccess{blk(16, 1)}, err: "goes past the end of the file (10)"},
		{name: "offset+size overflows", size: 1<<64 - 1, bs: 1 << 20, blocks: []manifest.BlockAccess{blk(1<<64-8, 1<<20)}, err: "goes past the end"},
		{name: "unaligned, crossing spans", size: 24, bs: 8, blocks: []manifest.BlockAccess{blk(4, 8)}, err: "[4, 12) crosses the end of its span [0, 8)"},
		{name: "bigger than a span", size: 24, bs: 8, blocks: []manifest.BlockAccess{blk(0, 16)}, err: "crosses the end of its span [0, 8)"},
		{name: "two blocks in a span", size: 24, bs: 8, blocks: []manifest.BlockAccess{blk(8, 2), blk(12, 2)}, err: "blocks 0 and 1 are both in span [8, 16)"},
		{name: "overlap", size: 24, bs: 8, blocks: []manifest.BlockAccess{blk(8, 6), blk(12, 2)}, err: "[12, 14) overlaps block 0 [8, 14)"},
		{name: "same offset", size: 24, bs: 8, blocks: []manifest.BlockAccess{blk(0, 8), blk(0, 8)}, err: "overlaps block 0 [0, 8)"},
		{name: "unsorted", size: 24, bs: 8, blocks: []manifest.BlockAccess{blk(8, 8), blk(0, 8)}, err: "blocks 0 and 1 are not sorted by offset (8, 0)"},
		{name: "BLAKE3 digest", size: 8, bs: 8, blocks: []manifest.BlockAccess{hashed(blk(0, 8), true, manifest.HashBLAKE3)}},
		{name: "SHA-256 digest of the encrypted block", size: 8, bs: 8, blocks: []manifest.BlockAccess{hashed(blk(0, 8), true, "")}},
		{name: "digest of unknown algorithm", size: 8, bs: 8, blocks: []manifest.BlockAccess{hashed(blk(0, 8), true, "MD5")}, err: `has a digest of unknown algorithm "MD5"`},
		{name: "AES-256-GCM block", size: 8, bs: 8, blocks: []manifest.BlockAccess{withCipher(hashed(blk(0, 8), true, manifest.HashBLAKE3), manifest.CipherAES256GCM)}},
		{name: "unknown cipher", size: 8, bs: 8, blocks: []manifest.BlockAccess{withCipher(hashed(blk(0, 8), true, manifest.HashBLAKE3), "ROT13")}, err: `has an unknown cipher "ROT13"`},
		{name: "BLAKE3 digest of the cleartext", size: 8, bs: 8, blocks: []manifest.BlockAccess{hashed(blk(0, 8), false, manifest.HashBLAKE3)}, err: "has a BLAKE3 digest of its cleartext, which no writer makes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := w.file(w.realm)
			m.Size, m.BlockSize, m.Blocks = tc.size, tc.bs, tc.blocks
			if tc.ownParent {
				m.Parent = m.ID
			}
			err := m.Check()
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, parsec.Invalid, "invalid file manifest "+m.ID.String()+" v1: ", tc.err)
			if _, err := manifest.Decode(manifest.Encode(m)); err == nil {
				t.Error("Decode accepted it")
			}
		})
	}
}

// hashed is b with its digest of the encrypted block or not, with the algorithm hash.
func hashed(b manifest.BlockAccess, sealed bool, hash string) manifest.BlockAccess {
	b.Sealed, b.Hash = sealed, hash
	return b
}

func TestDecodeTrustedKeepsLocalVersions(t *testing.T) {
	local := &manifest.FolderManifest{
		Header:   manifest.Header{ID: parsec.NewVlobID(), Parent: parsec.NewVlobID()},
		Children: map[string]parsec.VlobID{"a": parsec.NewVlobID()},
	}
	b := manifest.Encode(local)
	if _, err := manifest.Decode(b); err == nil {
		t.Fatal("Decode accepted a manifest without author")
	}
	m, err := manifest.DecodeTrusted(b)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := m.(*manifest.FolderManifest); !ok || f.ID != local.ID || len(f.Children) != 1 {
		t.Fatalf("DecodeTrusted = %+v", m)
	}
	if _, err := manifest.DecodeTrusted([]byte("junk")); err == nil {
		t.Fatal("DecodeTrusted accepted junk")
	}
}

// Peek tells a folder from a file and reads its last change, from what Encode wrote; what is
// not a manifest is an error.
func TestPeek(t *testing.T) {
	w := newWorld()
	sub := parsec.NewVlobID()
	for _, m := range []manifest.Manifest{w.root(map[string]parsec.VlobID{"docs": sub}), w.file(sub)} {
		t.Run(m.Kind(), func(t *testing.T) {
			got, err := manifest.Peek(manifest.Encode(m))
			want := manifest.Summary{Folder: m.IsFolder(), Updated: m.Head().Updated, Author: m.Head().Author}
			if err != nil || got != want {
				t.Errorf("Peek = %+v, %v; want %+v", got, err, want)
			}
		})
	}
	for _, junk := range [][]byte{[]byte("junk"), codec.MustMarshal(map[string]string{"type": "nonsense"}), nil} {
		if s, err := manifest.Peek(junk); err == nil {
			t.Errorf("Peek(%x) = %+v, want an error", junk, s)
		}
	}
}
