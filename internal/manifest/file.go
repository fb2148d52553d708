package manifest

import (
	"fmt"
	"sort"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// DefaultBlockSize is the span size of new files: 512 KiB, unless the server asks for
// another (see NewFileBlockSize).
const DefaultBlockSize = 512 << 10

// A server may ask for another span size for new files (protocol.OrganizationConfig's
// BlockSize): on object storage, where each block is a request and an object, fewer and
// larger blocks cost less. Writers take it when it is a power of two from
// MinNewFileBlockSize to MaxNewFileBlockSize, the largest whose encrypted blocks fit in a
// request's largest block (protocol.MaxBlockSize, 4 MiB).
const (
	MinNewFileBlockSize = 64 << 10
	MaxNewFileBlockSize = 2 << 20
)

// NewFileBlockSize returns the span size of new files when the server asks for asked
// bytes (0: it asks for nothing): asked when it is within bounds, DefaultBlockSize
// otherwise. The server's word is a hint: one out of bounds is ignored, since a tiny size
// would cut a file into as many blocks as it has bytes.
func NewFileBlockSize(asked int64) uint64 {
	if asked < MinNewFileBlockSize || asked > MaxNewFileBlockSize || asked&(asked-1) != 0 {
		return DefaultBlockSize
	}
	return uint64(asked)
}

// MinBlockSize and MaxBlockSize bound the span size of a file manifest. The upper bound
// is what keeps the holes of a file (zeros no block holds) proportionate to its blocks.
const (
	MinBlockSize = 8
	MaxBlockSize = 4 << 20
)

// FileManifest is a file: its size and the blocks holding its content.
//
// The file is cut in aligned spans [k*BlockSize, (k+1)*BlockSize). Each span holds at most
// one block, which lies inside it but need not fill it; whatever no block covers, below
// Size, is a hole and reads as zeros. Blocks are listed by increasing offset, and the last
// one ends the file: Size is what the blocks cover, so that a manifest cannot claim a size
// (a terabyte of zeros, say) that no content backs.
type FileManifest struct {
	Type string `cbor:"type"`
	Header
	Size      uint64        `cbor:"size"`
	BlockSize uint64        `cbor:"blocksize"`
	Blocks    []BlockAccess `cbor:"blocks"`
}

// BlockAccess is what a file manifest says of a block: where it sits in the file, the size
// of its cleartext, and a digest, which OpenBlock checks. The digest is the BLAKE3 (Hash
// HashBLAKE3) of the block as stored, encrypted (Sealed): the writer hashes each block
// once, for the manifest and for the signature of the request that uploads it
// (protocol.BodyHash), and a reader refuses a block that is not the one the manifest names
// before decrypting it. Manifests written before this project made those changes carry the
// SHA-256 of the encrypted block (Sealed, no Hash), or of the cleartext (neither), which
// OpenBlock still checks, the latter after decrypting.
type BlockAccess struct {
	ID     parsec.BlockID `cbor:"id"`
	Offset uint64         `cbor:"offset"` // in the file
	Size   uint64         `cbor:"size"`   // of the cleartext, not zero
	Digest crypto.Digest  `cbor:"digest"` // of the encrypted block (Sealed) or of the cleartext
	Sealed bool           `cbor:"sealed,omitempty"`
	Hash   string         `cbor:"hash,omitempty"`   // the digest's algorithm: HashBLAKE3, or SHA-256 when empty
	Cipher string         `cbor:"cipher,omitempty"` // the block's encryption: CipherAES256GCM or CipherXChaCha20Poly1305 (empty)
}

// HashBLAKE3 is BlockAccess.Hash for a BLAKE3 digest (crypto.SumBLAKE3).
const HashBLAKE3 = "BLAKE3"

// NewBlockAccess describes the block id at offset, given as encrypted by this process
// (SealBlock, with BlockCipher): it holds len(block)-BlockOverhead bytes of cleartext. A
// block shorter than BlockOverhead is not an encrypted block: it panics.
func NewBlockAccess(id parsec.BlockID, offset uint64, block []byte) BlockAccess {
	if len(block) < BlockOverhead {
		panic(fmt.Sprintf("manifest: NewBlockAccess of %d bytes, less than an encrypted block", len(block)))
	}
	return BlockAccess{ID: id, Offset: offset, Size: uint64(len(block) - BlockOverhead), Digest: crypto.SumBLAKE3(block), Sealed: true, Hash: HashBLAKE3, Cipher: blockCipher}
}

// digestOf is the digest of data with the access's algorithm.
func (b *BlockAccess) digestOf(data []byte) crypto.Digest {
	if b.Hash == HashBLAKE3 {
		return crypto.SumBLAKE3(data)
	}
	return crypto.Sum(data)
}

// End is the offset just after the block.
func (b *BlockAccess) End() uint64 { return b.Offset + b.Size }

func (m *FileManifest) IsFolder() bool { return false }
func (m *FileManifest) Kind() string   { return KindFile }
func (m *FileManifest) Check() error   { return invalid(m, m.check()) }
func (m *FileManifest) setType()       { m.Type = KindFile }

func (m *FileManifest) check() error {
	if err := m.Header.check(); err != nil {
		return err
	}
	if m.IsRoot() {
		return fmt.Errorf("a file cannot be its own parent")
	}
	if m.BlockSize < MinBlockSize || m.BlockSize > MaxBlockSize {
		return fmt.Errorf("block size %d is not between %d and %d", m.BlockSize, MinBlockSize, MaxBlockSize)
	}
	for i := range m.Blocks {
		b := &m.Blocks[i]
		span := b.Offset / m.BlockSize
		spanEnd := m.BlockSize - b.Offset%m.BlockSize // room left in the span
		switch {
		case b.Size == 0:
			return fmt.Errorf("block %d (%s) is empty", i, b.ID)
		case b.Hash != "" && b.Hash != HashBLAKE3:
			return fmt.Errorf("block %d (%s) has a digest of unknown algorithm %q", i, b.ID, b.Hash)
		case b.Hash != "" && !b.Sealed:
			return fmt.Errorf("block %d (%s) has a %s digest of its cleartext, which no writer makes", i, b.ID, b.Hash)
		case b.Cipher != CipherXChaCha20Poly1305 && b.Cipher != CipherAES256GCM:
			return fmt.Errorf("block %d (%s) has an unknown cipher %q", i, b.ID, b.Cipher)
		case b.Offset >= m.Size || b.Size > m.Size-b.Offset:
			return fmt.Errorf("block %d (%s) [%d, +%d) goes past the end of the file (%d)", i, b.ID, b.Offset, b.Size, m.Size)
		case b.Size > spanEnd:
			return fmt.Errorf("block %d (%s) [%d, %d) crosses the end of its span [%d, %d)", i, b.ID, b.Offset, b.End(), span*m.BlockSize, span*m.BlockSize+m.BlockSize)
		}
		if i == 0 {
			continue
		}
		p := &m.Blocks[i-1]
		switch {
		case b.Offset < p.Offset:
			return fmt.Errorf("blocks %d and %d are not sorted by offset (%d, %d)", i-1, i, p.Offset, b.Offset)
		case b.Offset < p.End():
			return fmt.Errorf("block %d (%s) [%d, %d) overlaps block %d [%d, %d)", i, b.ID, b.Offset, b.End(), i-1, p.Offset, p.End())
		case span == p.Offset/m.BlockSize:
			return fmt.Errorf("blocks %d and %d are both in span [%d, %d)", i-1, i, span*m.BlockSize, span*m.BlockSize+m.BlockSize)
		}
	}
	covered := uint64(0)
	if n := len(m.Blocks); n > 0 {
		covered = m.Blocks[n-1].End()
	}
	if m.Size != covered {
		return fmt.Errorf("size %d is not what the blocks cover (%d)", m.Size, covered)
	}
	return nil
}

// A Span is a contiguous range of a file and where its content is: in a block, or in a hole
// (zeros).
type Span struct {
	Offset uint64 // in the file
	Size   uint64
	// Block is the block holding the range, pointing into the manifest's Blocks, or nil for
	// a hole.
	Block *BlockAccess
	// InBlock is where the range starts in the block's cleartext (0 for a hole).
	InBlock uint64
}

// Spans tells a reader where the bytes [off, off+n) of the file are: the ranges, in order
// and without gaps, each either in one block or in a hole. The range is cut at the end of
// the file; a range starting at or after it gives nil. Consecutive holes are merged. It
// assumes the manifest is valid (see Check).
func (m *FileManifest) Spans(off, n uint64) []Span {
	end := m.clampEnd(off, n)
	if off >= end {
		return nil
	}
	var spans []Span
	pos := off
	for i := m.firstEndingAfter(off); i < len(m.Blocks) && pos < end; i++ {
		b := &m.Blocks[i]
		if b.Offset >= end {
			break
		}
		if b.Offset > pos {
			spans = append(spans, Span{Offset: pos, Size: b.Offset - pos})
			pos = b.Offset
		}
		stop := min(b.End(), end)
		spans = append(spans, Span{Offset: pos, Size: stop - pos, Block: b, InBlock: pos - b.Offset})
		pos = stop
	}
	if pos < end {
		spans = append(spans, Span{Offset: pos, Size: end - pos})
	}
	return spans
}

// BlocksIn returns the blocks holding some of the bytes [off, off+n) of the file (cut at
// its end), in order: a sub-slice of Blocks, not a copy. It assumes the manifest is valid.
func (m *FileManifest) BlocksIn(off, n uint64) []BlockAccess {
	end := m.clampEnd(off, n)
	if off >= end {
		return nil
	}
	i := m.firstEndingAfter(off)
	j := i + sort.Search(len(m.Blocks)-i, func(k int) bool { return m.Blocks[i+k].Offset >= end })
	return m.Blocks[i:j]
}

// clampEnd returns min(off+n, Size) without overflowing.
func (m *FileManifest) clampEnd(off, n uint64) uint64 {
	if off >= m.Size {
		return off
	}
	return off + min(n, m.Size-off)
}

// firstEndingAfter returns the index of the first block ending after off.
func (m *FileManifest) firstEndingAfter(off uint64) int {
	return sort.Search(len(m.Blocks), func(i int) bool { return m.Blocks[i].End() > off })
}
