package metastoretest

import (
	"crypto/rand"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// DiskFull checks what s does when fill takes the room left on the disk of its certificates
// (until the function fill returns frees it): a write fails with an error of kind
// Unavailable (which the server tells its clients, rather than an internal error), reads go
// on, and writes work again on the same store once room is freed.
func DiskFull(t *testing.T, s metastore.Store, fill func() (free func())) {
	t.Helper()
	if err := s.Update(t.Context(), func(tx metastore.Tx) error {
		return tx.PutOrganization(metastore.Organization{ID: "Acme", CreatedOn: 1})
	}); err != nil {
		t.Fatal(err)
	}
	write := func(ts parsec.DateTime) error {
		data := make([]byte, 256<<10)
		rand.Read(data) // not compressible: the store keeps all of it
		return s.Update(t.Context(), func(tx metastore.Tx) error {
			return tx.AddCertificate("Acme", metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: ts,
				Kind: "user_certificate", Data: data})
		})
	}
	read := func() error {
		return s.View(t.Context(), func(tx metastore.Tx) error {
			_, err := tx.Organization("Acme")
			return err
		})
	}
	free := fill()
	if err := write(2); !parsec.IsKind(err, parsec.Unavailable) {
		t.Errorf("write on a full disk: error %v, want kind %v", err, parsec.Unavailable)
	}
	if err := read(); err != nil {
		t.Errorf("read on a full disk: %v", err)
	}
	free()
	if err := write(3); err != nil {
		t.Errorf("write once room is freed: %v", err)
	}
	if err := read(); err != nil {
		t.Errorf("read once room is freed: %v", err)
	}
}
