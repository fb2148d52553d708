package protocol

import (
	"net"

	"github.com/parsec-go/parsec/internal/codec"
)

// OKPieces is OK as pieces to write one after the other: for a block_read reply, the
// blocks' bytes are pieces of their own rather than copied into one encoding (they are
// megabytes, read from the block store for this reply). The pieces together are exactly
// OK(rep).
func OKPieces(rep any) (net.Buffers, error) {
	r, ok := rep.(BlockReadRep)
	if !ok {
		b, err := OK(rep)
		return net.Buffers{b}, err
	}
	// {"rep": {"blocks": [{"data": …, "block_id": …, "key_index": …}, …],
	//          "needed_realm_certificate_timestamp": …}, "status": "ok"}
	// (map keys in deterministic order, shortest first).
	pieces := make(net.Buffers, 0, 2*len(r.Blocks)+1)
	head := append(make([]byte, 0, 64), "\xa2\x63rep\xa2\x66blocks"...)
	if r.Blocks == nil {
		head = append(head, 0xf6) // null, as the encoder writes a nil slice
	} else {
		head = appendHead(head, 4, uint64(len(r.Blocks)))
	}
	for _, b := range r.Blocks {
		head = append(head, "\xa3\x64data"...)
		if b.Data == nil {
			head = append(head, 0xf6) // null, as the encoder writes a nil byte string
		} else {
			head = appendHead(head, 2, uint64(len(b.Data)))
			pieces = append(pieces, head, b.Data)
			head = make([]byte, 0, 64)
		}
		head = append(head, "\x68block_id"...)
		head = append(head, codec.MustMarshal(b.BlockID)...)
		head = append(head, "\x69key_index"...)
		head = appendHead(head, 0, b.KeyIndex)
	}
	head = append(head, "\x78\x22needed_realm_certificate_timestamp"...)
	head = append(head, codec.MustMarshal(r.NeededRealmCertificateTimestamp)...)
	head = append(head, "\x66status"...)
	head = append(head, codec.MustMarshal(StatusOK)...)
	return append(pieces, head), nil
}
