package client

import (
	"maps"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
)

// FuzzMergeChildren merges folder entries three ways from arbitrary base, local and remote
// folders (what a lying server or a buggy member may hand the merge). The result never
// holds an entry of neither side, nor one entry twice; it keeps what both sides agree on
// and what either side added; and it is the same every time.
func FuzzMergeChildren(f *testing.F) {
	f.Add([]byte{0x01, 0x12, 0x23}, []byte{0x01, 0x12, 0x34}, []byte{0x01, 0x23, 0x45})
	f.Add([]byte{}, []byte{0x10, 0x21}, []byte{0x10, 0x31})
	f.Add([]byte{0x00, 0x11}, []byte{0x01}, []byte{0x10, 0x11, 0x22})
	ids := make([]parsec.VlobID, 16)
	for i := range ids {
		ids[i][0] = byte(i + 1)
	}
	names := []string{"a", "b", "c.txt", "c (name conflict 1).txt", "d", "e.md", "f", "g"}
	folder := func(b []byte) map[string]parsec.VlobID {
		m := map[string]parsec.VlobID{}
		used := map[parsec.VlobID]bool{}
		for _, x := range b {
			if id := ids[x&15]; !used[id] { // a valid folder names an entry once
				m[names[x>>4%8]] = id
				used[id] = true
			}
		}
		return m
	}
	f.Fuzz(func(t *testing.T, bb, lb, rb []byte) {
		base, local, remote := folder(bb), folder(lb), folder(rb)
		out := mergeChildren(base, local, remote, nil, nil)
		if again := mergeChildren(base, local, remote, nil, nil); !maps.Equal(out, again) {
			t.Fatalf("two merges differ: %v, %v", out, again)
		}
		in := func(m map[string]parsec.VlobID, id parsec.VlobID) bool {
			for _, x := range m {
				if x == id {
					return true
				}
			}
			return false
		}
		seen := map[parsec.VlobID]bool{}
		for _, id := range out {
			if seen[id] {
				t.Fatalf("entry %x twice in %v", id[0], out)
			}
			seen[id] = true
			if !in(local, id) && !in(remote, id) {
				t.Fatalf("entry %x of neither side in %v", id[0], out)
			}
		}
		for n, id := range remote {
			if local[n] == id && !seen[id] {
				t.Fatalf("entry %s (%x), the same on both sides, lost: %v", n, id[0], out)
			}
			if !in(base, id) && !in(local, id) && !seen[id] {
				t.Fatalf("entry %s (%x), added remotely, lost: %v", n, id[0], out)
			}
		}
		for n, id := range local {
			if !in(base, id) && !in(remote, id) && !seen[id] {
				t.Fatalf("entry %s (%x), added locally, lost: %v", n, id[0], out)
			}
		}
	})
}
