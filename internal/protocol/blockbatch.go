package protocol

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// BlockBatch builds the body of a block_create request in one buffer, block after block,
// each block in the very place where it travels: a client reads a block's cleartext there
// and encrypts it in place, and the finished buffer is the request, with no block copied.
// The body is exactly EncodeRequest(CmdBlockCreate, BlockCreateReq{…}) of the same blocks.
//
// The buffer holds room for the envelope first (its length depends on the number of
// blocks, known at the end), then the blocks as they come, then the envelope's end.
//
// The writer gives each block's BLAKE3 once the block is final (Commit's digest), so that
// Body returns the request's BodyHash without hashing the body again.
type BlockBatch struct {
	buf     []byte
	end     int // end of the last committed block
	blocks  int
	data    int // bytes of block data committed
	ids     []parsec.BlockID
	sizes   []int
	digests []crypto.Digest
}

// Layout of the body (the map keys in deterministic order, shortest first):
//
//	{"cmd": "block_create", "req": {"blocks": [{"data": …, "block_id": …}, …], "realm_id": …, "key_index": …}}
const (
	batchPrefixRoom = 64
	batchSuffixRoom = 64
	// A block's encoding but its data: the map head, "data" and the byte string's head, then
	// "block_id" and the ID (a byte string of 16 bytes).
	batchBlockHeadMax = 1 + 5 + 5
	batchBlockTail    = 9 + 17
)

var batchPrefix = []byte("\xa2\x63cmd\x6cblock_create\x63req\xa3\x66blocks")

// BlockBatchCap is the capacity of a buffer that can hold any batch: MaxBatchItems blocks
// of MaxBatchBytes in all.
const BlockBatchCap = batchPrefixRoom + MaxBatchBytes + MaxBatchItems*(batchBlockHeadMax+batchBlockTail) + batchSuffixRoom

// NewBlockBatch starts an empty batch in buf, which must have BlockBatchCap bytes (its
// content does not matter).
func NewBlockBatch(buf []byte) *BlockBatch {
	if len(buf) < BlockBatchCap {
		panic(fmt.Sprintf("protocol: block batch buffer of %d bytes, want %d", len(buf), BlockBatchCap))
	}
	return &BlockBatch{buf: buf, end: batchPrefixRoom, ids: make([]parsec.BlockID, MaxBatchItems),
		sizes: make([]int, MaxBatchItems), digests: make([]crypto.Digest, MaxBatchItems)}
}

// Reset empties the batch, to fill it again.
func (b *BlockBatch) Reset() { b.end, b.blocks, b.data = batchPrefixRoom, 0, 0 }

// Blocks is the number of blocks committed.
func (b *BlockBatch) Blocks() int { return b.blocks }

// Reserve returns where the data of a next block of at most size bytes goes, or nil when
// the batch cannot take such a block (MaxBatchItems blocks, or MaxBatchBytes of data, would
// be exceeded). The block is part of the batch once committed.
func (b *BlockBatch) Reserve(size int) []byte {
	if b.blocks >= MaxBatchItems || b.data+size > MaxBatchBytes {
		return nil
	}
	at := b.end + 1 + 5 + headLen(uint64(size))
	return b.buf[at : at+size : at+size]
}

// Commit adds the block id whose data, size bytes (at most what was reserved), is at the
// start of the last slot Reserve returned, and returns where the data now is (it moves
// when its length takes fewer bytes to write than the reserved one's) and where its
// BLAKE3 goes: the writer may change the data in place (encrypt it), then must set the
// digest of the final data before calling Body.
func (b *BlockBatch) Commit(id parsec.BlockID, size, reserved int) (data []byte, digest *crypto.Digest) {
	at := b.end + 1 + 5 + headLen(uint64(reserved))
	start := b.end + len(appendBlockHead(b.buf[b.end:b.end], size))
	if start != at {
		copy(b.buf[start:start+size], b.buf[at:at+size])
	}
	b.end = start + size + len(appendBlockTail(b.buf[start+size:start+size], id))
	b.ids[b.blocks], b.sizes[b.blocks] = id, size
	b.digests[b.blocks] = crypto.Digest{}
	b.blocks++
	b.data += size
	return b.buf[start : start+size : start+size], &b.digests[b.blocks-1]
}

// Body finishes the request for the realm and key index and returns it with its
// BodyHash, made of the digests given to Commit. The body shares the batch's buffer: it is
// valid until the batch is reset or changed.
func (b *BlockBatch) Body(realm parsec.VlobID, keyIndex uint64) (body []byte, hash [32]byte) {
	prefix := appendBatchHead(make([]byte, 0, batchPrefixRoom), b.blocks)
	start := batchPrefixRoom - len(prefix)
	copy(b.buf[start:], prefix)
	suffix := appendBatchTail(b.buf[b.end:b.end], realm, keyIndex)
	hash = blocksHash(blocksDomain, realm, keyIndex, b.blocks, func(i int) (parsec.BlockID, int, crypto.Digest) {
		return b.ids[i], b.sizes[i], b.digests[i]
	})
	return b.buf[start : b.end+len(suffix)], hash
}

// The parts of the layout around the blocks' data, each appended to b.

func appendBatchHead(b []byte, blocks int) []byte {
	return appendHead(append(b, batchPrefix...), 4, uint64(blocks))
}

// appendBlockHead is a block's map head, "data" and the head of its data's byte string.
func appendBlockHead(b []byte, size int) []byte {
	return appendHead(append(b, 0xa2, 0x64, 'd', 'a', 't', 'a'), 2, uint64(size))
}

func appendBlockTail(b []byte, id parsec.BlockID) []byte {
	return append(append(b, 0x68, 'b', 'l', 'o', 'c', 'k', '_', 'i', 'd'), codec.MustMarshal(id)...)
}

func appendBatchTail(b []byte, realm parsec.VlobID, keyIndex uint64) []byte {
	b = append(append(b, 0x68, 'r', 'e', 'a', 'l', 'm', '_', 'i', 'd'), codec.MustMarshal(realm)...)
	return appendHead(append(b, 0x69, 'k', 'e', 'y', '_', 'i', 'n', 'd', 'e', 'x'), 0, keyIndex)
}

// isBatchLayout says whether body, which decodes (strictly) as req, is laid out exactly as
// BlockBatch lays out req: then no other body decodes as req with the same hash (BodyHash).
// Only the bytes around the blocks' data are compared: with those in place, the data is
// where the decoder read it.
func isBatchLayout(body []byte, req *BlockCreateReq) bool {
	var scratch [64]byte
	rest := body
	take := func(want []byte) bool {
		if !bytes.HasPrefix(rest, want) {
			return false
		}
		rest = rest[len(want):]
		return true
	}
	if !take(appendBatchHead(scratch[:0], len(req.Blocks))) {
		return false
	}
	for _, bl := range req.Blocks {
		if !take(appendBlockHead(scratch[:0], len(bl.Data))) || len(rest) < len(bl.Data) {
			return false
		}
		rest = rest[len(bl.Data):]
		if !take(appendBlockTail(scratch[:0], bl.BlockID)) {
			return false
		}
	}
	return take(appendBatchTail(scratch[:0], req.RealmID, req.KeyIndex)) && len(rest) == 0
}

// headLen is the length of a CBOR head for the argument n.
func headLen(n uint64) int {
	switch {
	case n < 24:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	case n <= 0xffffffff:
		return 5
	}
	return 9
}

// appendHead appends the CBOR head of major type major with argument n, shortest form.
func appendHead(b []byte, major byte, n uint64) []byte {
	m := major << 5
	switch headLen(n) {
	case 1:
		return append(b, m|byte(n))
	case 2:
		return append(b, m|24, byte(n))
	case 3:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(n))
	case 5:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), n)
}
