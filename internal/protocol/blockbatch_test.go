package protocol

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/parsec-go/parsec/internal/codec"
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
				if got := b.Commit(id, size, reserved); !bytes.Equal(got, data) {
					t.Fatal("Commit does not return the block's data")
				}
				req.Blocks = append(req.Blocks, BlockData{BlockID: id, Data: data})
			}
			want, err := EncodeRequest(CmdBlockCreate, req)
			if err != nil {
				t.Fatal(err)
			}
			body := b.Body(req.RealmID, req.KeyIndex)
			if !bytes.Equal(body, want) {
				t.Fatalf("body of %d bytes differs from EncodeRequest's %d", len(body), len(want))
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
