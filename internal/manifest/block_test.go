package manifest_test

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/crypto/cryptotest"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// ciphers are the ciphers of blocks: each test of sealing and opening runs with both.
var ciphers = []string{manifest.CipherAES256GCM, manifest.CipherXChaCha20Poly1305}

// eachCipher runs f once with each cipher as the one blocks are sealed with.
func eachCipher(t *testing.T, f func(t *testing.T, cipher string)) {
	for _, c := range ciphers {
		t.Run("cipher "+strconv.Quote(c), func(t *testing.T) {
			manifest.SetBlockCipher(t, c)
			f(t, c)
		})
	}
}

// This machine's writers use AES-256-GCM where the processor has instructions for it.
func TestBlockCipher(t *testing.T) {
	want := manifest.CipherXChaCha20Poly1305
	if crypto.AESHardware() {
		want = manifest.CipherAES256GCM
	}
	if got := manifest.BlockCipher(); got != want {
		t.Fatalf("BlockCipher = %q, want %q", got, want)
	}
}

func TestBlockRoundTrip(t *testing.T) { eachCipher(t, testBlockRoundTrip) }

func testBlockRoundTrip(t *testing.T, cipher string) {
	w := newWorld()
	for _, size := range []int{1, 100, manifest.DefaultBlockSize} {
		data := crypto.RandomBytes(size)
		id := parsec.NewBlockID()
		ct := manifest.SealBlock(w.key, id, data)
		if len(ct) != size+manifest.BlockOverhead {
			t.Errorf("sealed %d bytes into %d, want %d", size, len(ct), size+manifest.BlockOverhead)
		}
		access := manifest.NewBlockAccess(id, 3*manifest.DefaultBlockSize, ct)
		if access.Size != uint64(size) || access.Digest != crypto.SumBLAKE3(ct) || !access.Sealed || access.Hash != manifest.HashBLAKE3 || access.Cipher != cipher || access.Offset != 3*manifest.DefaultBlockSize {
			t.Fatalf("NewBlockAccess = %+v", access)
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

func TestSealBlockToReusesBuffer(t *testing.T) { eachCipher(t, testSealBlockToReusesBuffer) }

func testSealBlockToReusesBuffer(t *testing.T, _ string) {
	w := newWorld()
	data := crypto.RandomBytes(1000)
	id := parsec.NewBlockID()
	buf := make([]byte, 0, len(data)+manifest.BlockOverhead)
	ct := manifest.SealBlockTo(buf, w.key, id, data)
	if &ct[0] != &buf[:1][0] {
		t.Error("SealBlockTo did not write into dst's capacity")
	}
	if _, err := manifest.OpenBlock(w.key, manifest.NewBlockAccess(id, 0, ct), ct); err != nil {
		t.Fatal(err)
	}
	// Appending after existing content keeps it.
	prefixed := manifest.SealBlockTo([]byte("head"), w.key, id, data)
	if string(prefixed[:4]) != "head" {
		t.Error("SealBlockTo overwrote dst")
	}
	if _, err := manifest.OpenBlock(w.key, manifest.NewBlockAccess(id, 0, prefixed[4:]), prefixed[4:]); err != nil {
		t.Fatal(err)
	}
}

// A block that is not the one its access names is refused: by its size or its digest
// before anything is decrypted, or because it does not decrypt.
func TestOpenBlockTampering(t *testing.T) { eachCipher(t, testOpenBlockTampering) }

func testOpenBlockTampering(t *testing.T, cipher string) {
	w := newWorld()
	data := crypto.RandomBytes(4096)
	id := parsec.NewBlockID()
	good := manifest.SealBlock(w.key, id, data)
	access := manifest.NewBlockAccess(id, 0, good)
	other := parsec.NewBlockID()
	otherCiphertext := manifest.SealBlock(w.key, other, data)
	flip := func(i int) []byte {
		c := bytes.Clone(good)
		c[i] ^= 0x80
		return c
	}
	sameSize := manifest.SealBlock(w.key, id, crypto.RandomBytes(len(data)))
	for _, tc := range []struct {
		name   string
		key    crypto.RealmKey
		access manifest.BlockAccess
		ct     []byte
		err    string
	}{
		{"flipped byte", w.key, access, flip(len(good) / 2), "digest mismatch"},
		{"flipped tag", w.key, access, flip(len(good) - 1), "digest mismatch"},
		{"another block's ciphertext", w.key, access, otherCiphertext, "digest mismatch"},
		{"other content, same size", w.key, access, sameSize, "digest mismatch"},
		{"manifest says another digest", w.key, manifest.BlockAccess{ID: id, Size: access.Size, Digest: crypto.SumBLAKE3(nil), Sealed: true, Hash: manifest.HashBLAKE3}, good, "digest mismatch"},
		// The digest is right, under another algorithm than the access says.
		{"the block's SHA-256 named as BLAKE3", w.key, manifest.BlockAccess{ID: id, Size: access.Size, Digest: crypto.Sum(good), Sealed: true, Hash: manifest.HashBLAKE3}, good, "digest mismatch"},
		{"the block's BLAKE3 named as SHA-256", w.key, manifest.BlockAccess{ID: id, Size: access.Size, Digest: access.Digest, Sealed: true}, good, "digest mismatch"},
		{"truncated", w.key, access, good[:len(good)-1], "wrong size: 4135 bytes, want 4136 (4096 of cleartext)"},
		{"empty", w.key, access, nil, "wrong size: 0 bytes"},
		{"other content, wrong size", w.key, access, manifest.SealBlock(w.key, id, data[:len(data)-1]), "wrong size"},
		{"huge size in the manifest", w.key, manifest.BlockAccess{ID: id, Size: 1<<64 - 8, Digest: access.Digest, Sealed: true, Hash: manifest.HashBLAKE3}, good, "wrong size"},
		// The digest matches, yet the block is not what the manifest's writer encrypted for
		// this ID: a writer naming another block's bytes, or the wrong realm key.
		{"another block's ciphertext, and its digest", w.key, manifest.BlockAccess{ID: id, Size: access.Size, Digest: crypto.SumBLAKE3(otherCiphertext), Sealed: true, Hash: manifest.HashBLAKE3}, otherCiphertext, "cannot decrypt"},
		{"wrong realm key", newWorld().key, access, good, "cannot decrypt"},
		{"the other cipher named", w.key, otherCipher(access), good, "cannot decrypt"},
		{"a cipher unknown", w.key, withCipher(access, "ROT13"), good, `unknown cipher "ROT13"`},
		{"a digest of unknown algorithm", w.key, manifest.BlockAccess{ID: id, Size: access.Size, Digest: access.Digest, Sealed: true, Hash: "MD5", Cipher: cipher}, good, `digest of unknown algorithm "MD5"`},
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

// Blocks written before digests were of the encrypted block carry the SHA-256 of their
// cleartext, and those written before BLAKE3 the SHA-256 of the encrypted block: they open,
// and are checked against it.
func TestOpenBlockOfEarlierManifests(t *testing.T) {
	manifest.SetBlockCipher(t, manifest.CipherXChaCha20Poly1305) // the only one then
	w := newWorld()
	data := crypto.RandomBytes(3000)
	id := parsec.NewBlockID()
	good := manifest.SealBlock(w.key, id, data)
	for _, tc := range []struct {
		name   string
		access manifest.BlockAccess
		field  string // in the access's encoding
		errs   []string
	}{
		{"cleartext digest", manifest.BlockAccess{ID: id, Size: uint64(len(data)), Digest: crypto.Sum(data)}, "", []string{"digest mismatch", "cannot decrypt"}},
		{"SHA-256 of the encrypted block", manifest.BlockAccess{ID: id, Size: uint64(len(data)), Digest: crypto.Sum(good), Sealed: true}, "sealed", []string{"digest mismatch", "digest mismatch"}},
	} {
		got, err := manifest.OpenBlock(w.key, tc.access, good)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: OpenBlock = %v", tc.name, err)
		}
		for i, ct := range [][]byte{
			manifest.SealBlock(w.key, id, crypto.RandomBytes(len(data))), // other content, same size
			append(bytes.Clone(good[:100]), append([]byte{good[100] ^ 1}, good[101:]...)...),
		} {
			if _, err := manifest.OpenBlock(w.key, tc.access, ct); err == nil {
				t.Errorf("%s: tampered block %d accepted", tc.name, i)
			} else {
				wantErr(t, err, parsec.Tampered, "block "+id.String()+": ", tc.errs[i])
			}
		}
		// The encoding of an earlier access is unchanged: no "hash" or "cipher" field, and
		// "sealed" only where it was.
		fm := w.file(w.realm)
		fm.BlockSize, fm.Size, fm.Blocks = manifest.DefaultBlockSize, tc.access.Size, []manifest.BlockAccess{tc.access}
		enc := codec.MustMarshal(fm)
		if bytes.Contains(enc, []byte("hash")) || bytes.Contains(enc, []byte("cipher")) || bytes.Contains(enc, []byte("sealed")) != (tc.field == "sealed") {
			t.Errorf("%s: the access is encoded as %x", tc.name, enc)
		}
		if err := fm.Check(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
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
	ct := manifest.SealBlock(key, id, data)
	access := manifest.NewBlockAccess(id, 0, ct)
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
	ct := manifest.SealBlock(key, id, data)
	access := manifest.NewBlockAccess(id, 0, ct)
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

// otherCipher is access naming the cipher it was not sealed with.
func otherCipher(access manifest.BlockAccess) manifest.BlockAccess {
	if access.Cipher == manifest.CipherAES256GCM {
		return withCipher(access, manifest.CipherXChaCha20Poly1305)
	}
	return withCipher(access, manifest.CipherAES256GCM)
}

func withCipher(access manifest.BlockAccess, cipher string) manifest.BlockAccess {
	access.Cipher = cipher
	return access
}

func TestOpenBlockInPlace(t *testing.T) { eachCipher(t, testOpenBlockInPlace) }

func testOpenBlockInPlace(t *testing.T, _ string) {
	w := newWorld()
	data := crypto.RandomBytes(5000)
	id := parsec.NewBlockID()
	ct := manifest.SealBlock(w.key, id, data)
	access := manifest.NewBlockAccess(id, 0, ct)
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

// A member who holds two keys of a realm can make a block that opens with both, to
// different cleartexts, under one digest: OpenBlock takes it with either key, and
// BlockOpensWith is how a reader finds out.
func TestBlockOpensWithTwoKeys(t *testing.T) {
	key1, key2 := crypto.GenerateRealmKey(), crypto.GenerateRealmKey()
	id := parsec.NewBlockID()
	k1, k2 := crypto.AESKey(key1.Derive(crypto.PurposeBlockAES, id)), crypto.AESKey(key2.Derive(crypto.PurposeBlockAES, id))
	content := bytes.Repeat([]byte("what one reader reads. "), 100)
	crafted := cryptotest.AESGCMCollision(k1[:], k2[:], crypto.RandomBytes(manifest.BlockNonceSize), id[:], content)
	access := manifest.BlockAccess{ID: id, Size: uint64(len(content)), Digest: crypto.SumBLAKE3(crafted), Sealed: true,
		Hash: manifest.HashBLAKE3, Cipher: manifest.CipherAES256GCM}
	p1, err1 := manifest.OpenBlock(key1, access, crafted)
	p2, err2 := manifest.OpenBlock(key2, access, crafted)
	if err1 != nil || err2 != nil || bytes.Equal(p1, p2) || !bytes.Equal(p1[16:], content[16:]) {
		t.Fatalf("the crafted block does not open to two cleartexts (%v, %v): the test tests nothing", err1, err2)
	}
	kept := bytes.Clone(crafted)
	scratch := make([]byte, len(crafted))
	if !manifest.BlockOpensWith(key2, access, crafted, scratch) || !manifest.BlockOpensWith(key1, access, crafted, scratch) {
		t.Error("BlockOpensWith does not see that the crafted block opens with both keys")
	}
	if !bytes.Equal(crafted, kept) {
		t.Error("BlockOpensWith changed the block")
	}
	eachCipher(t, func(t *testing.T, _ string) {
		honest := manifest.SealBlock(key1, id, content)
		a := manifest.NewBlockAccess(id, 0, honest)
		if manifest.BlockOpensWith(key2, a, honest, scratch) || !manifest.BlockOpensWith(key1, a, honest, scratch) {
			t.Error("BlockOpensWith is wrong about a block sealed with one key")
		}
	})
}

// BenchmarkBlockOpensWith is the cost, per later key of the workspace, of reading a block
// sealed before a rotation (see BlockOpensWith).
func BenchmarkBlockOpensWith(b *testing.B) {
	for _, c := range ciphers {
		b.Run("cipher "+strconv.Quote(c), func(b *testing.B) {
			manifest.SetBlockCipher(b, c)
			key, other := crypto.GenerateRealmKey(), crypto.GenerateRealmKey()
			id := parsec.NewBlockID()
			ct := manifest.SealBlock(key, id, crypto.RandomBytes(benchBlockSize))
			access := manifest.NewBlockAccess(id, 0, ct)
			scratch := make([]byte, len(ct))
			b.SetBytes(benchBlockSize)
			b.ReportAllocs()
			for b.Loop() {
				if manifest.BlockOpensWith(other, access, ct, scratch) {
					b.Fatal("opens with another key")
				}
			}
		})
	}
}
