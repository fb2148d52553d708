package codec

import (
	"bytes"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
)

type sample struct {
	Type    string           `cbor:"type"`
	Author  *parsec.DeviceID `cbor:"author"`
	User    parsec.UserID    `cbor:"user_id"`
	At      parsec.DateTime  `cbor:"timestamp"`
	Payload []byte           `cbor:"payload"`
}

func TestRoundTripAndStrictness(t *testing.T) {
	id := parsec.NewUserID()
	in := sample{Type: "x", User: id, At: 42, Payload: []byte{1, 2}}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out sample
	if err := UnmarshalCanonical(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.User != id || out.Author != nil || out.At != 42 || string(out.Payload) != "\x01\x02" {
		t.Fatalf("round trip: got %+v", out)
	}
	// A 16-byte ID must travel as a byte string (major type 2, length 16), not an array.
	if !containsBytes(b, append([]byte{0x50}, id[:]...)) {
		t.Fatalf("user ID not encoded as a byte string: %x", b)
	}
	// Unknown fields are refused.
	extra, _ := Marshal(map[string]any{"type": "x", "user_id": id[:], "timestamp": 1, "payload": nil, "author": nil, "evil": 1})
	if err := Unmarshal(extra, &out); err == nil {
		t.Fatal("unknown field accepted")
	}
	// Trailing bytes are refused.
	if err := Unmarshal(append(b, 0), &out); err == nil {
		t.Fatal("trailing byte accepted")
	}
	// A wrong-length ID is refused.
	short, _ := Marshal(map[string]any{"type": "x", "user_id": []byte{1, 2, 3}, "timestamp": 1, "payload": nil, "author": nil})
	if err := Unmarshal(short, &out); err == nil {
		t.Fatal("3-byte user ID accepted")
	}
	// A non-canonical encoding of the same value is refused by UnmarshalCanonical.
	nonCanon := append([]byte{}, b...)
	nonCanon = append([]byte{0xb8, 5}, nonCanon[1:]...) // the map of 5 fields, its length in 2 bytes
	if err := UnmarshalCanonical(nonCanon, &out); err == nil {
		t.Fatal("non-canonical encoding accepted")
	}
}

func containsBytes(hay, needle []byte) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		if string(hay[i:i+len(needle)]) == string(needle) {
			return true
		}
	}
	return false
}

func TestMarshalSized(t *testing.T) {
	v := map[string]any{"b": bytes.Repeat([]byte("x"), 1000), "a": 1}
	want, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, hint := range []int{0, 10, len(want), 4096} {
		got, err := MarshalSized(v, hint)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("MarshalSized(hint %d) = %x, %v; want the bytes of Marshal", hint, got, err)
		}
	}
}

// A Decoder refuses an array or a map longer than its limits at its header, and decodes as
// strictly as Unmarshal otherwise.
func TestDecoderLimits(t *testing.T) {
	d := NewDecoder(20, 30)
	list := func(n int) []byte { return MustMarshal(make([]int, n)) }
	pairs := func(n int) []byte {
		m := make(map[int]int, n)
		for i := range n {
			m[i] = i
		}
		return MustMarshal(m)
	}
	for _, tc := range []struct {
		name string
		data []byte
		v    any
		ok   bool
	}{
		{"array at the limit", list(20), new([]int), true},
		{"array over the limit", list(21), new([]int), false},
		{"map at the limit", pairs(30), new(map[int]int), true},
		{"map over the limit", pairs(31), new(map[int]int), false},
		{"unknown field", MustMarshal(map[string]int{"type": 1}), new(struct{}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := d.Unmarshal(tc.data, tc.v); (err == nil) != tc.ok {
				t.Errorf("Unmarshal = %v, want success %v", err, tc.ok)
			}
		})
	}
	// Unmarshal's own limits are larger.
	if err := Unmarshal(list(21), new([]int)); err != nil {
		t.Errorf("Unmarshal of 21 elements: %v", err)
	}
}
