package codec

import (
	"encoding/binary"
	"errors"
)

// errMalformed is what TextField says of bytes it cannot walk through; the full decoder
// says more.
var errMalformed = errors.New("cbor: malformed")

// TextField returns the text value of key in data, a CBOR map, and whether the map has it,
// without decoding the other values: it only steps over them. It is for the discriminant
// of a value decoded in full afterwards (which checks everything else), where decoding
// twice would cost twice. It does not look for duplicate keys: the first wins.
func TextField(data []byte, key string) (string, bool, error) {
	n, rest, err := head(data, 5)
	if err != nil {
		return "", false, err
	}
	for range n {
		var k []byte
		if k, rest, err = text(rest); err != nil {
			return "", false, err
		}
		if string(k) == key {
			v, _, err := text(rest)
			return string(v), err == nil, err
		}
		if rest, err = skip(rest, maxNested); err != nil {
			return "", false, err
		}
	}
	return "", false, nil
}

// maxNested is the decoders' MaxNestedLevels.
const maxNested = 16

// head reads the header of an item of major type major: its argument, and what follows.
func head(b []byte, major byte) (uint64, []byte, error) {
	if len(b) == 0 || b[0]>>5 != major {
		return 0, nil, errMalformed
	}
	return argument(b)
}

// argument reads the argument of the item at the start of b (a length, a count or a
// value), refusing indefinite lengths.
func argument(b []byte) (uint64, []byte, error) {
	info := b[0] & 0x1f
	b = b[1:]
	switch {
	case info < 24:
		return uint64(info), b, nil
	case info > 27:
		return 0, nil, errMalformed // reserved, or indefinite length
	}
	size := 1 << (info - 24)
	if len(b) < size {
		return 0, nil, errMalformed
	}
	var v uint64
	switch size {
	case 1:
		v = uint64(b[0])
	case 2:
		v = uint64(binary.BigEndian.Uint16(b))
	case 4:
		v = uint64(binary.BigEndian.Uint32(b))
	default:
		v = binary.BigEndian.Uint64(b)
	}
	return v, b[size:], nil
}

// text reads a text string.
func text(b []byte) ([]byte, []byte, error) {
	n, rest, err := head(b, 3)
	if err != nil || uint64(len(rest)) < n {
		return nil, nil, errMalformed
	}
	return rest[:n], rest[n:], nil
}

// skip steps over one item, nested at most depth levels.
func skip(b []byte, depth int) ([]byte, error) {
	if len(b) == 0 || depth == 0 {
		return nil, errMalformed
	}
	major := b[0] >> 5
	n, rest, err := argument(b)
	if err != nil {
		return nil, err
	}
	switch major {
	case 0, 1, 7: // integers, and simple values and floats (their bytes are the argument)
		return rest, nil
	case 2, 3:
		if uint64(len(rest)) < n {
			return nil, errMalformed
		}
		return rest[n:], nil
	case 4, 5:
		if major == 5 {
			if n > uint64(len(rest)) {
				return nil, errMalformed
			}
			n *= 2
		}
		// Each item takes a byte at least: a count beyond what is left is a lie, found
		// before walking it.
		if n > uint64(len(rest)) {
			return nil, errMalformed
		}
		for range n {
			if rest, err = skip(rest, depth-1); err != nil {
				return nil, err
			}
		}
		return rest, nil
	}
	return nil, errMalformed // tags are not used
}
