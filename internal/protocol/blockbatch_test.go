package protocol

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// A batch's body is the encoding EncodeRequest gives for the same blocks, and the server
// decodes it strictly.
func TestBlockBatchEncodesLikeEncodeRequest(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{1})
	for _, tc := range []struct {
		name     string
		sizes    []int
		reserved int // 0: each block's own size
		keyIndex uint64
	}{
		{name: "empty", keyIndex: 1},
		{name: "one block", sizes: []int{100}, keyIndex: 1},
		{name: "lengths at each head size", sizes: []int{1, 23, 24, 255, 256, 65535, 65536, 524328}, keyIndex: 23},
		{name: "shorter than reserved", sizes: []int{40, 300, 70000, 524328, 5}, reserved: 524328, keyIndex: 24},
		{name: "23 blocks", sizes: repeat(23, 64), keyIndex: 255},
		{name: "24 blocks", sizes: repeat(24, 64), keyIndex: 256},
		{name: "MaxBatchItems blocks", sizes: repeat(MaxBatchItems, 50), reserved: 4096, keyIndex: 1 << 40},
		{name: "MaxBatchBytes of data", sizes: repeat(16, MaxBatchBytes/16), keyIndex: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBlockBatch(make([]byte, BlockBatchCap))
			req := BlockCreateReq{RealmID: parsec.NewVlobID(), KeyIndex: tc.keyIndex, Blocks: []BlockData{}}
			for _, size := range tc.sizes {
				reserved := max(tc.reserved, size)
				slot := b.Reserve(reserved)
				if slot == nil {
					t.Fatalf("a block of %d bytes refused after %d blocks", reserved, b.Blocks())
				}
				data := make([]byte, size)
				rng.Read(data)
				copy(slot, data)
				id := parsec.NewBlockID()
				got, digest := b.Commit(id, size, reserved)
				if !bytes.Equal(got, data) {
					t.Fatal("Commit does not return the block's data")
				}
				*digest = crypto.SumBLAKE3(got)
				req.Blocks = append(req.Blocks, BlockData{BlockID: id, Data: data})
			}
			want, err := EncodeRequest(CmdBlockCreate, req)
			if err != nil {
				t.Fatal(err)
			}
			body, hash := b.Body(req.RealmID, req.KeyIndex)
			if !bytes.Equal(body, want) {
				t.Fatalf("body of %d bytes differs from EncodeRequest's %d", len(body), len(want))
			}
			if hash != BodyHash(body) {
				t.Fatal("the batch's hash is not the BodyHash of its body")
			}
			if hash == crypto.Sum(body) {
				t.Fatal("a block_create body is hashed as a whole, not block by block")
			}
			var env struct {
				Cmd string          `cbor:"cmd"`
				Req *BlockCreateReq `cbor:"req"`
			}
			if err := codec.Unmarshal(body, &env); err != nil {
				t.Fatal(err)
			}
			got := env.Req
			if got.RealmID != req.RealmID || got.KeyIndex != req.KeyIndex || len(got.Blocks) != len(req.Blocks) {
				t.Fatalf("decoded realm %v, key index %d, %d blocks; want %v, %d, %d",
					got.RealmID, got.KeyIndex, len(got.Blocks), req.RealmID, req.KeyIndex, len(req.Blocks))
			}
			for i, bl := range got.Blocks {
				if bl.BlockID != req.Blocks[i].BlockID || !bytes.Equal(bl.Data, req.Blocks[i].Data) {
					t.Fatalf("block %d decoded differently", i)
				}
			}
		})
	}
}

// The hash a request's signature covers changes with every part of a block_create body: a
// server checking it knows the blocks are the device's, byte for byte. A body that only
// looks like one at its start is hashed whole.
func TestBodyHashOfBlocks(t *testing.T) {
	realm := parsec.NewVlobID()
	blocks := []BlockData{{BlockID: parsec.NewBlockID(), Data: []byte("first block")}, {BlockID: parsec.NewBlockID(), Data: []byte("second")}}
	encode := func(realm parsec.VlobID, keyIndex uint64, blocks []BlockData) []byte {
		t.Helper()
		body, err := EncodeRequest(CmdBlockCreate, BlockCreateReq{RealmID: realm, KeyIndex: keyIndex, Blocks: blocks})
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	body := encode(realm, 1, blocks)
	signed := BodyHash(body)
	changed := func(f func(bs []BlockData) []BlockData) []BlockData {
		bs := make([]BlockData, len(blocks))
		for i, b := range blocks {
			bs[i] = BlockData{BlockID: b.BlockID, Data: bytes.Clone(b.Data)}
		}
		return f(bs)
	}
	for name, other := range map[string][]byte{
		"one byte of a block": encode(realm, 1, changed(func(bs []BlockData) []BlockData { bs[1].Data[0] ^= 1; return bs })),
		"a block longer":      encode(realm, 1, changed(func(bs []BlockData) []BlockData { bs[0].Data = append(bs[0].Data, 0); return bs })),
		"a block's ID":        encode(realm, 1, changed(func(bs []BlockData) []BlockData { bs[0].BlockID = parsec.NewBlockID(); return bs })),
		"blocks swapped":      encode(realm, 1, changed(func(bs []BlockData) []BlockData { bs[0], bs[1] = bs[1], bs[0]; return bs })),
		"a block left out":    encode(realm, 1, blocks[:1]),
		"data moved between blocks": encode(realm, 1, changed(func(bs []BlockData) []BlockData {
			bs[0].Data, bs[1].Data = []byte("first blocks"), []byte("econd")
			return bs
		})),
		"the realm":     encode(parsec.NewVlobID(), 1, blocks),
		"the key index": encode(realm, 2, blocks),
	} {
		if BodyHash(other) == signed {
			t.Errorf("%s changed: same hash", name)
		}
	}
	// Other encodings of the same request decode the same, but only the one layout
	// BlockBatch writes is hashed block by block: the signature pins the body's bytes.
	for name, other := range map[string][]byte{
		"a key index in a longer head": append(bytes.Clone(body[:len(body)-1]), 0x18, 0x01),
		"field names in capitals":      bytes.Replace(bytes.Clone(body), []byte("key_index"), []byte("KEY_INDEX"), 1),
	} {
		var env struct {
			Cmd string          `cbor:"cmd"`
			Req *BlockCreateReq `cbor:"req"`
		}
		if err := codec.Unmarshal(other, &env); err != nil || env.Req.KeyIndex != 1 {
			t.Fatalf("%s: does not decode as the same request (%v): the case tests nothing", name, err)
		}
		if got := BodyHash(other); got != crypto.Sum(other) || got == signed {
			t.Errorf("%s: not hashed whole", name)
		}
	}
	// Cut short, the body no longer decodes: it is hashed whole.
	if got := BodyHash(body[:len(body)-1]); got != crypto.Sum(body[:len(body)-1]) {
		t.Error("a body that does not decode is not hashed whole")
	}
	other, err := EncodeRequest(CmdPing, PingReq{Ping: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if BodyHash(other) != crypto.Sum(other) || BodyHash(nil) != crypto.Sum(nil) {
		t.Error("another command's body is not hashed whole")
	}
}

// A client of API 2.0 hashed each block of an upload with SHA-256: a server checks its
// requests as it signed them, and those of a 2.1 client with BLAKE3, never one as the other.
func TestCheckBodyOfEarlierClients(t *testing.T) {
	realm := parsec.NewVlobID()
	blocks := []BlockData{{BlockID: parsec.NewBlockID(), Data: []byte("first block")}, {BlockID: parsec.NewBlockID(), Data: []byte("second")}}
	body, err := EncodeRequest(CmdBlockCreate, BlockCreateReq{RealmID: realm, KeyIndex: 3, Blocks: blocks})
	if err != nil {
		t.Fatal(err)
	}
	// What a 2.0 client signed, written out here as it computed it.
	h := sha256.New()
	h.Write([]byte("parsec/1/block_create\n"))
	h.Write(realm[:])
	h.Write(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, 3), 2))
	for _, b := range blocks {
		sum := sha256.Sum256(b.Data)
		h.Write(append(binary.BigEndian.AppendUint64(b.BlockID[:], uint64(len(b.Data))), sum[:]...))
	}
	earlier := [32]byte(h.Sum(nil))
	if BodyHash(body) == earlier {
		t.Fatal("this version hashes blocks as 2.0 did")
	}
	for _, tc := range []struct {
		name   string
		signed [32]byte
		minor  int
		ok     bool
	}{
		{"2.0 client", earlier, 0, true},
		{"2.1 client", BodyHash(body), 1, true},
		{"a later client", BodyHash(body), 2, true},
		{"2.0 hash from a 2.1 client", earlier, 1, false},
		{"2.1 hash from a 2.0 client", BodyHash(body), 0, false},
	} {
		err := DeviceAuth{BodyHash: tc.signed}.CheckBody(body, tc.minor)
		if (err == nil) != tc.ok {
			t.Errorf("%s: CheckBody = %v", tc.name, err)
		}
	}
	// Bodies other than a batch of blocks are hashed whole by every version.
	ping, err := EncodeRequest(CmdPing, PingReq{Ping: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if err := (DeviceAuth{BodyHash: crypto.Sum(ping)}).CheckBody(ping, 0); err != nil {
		t.Errorf("2.0 ping: %v", err)
	}
}

func TestBlockBatchLimits(t *testing.T) {
	b := NewBlockBatch(make([]byte, BlockBatchCap))
	if b.Reserve(MaxBatchBytes+1) != nil {
		t.Error("reserved more than MaxBatchBytes")
	}
	for range MaxBatchItems {
		if b.Reserve(1) == nil {
			t.Fatalf("refused block %d", b.Blocks()+1)
		}
		b.Commit(parsec.NewBlockID(), 1, 1)
	}
	if b.Reserve(1) != nil {
		t.Error("reserved a block beyond MaxBatchItems")
	}
	b.Reset()
	if b.Blocks() != 0 || b.Reserve(MaxBatchBytes) == nil {
		t.Error("a reset batch is not empty")
	}
}

func repeat(n, size int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = size
	}
	return s
}

// BodyHash runs on a body before its hash is checked (the server's side): whatever the
// bytes, it returns, and a body that decodes as a block_create request is hashed block by
// block, like the batch that would carry the same blocks.
func FuzzBodyHash(f *testing.F) {
	b := NewBlockBatch(make([]byte, BlockBatchCap))
	for _, size := range []int{3, 0, 100} {
		data, digest := b.Commit(parsec.NewBlockID(), size, size)
		*digest = crypto.SumBLAKE3(data)
	}
	body, _ := b.Body(parsec.NewVlobID(), 7)
	f.Add(body)
	f.Add(body[:len(body)-3])
	f.Add([]byte(nil))
	f.Fuzz(func(t *testing.T, body []byte) {
		sum := BodyHash(body)
		var env struct {
			Cmd string          `cbor:"cmd"`
			Req *BlockCreateReq `cbor:"req"`
		}
		if !bytes.HasPrefix(body, batchPrefix) || codec.Unmarshal(body, &env) != nil || env.Cmd != CmdBlockCreate || env.Req == nil {
			if sum != crypto.Sum(body) {
				t.Fatal("a body that is no block_create request is not hashed whole")
			}
			return
		}
		if sum != crypto.Sum(body) {
			// Hashed block by block: only the layout BlockBatch writes is.
			want, err := EncodeRequest(CmdBlockCreate, *env.Req)
			if err != nil || !bytes.Equal(body, want) {
				t.Fatalf("a body hashed block by block is not the canonical encoding of its request (%v)", err)
			}
		}
		if len(env.Req.Blocks) > MaxBatchItems {
			return
		}
		batch := NewBlockBatch(make([]byte, BlockBatchCap))
		for _, bl := range env.Req.Blocks {
			slot := batch.Reserve(len(bl.Data))
			if slot == nil {
				return // more than a batch holds
			}
			copy(slot, bl.Data)
			data, digest := batch.Commit(bl.BlockID, len(bl.Data), len(bl.Data))
			*digest = crypto.SumBLAKE3(data)
		}
		canonical, want := batch.Body(env.Req.RealmID, env.Req.KeyIndex)
		if bytes.Equal(canonical, body) != (sum == want) {
			t.Fatal("a block_create body is hashed as the batch of its blocks if and only if it is laid out as the batch")
		}
	})
}
