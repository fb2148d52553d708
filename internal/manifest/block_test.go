package manifest_test

import (
	"bytes"
	"testing"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

func TestBlockRoundTrip(t *testing.T) {
	w := newWorld()
	for _, size := range []int{1, 100, manifest.DefaultBlockSize} {
		data := crypto.RandomBytes(size)
		id := parsec.NewBlockID()
		access := manifest.NewBlockAccess(id, 3*manifest.DefaultBlockSize, data)
		if access.Size != uint64(size) || access.Digest != crypto.Sum(data) || access.Offset != 3*manifest.DefaultBlockSize {
			t.Fatalf("NewBlockAccess = %+v", access)
		}
		ct := manifest.SealBlock(w.key, id, data)
		if len(ct) != size+manifest.BlockOverhead {
			t.Errorf("sealed %d bytes into %d, want %d", size, len(ct), size+manifest.BlockOverhead)
		}
		got, err := manifest.OpenBlock(w.key, access, ct)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatal("cleartext differs")
		}
	}
}

func TestSealBlockToReusesBuffer(t *testing.T) {
	w := newWorld()
	data := crypto.RandomBytes(1000)
	id := parsec.NewBlockID()
	buf := make([]byte, 0, len(data)+manifest.BlockOverhead)
	ct := manifest.SealBlockTo(buf, w.key, id, data)
	if &ct[0] != &buf[:1][0] {
		t.Error("SealBlockTo did not write into dst's capacity")
	}
	if _, err := manifest.OpenBlock(w.key, manifest.NewBlockAccess(id, 0, data), ct); err != nil {
		t.Fatal(err)
	}
	// Appending after existing content keeps it.
	prefixed := manifest.SealBlockTo([]byte("head"), w.key, id, data)
	if string(prefixed[:4]) != "head" {
		t.Error("SealBlockTo overwrote dst")
	}
	if _, err := manifest.OpenBlock(w.key, manifest.NewBlockAccess(id, 0, data), prefixed[4:]); err != nil {
		t.Fatal(err)
	}
}

func TestOpenBlockTampering(t *testing.T) {
	w := newWorld()
	data := crypto.RandomBytes(4096)
	id := parsec.NewBlockID()
	access := manifest.NewBlockAccess(id, 0, data)
	good := manifest.SealBlock(w.key, id, data)
	other := parsec.NewBlockID()
	flip := func(i int) []byte {
		c := bytes.Clone(good)
		c[i] ^= 0x80
		return c
	}
	shorter := data[:len(data)-1]
	for _, tc := range []struct {
		name   string
		key    crypto.RealmKey
		access manifest.BlockAccess
		ct     []byte
		err    string
	}{
		{"flipped byte", w.key, access, flip(len(good) / 2), "cannot decrypt"},
		{"flipped tag", w.key, access, flip(len(good) - 1), "cannot decrypt"},
		{"another block's ciphertext", w.key, access, manifest.SealBlock(w.key, other, data), "cannot decrypt"},
		{"wrong realm key", newWorld().key, access, good, "cannot decrypt"},
		{"truncated", w.key, access, good[:len(good)-1], "wrong size: 4135 bytes, want 4136 (4096 of cleartext)"},
		{"empty", w.key, access, nil, "wrong size: 0 bytes"},
		{"other content, wrong size", w.key, access, manifest.SealBlock(w.key, id, shorter), "wrong size"},
		{"manifest says another size", w.key, manifest.NewBlockAccess(id, 0, append(bytes.Clone(data), 0)), good, "wrong size"},
		{"huge size in the manifest", w.key, manifest.BlockAccess{ID: id, Size: 1<<64 - 8, Digest: access.Digest}, good, "wrong size"},
		{"other content, same size", w.key, access, manifest.SealBlock(w.key, id, crypto.RandomBytes(len(data))), "digest mismatch"},
		{"manifest says another digest", w.key, manifest.BlockAccess{ID: id, Size: access.Size, Digest: crypto.Sum(nil)}, good, "digest mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := manifest.OpenBlock(tc.key, tc.access, tc.ct)
			if err == nil {
				t.Fatalf("accepted %d bytes", len(pt))
			}
			wantErr(t, err, parsec.Tampered, "block "+tc.access.ID.String()+": ", tc.err)
		})
	}
}

const benchBlockSize = manifest.DefaultBlockSize

func BenchmarkSealBlock(b *testing.B) {
	key := crypto.GenerateRealmKey()
	data := crypto.RandomBytes(benchBlockSize)
	id := parsec.NewBlockID()
	buf := make([]byte, 0, benchBlockSize+manifest.BlockOverhead)
	b.SetBytes(benchBlockSize)
	b.ReportAllocs()
	for b.Loop() {
		buf = manifest.SealBlockTo(buf[:0], key, id, data)
	}
}

func BenchmarkOpenBlock(b *testing.B) {
	key := crypto.GenerateRealmKey()
	data := crypto.RandomBytes(benchBlockSize)
	id := parsec.NewBlockID()
	access := manifest.NewBlockAccess(id, 0, data)
	ct := manifest.SealBlock(key, id, data)
	b.SetBytes(benchBlockSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := manifest.OpenBlock(key, access, ct); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenBlockParallel opens blocks on every CPU at once, as a reader fetching several
// blocks of a file does.
func BenchmarkOpenBlockParallel(b *testing.B) {
	key := crypto.GenerateRealmKey()
	data := crypto.RandomBytes(benchBlockSize)
	id := parsec.NewBlockID()
	access := manifest.NewBlockAccess(id, 0, data)
	ct := manifest.SealBlock(key, id, data)
	b.SetBytes(benchBlockSize)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := manifest.OpenBlock(key, access, ct); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestOpenBlockInPlace(t *testing.T) {
	w := newWorld()
	data := crypto.RandomBytes(5000)
	id := parsec.NewBlockID()
	access := manifest.NewBlockAccess(id, 0, data)
	ct := manifest.SealBlock(w.key, id, data)
	got, err := manifest.OpenBlockInPlace(w.key, access, ct)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("OpenBlockInPlace = %v", err)
	}
	if &got[0] != &ct[manifest.BlockOverhead-16] {
		t.Error("the cleartext does not share the ciphertext's memory")
	}
	ct = manifest.SealBlock(w.key, id, data)
	ct[len(ct)-1] ^= 1
	if _, err := manifest.OpenBlockInPlace(w.key, access, ct); parsec.KindOf(err) != parsec.Tampered {
		t.Fatalf("flipped byte: %v", err)
	}
}
