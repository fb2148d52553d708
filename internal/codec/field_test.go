package codec

import (
	"math"
	"testing"
)

// nested holds a value of every kind the walk steps over before and after the key.
type nested struct {
	Blocks  []map[string]any `cbor:"blocks"`
	Float   float64          `cbor:"f"`
	Neg     int64            `cbor:"neg"`
	Big     uint64           `cbor:"big"`
	Null    *int             `cbor:"null"`
	Yes     bool             `cbor:"yes"`
	Bytes   []byte           `cbor:"bytes"`
	Type    string           `cbor:"type"`
	Later   map[string]int   `cbor:"zz_later"`
	Empty   []int            `cbor:"empty"`
	LongKey string           `cbor:"a_key_longer_than_twenty_three_bytes"`
}

func TestTextField(t *testing.T) {
	v := nested{
		Blocks: []map[string]any{{"id": []byte{1, 2}, "size": 70000}, {"deep": []any{[]any{"x", -1, 2.5}}}},
		Float:  math.Pi, Neg: -1 << 40, Big: math.MaxUint64, Yes: true, Bytes: make([]byte, 300),
		Type: "file", Later: map[string]int{"a": 1}, LongKey: "k",
	}
	b := MustMarshal(v)
	for _, key := range []string{"type", "a_key_longer_than_twenty_three_bytes"} {
		var want string
		if key == "type" {
			want = v.Type
		} else {
			want = v.LongKey
		}
		got, found, err := TextField(b, key)
		if err != nil || !found || got != want {
			t.Errorf("TextField(%q) = %q, %v, %v; want %q", key, got, found, err, want)
		}
	}
	if _, found, err := TextField(b, "missing"); found || err != nil {
		t.Errorf("TextField of a missing key: found %v, %v", found, err)
	}
	// Looking for a key walks the map up to it (the full decoder checks the rest).
	if _, _, err := TextField(b[:len(b)-3], "missing"); err == nil {
		t.Error("TextField walked through a map cut short, no error")
	}
	bad := map[string][]byte{
		"empty":              nil,
		"not a map":          MustMarshal([]string{"type", "file"}),
		"count beyond bytes": {0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"array count lie":    {0xa1, 0x61, 'a', 0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"indefinite length":  {0xa1, 0x61, 'a', 0x9f, 0xff, 0x64, 't', 'y', 'p', 'e', 0x61, 'x'},
		"tag":                {0xa2, 0x61, 'a', 0xc1, 0x00, 0x64, 't', 'y', 'p', 'e', 0x61, 'x'},
		"key not text":       {0xa1, 0x01, 0x01},
		"type not text":      {0xa1, 0x64, 't', 'y', 'p', 'e', 0x01},
		"too deep":           append([]byte{0xa2, 0x61, 'a'}, append(repeat(0x81, 20), 0x00, 0x64, 't', 'y', 'p', 'e', 0x61, 'x')...),
	}
	for name, data := range bad {
		if got, found, err := TextField(data, "type"); err == nil {
			t.Errorf("%s: TextField = %q, %v, no error", name, got, found)
		}
	}
}

func repeat(b byte, n int) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// FuzzTextField: on any bytes, TextField returns (never panics), and when the lenient
// decoder reads a "type" too, both agree.
func FuzzTextField(f *testing.F) {
	f.Add(MustMarshal(nested{Type: "folder", Blocks: []map[string]any{{"a": 1}}}))
	f.Add(MustMarshal(map[string]any{"type": "file", "children": map[string][]byte{"x": {1}}}))
	f.Add([]byte{0xa1, 0x64, 't', 'y', 'p', 'e', 0x61, 'x'})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, found, err := TextField(data, "type")
		var head struct {
			Type string `cbor:"type"`
		}
		if UnmarshalLenient(data, &head) == nil && err == nil && found && got != head.Type {
			t.Fatalf("TextField says %q, the decoder %q", got, head.Type)
		}
	})
}
