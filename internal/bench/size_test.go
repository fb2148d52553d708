package bench

import (
	"strings"
	"testing"
)

func TestSizeSet(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
	}{
		{"0", 0},
		{"1000", 1000},
		{"12B", 12},
		{"4KiB", 4 << 10},
		{"64MiB", 64 << 20},
		{"1GiB", 1 << 30},
		{"2TiB", 2 << 40},
		{"1000kB", 1e6},
		{"3MB", 3e6},
		{"1GB", 1e9},
		{"1TB", 1e12},
		{" 12 mib ", 12 << 20},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var s Size
			if err := s.Set(tc.in); err != nil {
				t.Fatalf("Set(%q): %v", tc.in, err)
			}
			if s != tc.want {
				t.Errorf("Set(%q) = %d, want %d", tc.in, s, tc.want)
			}
		})
	}
}

func TestSizeSetInvalid(t *testing.T) {
	for _, in := range []string{"", "lots", "3XB", "-1", "1.5GiB", "GiB", "9223372036854775808", "8388608TiB"} {
		t.Run(in, func(t *testing.T) {
			s := Size(7)
			err := s.Set(in)
			if err == nil {
				t.Fatalf("Set(%q) = nil error, value %d", in, s)
			}
			if want := "invalid size " + `"` + in + `"`; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Set(%q) error %q, want it to start with %q", in, err, want)
			}
			if s != 7 {
				t.Errorf("Set(%q) changed the size to %d", in, s)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	for _, tc := range []struct {
		in          Size
		str, person string
	}{
		{0, "0B", "0 B"},
		{1000, "1000B", "1000 B"},
		{1536, "1536B", "1536 B"},
		{4 << 10, "4KiB", "4 KiB"},
		{1e6, "1000000B", "1000000 B"},
		{3 << 20, "3MiB", "3 MiB"},
		{1 << 30, "1GiB", "1 GiB"},
		{1 << 40, "1TiB", "1 TiB"},
	} {
		t.Run(tc.str, func(t *testing.T) {
			if got := tc.in.String(); got != tc.str {
				t.Errorf("Size(%d).String() = %q, want %q", int64(tc.in), got, tc.str)
			}
			if got := tc.in.human(); got != tc.person {
				t.Errorf("Size(%d).human() = %q, want %q", int64(tc.in), got, tc.person)
			}
			var back Size
			if err := back.Set(tc.str); err != nil || back != tc.in {
				t.Errorf("Set(%q) = %d, %v; want %d", tc.str, back, err, tc.in)
			}
		})
	}
}
