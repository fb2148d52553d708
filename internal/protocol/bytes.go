package protocol

import (
	"encoding/binary"
	"errors"
)

// Bytes is a byte string that decodes without a copy: the decoded slice shares the memory
// of the body it was decoded from. It carries blocks, megabytes per request, which are
// used (stored, or decrypted in place) while the body is alive. It encodes like []byte.
type Bytes []byte

// UnmarshalCBOR makes b the content of the CBOR byte string data, without copying it; null
// (and undefined) decode as nil, like for []byte. The decoder gives data well-formed
// (checked before, with indefinite lengths forbidden).
func (b *Bytes) UnmarshalCBOR(data []byte) error {
	if len(data) == 1 && (data[0] == 0xf6 || data[0] == 0xf7) {
		*b = nil
		return nil
	}
	if len(data) == 0 || data[0]>>5 != 2 {
		return errors.New("cbor: cannot decode this value as a byte string")
	}
	head := 1
	switch info := data[0] & 0x1f; {
	case info < 24:
	case info == 24:
		head = 2
	case info == 25:
		head = 3
	case info == 26:
		head = 5
	case info == 27:
		head = 9
	default:
		return errors.New("cbor: byte string of indefinite length")
	}
	if len(data) < head {
		return errors.New("cbor: truncated byte string")
	}
	var n uint64
	switch head {
	case 1:
		n = uint64(data[0] & 0x1f)
	case 2:
		n = uint64(data[1])
	case 3:
		n = uint64(binary.BigEndian.Uint16(data[1:]))
	case 5:
		n = uint64(binary.BigEndian.Uint32(data[1:]))
	case 9:
		n = binary.BigEndian.Uint64(data[1:])
	}
	if n != uint64(len(data)-head) {
		return errors.New("cbor: byte string of the wrong length")
	}
	// The capacity ends with the content: appending to b never overwrites what follows.
	*b = Bytes(data[head:len(data):len(data)])
	return nil
}
