package localdb

import (
	"path/filepath"
	"testing"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// benchmarkPutVlobs saves 10,000 new manifests as a write of as many files does, then the
// same as the server took them, in a cache that holds 200,000 already (with folders of
// 10,000 entries among them, 250 KB each, when large); newID makes the IDs.
func benchmarkPutVlobs(b *testing.B, newID func() parsec.VlobID, large bool) {
	realm := parsec.NewVlobID()
	manifest := make([]byte, 300)
	db, err := Open(b.Context(), filepath.Join(b.TempDir(), "cache.db"), crypto.GenerateSecretKey())
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	batch := func(base bool) []Vlob {
		vs := make([]Vlob, 10000)
		for i := range vs {
			vs[i] = Vlob{ID: newID(), NeedSync: true, Local: manifest, Updated: parsec.DateTime(i)}
			if base {
				vs[i] = Vlob{ID: vs[i].ID, BaseVersion: 1, Base: manifest, Updated: parsec.DateTime(i)}
			}
		}
		return vs
	}
	for range 20 {
		vs := batch(true)
		if large {
			vs[len(vs)/2].Base = make([]byte, 250<<10)
		}
		if _, err := db.PutVlobs(b.Context(), realm, vs, nil); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		b.StopTimer()
		vs := batch(false)
		b.StartTimer()
		if _, err := db.PutVlobs(b.Context(), realm, vs, nil); err != nil {
			b.Fatal(err)
		}
		for i := range vs {
			vs[i].NeedSync, vs[i].BaseVersion, vs[i].Base, vs[i].Local = false, 1, manifest, nil
		}
		if _, err := db.PutVlobs(b.Context(), realm, vs, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutVlobs: vlob IDs as parsec.NewVlobID makes them (in sequence), and random
// (version 4, as they were made before).
func BenchmarkPutVlobs(b *testing.B) {
	b.Run("sequential", func(b *testing.B) { benchmarkPutVlobs(b, parsec.NewVlobID, false) })
	b.Run("random", func(b *testing.B) {
		benchmarkPutVlobs(b, func() parsec.VlobID { return parsec.VlobID(parsec.NewUserID()) }, false)
	})
	b.Run("sequential, large folders", func(b *testing.B) { benchmarkPutVlobs(b, parsec.NewVlobID, true) })
}
