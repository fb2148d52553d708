package protocol

import "github.com/parsec-go/parsec/internal/codec"

// OKBlockReadFrame is the encoding of an ok block_read reply around its blocks' bytes, for
// blocks of sizes[i] bytes (-1 for a nil one; rep's Data are not used): frame[i] comes
// before block i's bytes, frame[len(sizes)] after the last one. A server can then send the
// blocks' bytes straight from where they are stored. frame and the blocks, in turn, are
// exactly OK(rep) for rep with those blocks.
func OKBlockReadFrame(rep BlockReadRep, sizes []int64) [][]byte {
	// {"rep": {"blocks": [{"data": …, "block_id": …, "key_index": …}, …],
	//          "needed_realm_certificate_timestamp": …}, "status": "ok"}
	// (map keys in deterministic order, shortest first).
	frame := make([][]byte, 0, len(sizes)+1)
	head := append(make([]byte, 0, 64), "\xa2\x63rep\xa2\x66blocks"...)
	if rep.Blocks == nil {
		head = append(head, 0xf6) // null, as the encoder writes a nil slice
	} else {
		head = appendHead(head, 4, uint64(len(rep.Blocks)))
	}
	for i, b := range rep.Blocks {
		head = append(head, "\xa3\x64data"...)
		if sizes[i] < 0 {
			head = append(head, 0xf6) // null, as the encoder writes a nil byte string
		} else {
			head = appendHead(head, 2, uint64(sizes[i]))
		}
		frame = append(frame, head)
		head = append(make([]byte, 0, 64), "\x68block_id"...)
		head = append(head, codec.MustMarshal(b.BlockID)...)
		head = append(head, "\x69key_index"...)
		head = appendHead(head, 0, b.KeyIndex)
	}
	head = append(head, "\x78\x22needed_realm_certificate_timestamp"...)
	head = append(head, codec.MustMarshal(rep.NeededRealmCertificateTimestamp)...)
	head = append(head, "\x66status"...)
	head = append(head, codec.MustMarshal(StatusOK)...)
	return append(frame, head)
}
