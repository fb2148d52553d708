package client

import (
	"fmt"
	"testing"

	"github.com/parsec-go/parsec/internal/manifest"

	"github.com/parsec-go/parsec/internal/parsec"
)

// recentEntries keeps the last recentCap entries put, lets the oldest go first, and forgets
// on demand; an entry put again after being forgotten is kept again.
func TestRecentEntries(t *testing.T) {
	var r recentEntries
	ids := make([]parsec.VlobID, recentCap+100)
	for i := range ids {
		ids[i] = parsec.NewVlobID()
		r.put(ids[i], &entry{})
	}
	for i, id := range ids {
		if kept := r.get(id) != nil; kept != (i >= 100) {
			t.Fatalf("entry %d of %d: kept %v", i, len(ids), kept)
		}
	}
	if len(r.byID) != recentCap {
		t.Errorf("%d entries kept, want %d", len(r.byID), recentCap)
	}
	last := ids[len(ids)-1]
	r.forget(last)
	if r.get(last) != nil {
		t.Error("a forgotten entry is still there")
	}
	again := &entry{}
	r.put(last, again)
	if r.get(last) != again {
		t.Error("an entry put again after being forgotten is not there")
	}
	if len(r.byID) > recentCap {
		t.Errorf("%d entries kept, more than %d", len(r.byID), recentCap)
	}
}

// recentEntries keeps the size of the manifests it holds under recentSize, but always keeps
// the entry put last, however large.
func TestRecentEntriesBySize(t *testing.T) {
	var r recentEntries
	folder := func(children int) *entry {
		f := &manifest.FolderManifest{Children: map[string]parsec.VlobID{}}
		for i := range children {
			f.Children[fmt.Sprint("child ", i)] = parsec.NewVlobID()
		}
		return &entry{base: f}
	}
	small := folder(1000) // about 30 kB
	var ids []parsec.VlobID
	for range 1000 {
		id := parsec.NewVlobID()
		ids = append(ids, id)
		r.put(id, small)
		if r.size > recentSize {
			t.Fatalf("%d bytes held, more than %d", r.size, recentSize)
		}
	}
	if n := len(r.byID); n < 100 || n > recentSize/approxSize(small.base) {
		t.Errorf("%d folders of %d bytes kept", n, approxSize(small.base))
	}
	if r.get(ids[len(ids)-1]) == nil || r.get(ids[0]) != nil {
		t.Error("the oldest folders are not the ones let go")
	}
	huge := folder(recentSize / 20)
	hugeID := parsec.NewVlobID()
	r.put(hugeID, huge)
	if r.get(hugeID) != huge || len(r.byID) != 1 {
		t.Errorf("after a folder larger than recentSize: %d entries kept, it among them: %v", len(r.byID), r.get(hugeID) == huge)
	}
	r.put(ids[0], small)
	if r.get(hugeID) != nil || r.get(ids[0]) != small || r.size != approxSize(small.base) {
		t.Errorf("the large folder is not let go for the next: %d bytes held", r.size)
	}
}

// An entry pinned and saved again and again (a mount's writes to one file) is forgotten and
// put each time: what recentEntries keeps of their order stays bounded.
func TestRecentEntriesForgetAndPutAgain(t *testing.T) {
	var r recentEntries
	id, other := parsec.NewVlobID(), parsec.NewVlobID()
	r.put(other, &entry{})
	for range 100_000 {
		r.forget(id)
		r.put(id, &entry{})
	}
	if len(r.order) > 2*recentCap+2 || r.get(id) == nil || r.get(other) == nil {
		t.Errorf("after 100,000 cycles: %d IDs in order, %d entries held", len(r.order), len(r.byID))
	}
}
