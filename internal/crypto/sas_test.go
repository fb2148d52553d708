package crypto

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSASFromUint(t *testing.T) {
	// Published answers, from Parsec's own tests (see the protocol reference, §16.2).
	tests := []struct {
		x    uint32
		want SASCode
	}{
		{0, "AAAA"},
		{123456, "AU2D"},
		{1<<20 - 1, "9999"},
	}
	for _, tc := range tests {
		t.Run(string(tc.want), func(t *testing.T) {
			if got := SASFromUint(tc.x); got != tc.want {
				t.Errorf("SASFromUint(%d) = %q, want %q", tc.x, got, tc.want)
			}
		})
	}
}

func TestParseSASCode(t *testing.T) {
	tests := []struct {
		in      string
		want    SASCode
		wantErr bool
	}{
		{in: "AU2D", want: "AU2D"},
		{in: " au2d\n", want: "AU2D"},
		{in: "9999", want: "9999"},
		{in: "", wantErr: true},
		{in: "AU2", wantErr: true},
		{in: "AU2DA", wantErr: true},
		{in: "AU 2D", wantErr: true},
		{in: "AU1D", wantErr: true}, // 1 is not in the alphabet
		{in: "AU0D", wantErr: true},
		{in: "AIOD", wantErr: true},
		{in: "ÄU2D", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSASCode(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseSASCode(%q) = %q, want an error", tc.in, got)
				}
				if !strings.Contains(err.Error(), tc.in) {
					t.Errorf("error %q does not quote the input", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseSASCode(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestSASChoices(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{1})
	correct := SASCode("AU2D")
	for _, n := range []int{1, 2, 3, 4, 10} {
		t.Run(fmt.Sprintf("%d choices", n), func(t *testing.T) {
			choices, err := SASChoices(correct, n, rng)
			if err != nil {
				t.Fatal(err)
			}
			if len(choices) != n {
				t.Fatalf("%d choices, want %d", len(choices), n)
			}
			seen := map[SASCode]int{}
			for _, c := range choices {
				seen[c]++
				if p, err := ParseSASCode(string(c)); err != nil || p != c {
					t.Errorf("invalid choice %q", c)
				}
			}
			if seen[correct] != 1 {
				t.Errorf("correct code present %d times, want once: %q", seen[correct], choices)
			}
			if len(seen) != n {
				t.Errorf("choices not distinct: %q", choices)
			}
		})
	}
	t.Run("system random source", func(t *testing.T) {
		choices, err := SASChoices(correct, 4, nil)
		if err != nil || len(choices) != 4 {
			t.Fatalf("SASChoices = %q, %v", choices, err)
		}
	})
}

// TestSASChoicesPosition checks that the correct code lands in each position about equally
// often: with 4 choices and 4000 draws, each position should get 1000 ± a few dozen.
func TestSASChoicesPosition(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{2})
	const n, draws = 4, 4000
	var counts [n]int
	for range draws {
		choices, err := SASChoices("QR2Q", n, rng)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range choices {
			if c == "QR2Q" {
				counts[i]++
			}
		}
	}
	for i, c := range counts {
		// The standard deviation is sqrt(4000 * 1/4 * 3/4) ≈ 27; allow 6 of them.
		if c < draws/n-160 || c > draws/n+160 {
			t.Errorf("correct code at position %d in %d of %d draws: %v", i, c, draws, counts)
		}
	}
}

func TestSASChoicesErrors(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{3})
	tests := []struct {
		name    string
		correct SASCode
		n       int
		rng     io.Reader
	}{
		{"zero choices", "AU2D", 0, rng},
		{"negative", "AU2D", -1, rng},
		{"too many", "AU2D", 1 << 20, rng},
		{"invalid correct code", "AU1D", 4, rng},
		{"lowercase correct code", "au2d", 4, rng},
		{"failing random source", "AU2D", 4, iotest.ErrReader(iotest.ErrTimeout)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := SASChoices(tc.correct, tc.n, tc.rng); err == nil {
				t.Fatalf("SASChoices = %q, want an error", got)
			}
		})
	}
}

func TestUniformUint32(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{4})
	for _, bound := range []uint32{1, 2, 3, 7, 1 << 20, 1<<32 - 1} {
		for range 100 {
			v, err := uniformUint32(rng, bound)
			if err != nil {
				t.Fatal(err)
			}
			if v >= bound {
				t.Fatalf("uniformUint32(%d) = %d", bound, v)
			}
		}
	}
}
