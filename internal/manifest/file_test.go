package manifest_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/manifest"
)

// span describes a manifest.Span by block index (-1 for a hole), for comparisons.
type span struct {
	Off, Size uint64
	Block     int
	InBlock   uint64
}

func describe(m *manifest.FileManifest, spans []manifest.Span) []span {
	var out []span
	for _, s := range spans {
		d := span{Off: s.Offset, Size: s.Size, Block: -1, InBlock: s.InBlock}
		for i := range m.Blocks {
			if s.Block == &m.Blocks[i] {
				d.Block = i
			}
		}
		if s.Block != nil && d.Block == -1 {
			panic("span points outside the manifest's blocks")
		}
		out = append(out, d)
	}
	return out
}

func TestSpans(t *testing.T) {
	w := newWorld()
	m := w.file(w.realm) // [0,16) block 0, [16,20) hole, [20,28) block 1, the end
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		off, n uint64
		want   []span
		blocks []int
	}{
		{"whole file", 0, 28, []span{{0, 16, 0, 0}, {16, 4, -1, 0}, {20, 8, 1, 0}}, []int{0, 1}},
		{"more than the file", 0, math.MaxUint64, []span{{0, 16, 0, 0}, {16, 4, -1, 0}, {20, 8, 1, 0}}, []int{0, 1}},
		{"inside a block", 3, 5, []span{{3, 5, 0, 3}}, []int{0}},
		{"end of a block into a hole", 14, 4, []span{{14, 2, 0, 14}, {16, 2, -1, 0}}, []int{0}},
		{"hole into a block", 18, 4, []span{{18, 2, -1, 0}, {20, 2, 1, 0}}, []int{1}},
		{"inside a hole", 17, 2, []span{{17, 2, -1, 0}}, nil},
		{"across the tail of a block", 25, 100, []span{{25, 3, 1, 5}}, []int{1}},
		{"last byte", 27, 1, []span{{27, 1, 1, 7}}, []int{1}},
		{"at the end", 28, 10, nil, nil},
		{"past the end", 100, 10, nil, nil},
		{"empty range", 5, 0, nil, nil},
		{"offset overflow", 5, math.MaxUint64, []span{{5, 11, 0, 5}, {16, 4, -1, 0}, {20, 8, 1, 0}}, []int{0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, describe(m, m.Spans(tc.off, tc.n))); diff != "" {
				t.Errorf("Spans(%d, %d) (-want +got):\n%s", tc.off, tc.n, diff)
			}
			var want []manifest.BlockAccess
			for _, i := range tc.blocks {
				want = append(want, m.Blocks[i])
			}
			if diff := cmp.Diff(want, m.BlocksIn(tc.off, tc.n), cmpEmpty); diff != "" {
				t.Errorf("BlocksIn(%d, %d) (-want +got):\n%s", tc.off, tc.n, diff)
			}
		})
	}
}

var cmpEmpty = cmp.FilterValues(func(a, b []manifest.BlockAccess) bool { return len(a) == 0 && len(b) == 0 }, cmp.Comparer(func(_, _ []manifest.BlockAccess) bool { return true }))

// Spans covers every byte of the range exactly once, in order, and agrees with the blocks.
func TestSpansCoverTheRange(t *testing.T) {
	w := newWorld()
	m := w.file(w.realm)
	m.Size, m.BlockSize = 100, 10
	m.Blocks = nil
	for _, b := range [][2]uint64{{3, 2}, {10, 10}, {55, 5}, {60, 1}, {99, 1}} {
		m.Blocks = append(m.Blocks, manifest.BlockAccess{Offset: b[0], Size: b[1]})
	}
	if err := m.Check(); err != nil {
		t.Fatal(err)
	}
	owner := func(pos uint64) int { // the block holding pos, or -1
		for i, b := range m.Blocks {
			if b.Offset <= pos && pos < b.End() {
				return i
			}
		}
		return -1
	}
	for off := uint64(0); off <= 101; off++ {
		for n := uint64(0); n <= 102-off; n++ {
			pos := off
			spans := describe(m, m.Spans(off, n))
			for i, s := range spans {
				if s.Off != pos || s.Size == 0 {
					t.Fatalf("Spans(%d, %d)[%d] = %+v, want a span starting at %d", off, n, i, s, pos)
				}
				if i > 0 && s.Block == -1 && spans[i-1].Block == -1 {
					t.Fatalf("Spans(%d, %d): two holes in a row at %d", off, n, pos)
				}
				for p := s.Off; p < s.Off+s.Size; p++ {
					if owner(p) != s.Block {
						t.Fatalf("Spans(%d, %d)[%d] = %+v, but byte %d is in block %d", off, n, i, s, p, owner(p))
					}
				}
				if s.Block >= 0 && s.InBlock != s.Off-m.Blocks[s.Block].Offset {
					t.Fatalf("Spans(%d, %d)[%d] = %+v: wrong InBlock", off, n, i, s)
				}
				pos += s.Size
			}
			if want := min(off+n, max(off, m.Size)); pos != want {
				t.Fatalf("Spans(%d, %d) ends at %d, want %d", off, n, pos, want)
			}
		}
	}
}
