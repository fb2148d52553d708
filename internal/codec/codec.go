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
	dec := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   16,
		MaxArrayElements:  1 << 20,
		MaxMapPairs:       1 << 20,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
	}
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
