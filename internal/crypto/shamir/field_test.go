package shamir

import (
	"fmt"
	"testing"
)

// Published answers from FIPS-197 §4.2 and §4.2.1 (multiplication, the xtime sequence).
func TestMulFIPS197(t *testing.T) {
	tests := []struct{ a, b, want byte }{
		{0x57, 0x83, 0xc1}, // §4.2
		{0x57, 0x13, 0xfe}, // §4.2.1
		{0x57, 0x02, 0xae}, // §4.2.1, xtime sequence
		{0x57, 0x04, 0x47},
		{0x57, 0x08, 0x8e},
		{0x57, 0x10, 0x07},
		{0x57, 0x01, 0x57},
		{0x57, 0x00, 0x00},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%02x·%02x", tc.a, tc.b), func(t *testing.T) {
			if got := mul(tc.a, tc.b); got != tc.want {
				t.Errorf("mul(%#02x, %#02x) = %#02x, want %#02x", tc.a, tc.b, got, tc.want)
			}
			if got := mul(tc.b, tc.a); got != tc.want {
				t.Errorf("mul(%#02x, %#02x) = %#02x, want %#02x", tc.b, tc.a, got, tc.want)
			}
		})
	}
}

func TestInvFIPS197(t *testing.T) {
	tests := []struct{ a, want byte }{
		{0x53, 0xca}, // the usual worked example of Rijndael's field
		{0xca, 0x53},
		{0x01, 0x01},
		{0x00, 0x00}, // by convention, as in the S-box
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%02x", tc.a), func(t *testing.T) {
			if got := inv(tc.a); got != tc.want {
				t.Errorf("inv(%#02x) = %#02x, want %#02x", tc.a, got, tc.want)
			}
		})
	}
}

// The AES S-box is the affine map of FIPS-197 §5.1.1 applied to the inverse; its published
// values (§5.1.1's example S({53}) = {ed}, and Figure 7's first row) check inv against FIPS-197.
func TestInvSBox(t *testing.T) {
	sbox := func(a byte) byte {
		b := inv(a)
		rotl := func(x byte, n int) byte { return x<<n | x>>(8-n) }
		return b ^ rotl(b, 1) ^ rotl(b, 2) ^ rotl(b, 3) ^ rotl(b, 4) ^ 0x63
	}
	tests := map[byte]byte{
		0x53: 0xed,
		0x00: 0x63, 0x01: 0x7c, 0x02: 0x77, 0x03: 0x7b, 0x04: 0xf2, 0x05: 0x6b, 0x06: 0x6f, 0x07: 0xc5,
		0x08: 0x30, 0x09: 0x01, 0x0a: 0x67, 0x0b: 0x2b, 0x0c: 0xfe, 0x0d: 0xd7, 0x0e: 0xab, 0x0f: 0x76,
	}
	for a, want := range tests {
		if got := sbox(a); got != want {
			t.Errorf("S(%#02x) = %#02x, want %#02x", a, got, want)
		}
	}
}

// slowMul is the textbook product: carry-less multiplication into 16 bits, then reduction
// by 0x11b. It checks mul's branch-free form on every pair.
func slowMul(a, b byte) byte {
	var p uint16
	for i := range 8 {
		if b&(1<<i) != 0 {
			p ^= uint16(a) << i
		}
	}
	for i := 15; i >= 8; i-- {
		if p&(1<<i) != 0 {
			p ^= 0x11b << (i - 8)
		}
	}
	return byte(p)
}

func TestMulAllPairs(t *testing.T) {
	for a := range 256 {
		for b := range 256 {
			if got, want := mul(byte(a), byte(b)), slowMul(byte(a), byte(b)); got != want {
				t.Fatalf("mul(%#02x, %#02x) = %#02x, want %#02x", a, b, got, want)
			}
		}
	}
}

func TestInvAll(t *testing.T) {
	for a := 1; a < 256; a++ {
		if got := mul(byte(a), inv(byte(a))); got != 1 {
			t.Errorf("%#02x · inv(%#02x) = %#02x, want 1", a, a, got)
		}
	}
}

// The field laws over a sample of triples (every a and b, c drawn from a fixed set).
func TestFieldLaws(t *testing.T) {
	cs := []byte{0x00, 0x01, 0x02, 0x03, 0x53, 0x57, 0x80, 0x83, 0xca, 0xff}
	for a := range 256 {
		for b := range 256 {
			a, b := byte(a), byte(b)
			if mul(a, b) != mul(b, a) {
				t.Fatalf("mul is not commutative at %#02x, %#02x", a, b)
			}
			for _, c := range cs {
				if mul(mul(a, b), c) != mul(a, mul(b, c)) {
					t.Fatalf("mul is not associative at %#02x, %#02x, %#02x", a, b, c)
				}
				if mul(a, b^c) != mul(a, b)^mul(a, c) {
					t.Fatalf("mul does not distribute over ^ at %#02x, %#02x, %#02x", a, b, c)
				}
			}
		}
	}
}
