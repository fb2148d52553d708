package protocol

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/codec"
)

func TestBytesDecodesLikeByteSlices(t *testing.T) {
	type asBytes struct {
		D Bytes `cbor:"d"`
	}
	type asSlice struct {
		D []byte `cbor:"d"`
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"short", []byte{1, 2, 3}},
		{"one-byte length", bytes.Repeat([]byte{7}, 200)},
		{"two-byte length", bytes.Repeat([]byte{8}, 1000)},
		{"four-byte length", bytes.Repeat([]byte{9}, 70000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := codec.Marshal(asBytes{tc.data})
			if err != nil {
				t.Fatal(err)
			}
			if want := codec.MustMarshal(asSlice{tc.data}); !bytes.Equal(enc, want) {
				t.Fatalf("Bytes encodes as %x, []byte as %x", enc, want)
			}
			var got asBytes
			if err := codec.Unmarshal(enc, &got); err != nil {
				t.Fatal(err)
			}
			var want asSlice
			if err := codec.Unmarshal(enc, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want.D, []byte(got.D)); diff != "" {
				t.Errorf("decoded (-[]byte +Bytes):\n%s", diff)
			}
			if len(got.D) > 0 {
				// No copy: the bytes are those of the encoding, and appending does not spill.
				got.D[0]++
				if !bytes.Contains(enc, got.D[:1]) || cap(got.D) != len(got.D) {
					t.Error("the decoded bytes do not share the encoding's memory")
				}
			}
		})
	}
}

func TestBytesRefusesOtherValues(t *testing.T) {
	type asBytes struct {
		D Bytes `cbor:"d"`
	}
	for _, tc := range []struct {
		name string
		v    any
	}{
		{"text", map[string]any{"d": "text"}},
		{"integer", map[string]any{"d": 3}},
		{"array", map[string]any{"d": []int{1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got asBytes
			if err := codec.Unmarshal(codec.MustMarshal(tc.v), &got); err == nil {
				t.Errorf("decoded %v as a byte string: %x", tc.v, got.D)
			}
		})
	}
	// An indefinite-length byte string, refused by the decoder before Bytes sees it.
	var got asBytes
	if err := codec.Unmarshal([]byte{0xa1, 0x61, 'd', 0x5f, 0x41, 1, 0xff}, &got); err == nil {
		t.Error("decoded an indefinite-length byte string")
	}
}
