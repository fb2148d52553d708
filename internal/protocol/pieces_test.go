package protocol

import (
	"bytes"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
)

// The pieces of a reply are OK's encoding of it.
func TestOKPiecesIsOK(t *testing.T) {
	block := func(n int, keyIndex uint64) BlockItem {
		return BlockItem{BlockID: parsec.NewBlockID(), KeyIndex: keyIndex, Data: bytes.Repeat([]byte{byte(n)}, n)}
	}
	many := make([]BlockItem, 300)
	for i := range many {
		many[i] = block(i, uint64(i))
	}
	for _, tc := range []struct {
		name string
		rep  any
	}{
		{"another reply", PingRep{Pong: "x"}},
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
			pieces, err := OKPieces(tc.rep)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Join(pieces, nil); !bytes.Equal(got, want) {
				t.Fatalf("pieces\n%x\nwant\n%x", got, want)
			}
		})
	}
}
