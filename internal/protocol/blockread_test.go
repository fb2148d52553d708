package protocol

import (
	"bytes"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
)

// A block_read reply's frame around its blocks is OK's encoding of it.
func TestOKBlockReadFrame(t *testing.T) {
	block := func(n int, keyIndex uint64) BlockItem {
		return BlockItem{BlockID: parsec.NewBlockID(), KeyIndex: keyIndex, Data: bytes.Repeat([]byte{byte(n)}, n)}
	}
	many := make([]BlockItem, 300)
	for i := range many {
		many[i] = block(i, uint64(i))
	}
	for _, tc := range []struct {
		name string
		rep  BlockReadRep
	}{
		{"no blocks", BlockReadRep{Blocks: []BlockItem{}, NeededRealmCertificateTimestamp: 1}},
		{"nil blocks", BlockReadRep{}},
		{"blocks of every head size", BlockReadRep{Blocks: []BlockItem{block(0, 1), block(1, 23), block(24, 24), block(300, 255), block(70000, 1<<33)},
			NeededRealmCertificateTimestamp: parsec.DateTime(1_700_000_000_000_000)}},
		{"a nil block", BlockReadRep{Blocks: []BlockItem{{BlockID: parsec.NewBlockID(), KeyIndex: 1}}, NeededRealmCertificateTimestamp: 5}},
		{"300 blocks", BlockReadRep{Blocks: many, NeededRealmCertificateTimestamp: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := OK(tc.rep)
			if err != nil {
				t.Fatal(err)
			}
			sizes := make([]int64, len(tc.rep.Blocks))
			for i, b := range tc.rep.Blocks {
				sizes[i] = int64(len(b.Data))
				if b.Data == nil {
					sizes[i] = -1
				}
			}
			frame := OKBlockReadFrame(tc.rep, sizes)
			var got []byte
			for i, b := range tc.rep.Blocks {
				got = append(append(got, frame[i]...), b.Data...)
			}
			got = append(got, frame[len(tc.rep.Blocks)]...)
			if !bytes.Equal(got, want) {
				t.Fatalf("pieces\n%x\nwant\n%x", got, want)
			}
		})
	}
}
