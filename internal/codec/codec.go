package codec

import (
	"bytes"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
	lenient cbor.DecMode
	partial cbor.DecMode
)

func init() {
	enc := cbor.CoreDetEncOptions()
	enc.ByteArray = cbor.ByteArrayToByteSlice
	enc.NilContainers = cbor.NilContainerAsNull
	var err error
	if encMode, err = enc.EncMode(); err != nil {
		panic(err)
	}
	dec := strict(1<<20, 1<<20)
	if decMode, err = dec.DecMode(); err != nil {
		panic(err)
	}
	dec.ExtraReturnErrors = cbor.ExtraDecErrorNone
	if lenient, err = dec.DecMode(); err != nil {
		panic(err)
	}
	dec.DupMapKey = cbor.DupMapKeyQuiet
	if partial, err = dec.DecMode(); err != nil {
		panic(err)
	}
}

// strict returns the options of Unmarshal with limits on the elements of any one array and
// the pairs of any one map.
func strict(maxArrayElements, maxMapPairs int) cbor.DecOptions {
	return cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   16,
		MaxArrayElements:  maxArrayElements,
		MaxMapPairs:       maxMapPairs,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
	}
}

// Decoder decodes like Unmarshal, within tighter limits on the elements of any one array
// and the pairs of any one map: a value that announces more is refused at its header,
// before anything is allocated for it. Unmarshal allows 2^20 of each, which costs up to
// 56 times the input's size when one-byte elements decode into structs; a Decoder is for
// input whose legitimate shapes are known to be smaller, such as the requests a server
// receives.
type Decoder struct{ mode cbor.DecMode }

// NewDecoder returns a Decoder with these limits. It panics on a limit the CBOR library
// refuses (below 16), a programming error.
func NewDecoder(maxArrayElements, maxMapPairs int) Decoder {
	mode, err := strict(maxArrayElements, maxMapPairs).DecMode()
	if err != nil {
		panic(fmt.Sprintf("codec: decoder limits: %v", err))
	}
	return Decoder{mode: mode}
}

// Unmarshal decodes data into v strictly (see the package's Unmarshal), within d's limits.
func (d Decoder) Unmarshal(data []byte, v any) error { return d.mode.Unmarshal(data, v) }

// Marshal encodes v deterministically: the same value always gives the same bytes.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// MarshalSized is Marshal into a buffer of sizeHint bytes to start with: for values of
// megabytes whose size the caller knows, it spares the copies of a growing buffer.
func MarshalSized(v any, sizeHint int) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, sizeHint))
	if err := encMode.(cbor.UserBufferEncMode).MarshalToBuffer(v, buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MarshalTo is Marshal appending to buf, so that a caller can reuse one buffer for values
// of megabytes.
func MarshalTo(buf *bytes.Buffer, v any) error {
	return encMode.(cbor.UserBufferEncMode).MarshalToBuffer(v, buf)
}

// MustMarshal is Marshal for values whose encoding cannot fail (plain structs of plain
// fields); it panics otherwise, which is a programming error.
func MustMarshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("codec: cannot encode %T: %v", v, err))
	}
	return b
}

// Unmarshal decodes data into v strictly: unknown fields, duplicate keys, trailing bytes,
// tags and indefinite lengths are errors.
func Unmarshal(data []byte, v any) error { return decMode.Unmarshal(data, v) }

// UnmarshalLenient decodes like Unmarshal but ignores unknown fields. It is for envelopes
// read in two passes (first the discriminant, then the full value).
func UnmarshalLenient(data []byte, v any) error { return lenient.Unmarshal(data, v) }

// UnmarshalPartial decodes the fields v names and skips the others without looking for
// duplicate keys among them, which spares their bookkeeping. It is for a few fields of
// values this program encoded itself, never for bytes received.
func UnmarshalPartial(data []byte, v any) error { return partial.Unmarshal(data, v) }

// UnmarshalCanonical decodes strictly and also requires data to be exactly the
// deterministic encoding of the decoded value, so that one value has one encoding and
// a signature over the bytes is a signature over the value.
func UnmarshalCanonical(data []byte, v any) error {
	if err := decMode.Unmarshal(data, v); err != nil {
		return err
	}
	again, err := encMode.Marshal(v)
	if err != nil {
		return err
	}
	if !bytes.Equal(again, data) {
		return fmt.Errorf("cbor: not in canonical form")
	}
	return nil
}

// RawMessage is an encoded CBOR value kept as is.
type RawMessage = cbor.RawMessage
