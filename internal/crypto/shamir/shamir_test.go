package shamir

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/parsec-go/parsec/internal/parsec"
)

// newRand is a seeded source: the tests are the same on every run.
func newRand(seed byte) *rand.ChaCha8 {
	return rand.NewChaCha8([32]byte{seed})
}

// newSeededRand is a source seeded with a fuzzed number.
func newSeededRand(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// subset returns k of shares, chosen by r.
func subset(r *rand.Rand, shares []Share, k int) []Share {
	out := make([]Share, k)
	for i, p := range r.Perm(len(shares))[:k] {
		out[i] = shares[p]
	}
	return out
}

// A split worked by hand: f(x) = {42} + {57}·x, so f(1) = {42}^{57}, f(2) = {42}^{ae} (FIPS-197
// §4.2.1: {57}·{02} = {ae}), f(3) = f(1)^f(2)^{42}.
func TestSplitByHand(t *testing.T) {
	shares, err := Split([]byte{0x42}, 3, 2, bytes.NewReader([]byte{0x57}))
	if err != nil {
		t.Fatal(err)
	}
	want := []Share{{X: 1, Y: []byte{0x15}}, {X: 2, Y: []byte{0xec}}, {X: 3, Y: []byte{0xbb}}}
	if diff := cmp.Diff(want, shares); diff != "" {
		t.Errorf("Split (-want +got):\n%s", diff)
	}
	for _, pair := range [][]Share{{want[0], want[1]}, {want[2], want[0]}, {want[1], want[2]}} {
		got, err := Combine(pair)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]byte{0x42}, got); diff != "" {
			t.Errorf("Combine(x=%d, x=%d) (-want +got):\n%s", pair[0].X, pair[1].X, diff)
		}
	}
}

// Any threshold-sized subset of shares recovers the secret, and so does a larger one.
func TestSplitCombine(t *testing.T) {
	tests := []struct{ n, threshold int }{
		{1, 1}, {2, 1}, {5, 1}, {255, 1},
		{2, 2}, {3, 2}, {255, 2},
		{5, 3}, {7, 4}, {10, 10}, {20, 7},
		{255, 128}, {255, 254}, {255, 255},
	}
	for i, tc := range tests {
		t.Run(fmt.Sprintf("%d-of-%d", tc.threshold, tc.n), func(t *testing.T) {
			r := rand.New(newRand(byte(i)))
			for _, size := range []int{1, 2, 32, 65} {
				secret := make([]byte, size)
				newRand(byte(size)).Read(secret)
				shares, err := Split(secret, tc.n, tc.threshold, newRand(byte(i+size)))
				if err != nil {
					t.Fatal(err)
				}
				if len(shares) != tc.n {
					t.Fatalf("Split made %d shares, want %d", len(shares), tc.n)
				}
				for j, s := range shares {
					if int(s.X) != j+1 || len(s.Y) != size {
						t.Fatalf("share %d: x = %d and %d bytes of y, want x = %d and %d bytes", j, s.X, len(s.Y), j+1, size)
					}
				}
				for _, k := range []int{tc.threshold, tc.threshold, tc.threshold, (tc.threshold + tc.n + 1) / 2, tc.n} {
					got, err := Combine(subset(r, shares, k))
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(secret, got); diff != "" {
						t.Fatalf("%d-byte secret from %d shares (-want +got):\n%s", size, k, diff)
					}
				}
			}
		})
	}
}

// With a threshold of 1 the polynomial is the constant secret: every share holds it.
func TestThresholdOne(t *testing.T) {
	secret := []byte("a secret")
	shares, err := Split(secret, 4, 1, iotest.ErrReader(errors.New("no randomness is needed")))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shares {
		if !bytes.Equal(s.Y, secret) {
			t.Errorf("share x = %d does not hold the secret", s.X)
		}
	}
}

// Fewer shares than the threshold give a wrong secret (without an error): for a 16-byte
// secret, the right one comes out with probability 2⁻¹²⁸.
func TestFewerThanThreshold(t *testing.T) {
	r := rand.New(newRand(1))
	secret := []byte("sixteen bytes!!!")
	for i, tc := range []struct{ n, threshold int }{{2, 2}, {3, 2}, {5, 3}, {10, 10}, {255, 128}, {255, 255}} {
		shares, err := Split(secret, tc.n, tc.threshold, newRand(byte(i)))
		if err != nil {
			t.Fatal(err)
		}
		for k := 1; k < tc.threshold; k += 1 + tc.threshold/8 {
			got, err := Combine(subset(r, shares, k))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(got, secret) {
				t.Errorf("%d-of-%d: %d shares recovered the secret", tc.threshold, tc.n, k)
			}
		}
	}
}

// Split uses crypto/rand when given no reader: two splits differ.
func TestSplitSystemRandom(t *testing.T) {
	secret := []byte("0123456789abcdef")
	a, err := Split(secret, 3, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Split(secret, 3, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(a[0].Y, b[0].Y) {
		t.Error("two splits with the system's random source made the same share")
	}
	got, err := Combine([]Share{a[2], a[0]})
	if err != nil || !bytes.Equal(got, secret) {
		t.Errorf("Combine = %q, %v; want the secret", got, err)
	}
}

func TestEncodeDecode(t *testing.T) {
	s := Share{X: 7, Y: []byte{1, 2, 3}}
	wire := s.Encode()
	if diff := cmp.Diff([]byte{7, 1, 2, 3}, wire); diff != "" {
		t.Errorf("Encode (-want +got):\n%s", diff)
	}
	got, err := DecodeShare(wire)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got); diff != "" {
		t.Errorf("DecodeShare(Encode) (-want +got):\n%s", diff)
	}
	wire[1] = 0xff
	if got.Y[0] != 1 {
		t.Error("DecodeShare kept its input")
	}

	shares, err := Split([]byte("round trip"), 255, 3, newRand(9))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range shares {
		got, err := DecodeShare(s.Encode())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s, got); diff != "" {
			t.Fatalf("share x = %d (-want +got):\n%s", s.X, diff)
		}
	}
}

func TestDecodeShareErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"nil", nil, "0 bytes"},
		{"x only", []byte{1}, "1 bytes"},
		{"x zero", []byte{0, 5, 6}, "x is 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeShare(tc.in)
			checkInvalid(t, err, tc.want)
		})
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name         string
		secret       []byte
		n, threshold int
		want         string
	}{
		{"empty secret", nil, 3, 2, "secret is empty"},
		{"no shares", []byte("s"), 0, 1, "0 shares"},
		{"negative shares", []byte("s"), -1, 1, "-1 shares"},
		{"too many shares", []byte("s"), 256, 2, "256 shares"},
		{"threshold zero", []byte("s"), 3, 0, "threshold 0"},
		{"threshold negative", []byte("s"), 3, -2, "threshold -2"},
		{"threshold above n", []byte("s"), 3, 4, "threshold 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			shares, err := Split(tc.secret, tc.n, tc.threshold, newRand(0))
			if shares != nil {
				t.Errorf("Split returned %d shares with an error", len(shares))
			}
			checkInvalid(t, err, tc.want)
		})
	}

	t.Run("random fails", func(t *testing.T) {
		cause := errors.New("entropy ran out")
		_, err := Split([]byte("s"), 3, 2, iotest.ErrReader(cause))
		if !errors.Is(err, cause) {
			t.Errorf("Split error = %v, want one wrapping %v", err, cause)
		}
	})
	t.Run("random short", func(t *testing.T) {
		_, err := Split([]byte("ss"), 3, 3, bytes.NewReader([]byte{1, 2, 3}))
		if err == nil {
			t.Error("Split with 3 random bytes for 4 coefficients succeeded")
		}
	})
}

func TestCombineErrors(t *testing.T) {
	tests := []struct {
		name   string
		shares []Share
		want   string
	}{
		{"none", nil, "no shares"},
		{"x zero", []Share{{X: 1, Y: []byte{1}}, {X: 0, Y: []byte{2}}}, "x = 0"},
		{"no y", []Share{{X: 1}}, "x = 1 has no y"},
		{"no y after others", []Share{{X: 1, Y: []byte{1}}, {X: 2}}, "x = 2 has no y"},
		{"unequal lengths", []Share{{X: 1, Y: []byte{1, 2}}, {X: 2, Y: []byte{2}}}, "x = 2 has 1 bytes"},
		{"duplicate x", []Share{{X: 3, Y: []byte{1}}, {X: 4, Y: []byte{2}}, {X: 3, Y: []byte{1}}}, "two shares have x = 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secret, err := Combine(tc.shares)
			if secret != nil {
				t.Errorf("Combine returned %x with an error", secret)
			}
			checkInvalid(t, err, tc.want)
		})
	}
}

func checkInvalid(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one saying %q", want)
	}
	if !parsec.IsKind(err, parsec.Invalid) {
		t.Errorf("error %q is of kind %v, want %v", err, parsec.KindOf(err), parsec.Invalid)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

func TestShareStringHidesY(t *testing.T) {
	s := Share{X: 12, Y: []byte("top secret")}
	for _, format := range []string{"%v", "%+v", "%s", "%#v"} {
		got := fmt.Sprintf(format, s)
		if got != "Share(x=12, redacted)" {
			t.Errorf("Sprintf(%q) = %q, want Share(x=12, redacted)", format, got)
		}
	}
}

// FuzzCombine decodes arbitrary bytes as shares and combines them: it must never panic, and
// a result has the shares' length.
func FuzzCombine(f *testing.F) {
	f.Add([]byte{2, 1, 0x15, 2, 0xec})
	f.Add([]byte{3, 1, 1, 2, 2, 1, 3})
	f.Add([]byte{1, 0, 5})
	f.Add([]byte{0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// data[0] is each share's length in the wire form; the rest is cut into shares.
		if len(data) == 0 {
			return
		}
		size := max(int(data[0]), 1)
		var shares []Share
		for rest := data[1:]; len(rest) > 0; {
			n := min(size, len(rest))
			s, err := DecodeShare(rest[:n])
			rest = rest[n:]
			if err != nil {
				if !parsec.IsKind(err, parsec.Invalid) {
					t.Fatalf("DecodeShare error %q is of kind %v", err, parsec.KindOf(err))
				}
				continue
			}
			shares = append(shares, s)
		}
		secret, err := Combine(shares)
		if err != nil {
			if !parsec.IsKind(err, parsec.Invalid) {
				t.Fatalf("Combine error %q is of kind %v", err, parsec.KindOf(err))
			}
			return
		}
		if len(secret) != len(shares[0].Y) {
			t.Fatalf("Combine made %d bytes from shares of %d", len(secret), len(shares[0].Y))
		}
	})
}

// FuzzSplitCombine splits arbitrary secrets with arbitrary parameters: a valid split's
// first and last threshold shares both recover the secret.
func FuzzSplitCombine(f *testing.F) {
	f.Add([]byte("secret"), uint8(5), uint8(3), uint64(1))
	f.Add([]byte{0}, uint8(255), uint8(255), uint64(2))
	f.Add([]byte{1, 2}, uint8(1), uint8(1), uint64(3))
	f.Fuzz(func(t *testing.T, secret []byte, n, threshold uint8, seed uint64) {
		if len(secret) > 256 {
			secret = secret[:256]
		}
		shares, err := Split(secret, int(n), int(threshold), newSeededRand(seed))
		if err != nil {
			if !parsec.IsKind(err, parsec.Invalid) {
				t.Fatalf("Split error %q is of kind %v", err, parsec.KindOf(err))
			}
			return
		}
		for _, some := range [][]Share{shares[:threshold], shares[len(shares)-int(threshold):]} {
			got, err := Combine(some)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, secret) {
				t.Fatalf("%d of %d shares gave %x, want %x", threshold, n, got, secret)
			}
		}
	})
}
