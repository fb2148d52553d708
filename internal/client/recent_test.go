package client

import (
	"testing"

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
