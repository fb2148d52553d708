package certif_test

import (
	"bytes"
	"testing"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
)

// FuzzDecode checks that Decode never panics on untrusted bytes, and that whatever it
// accepts is canonical: re-encoding gives back exactly the signed body.
func FuzzDecode(f *testing.F) {
	c := newChain()
	for _, s := range c.o.Log {
		f.Add(s.Full)
		f.Add(s.Redacted)
	}
	key := crypto.GenerateSigningKey()
	for _, s := range sample() {
		f.Add(certif.Sign(key, s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := certif.Decode(raw)
		if err != nil {
			return
		}
		again, err := codec.Marshal(c)
		if err != nil {
			t.Fatalf("decoded certificate does not encode: %v", err)
		}
		if !bytes.Equal(again, certif.Body(raw)) {
			t.Fatalf("re-encoding differs:\n got %x\nwant %x", again, certif.Body(raw))
		}
	})
}
