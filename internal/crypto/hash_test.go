package crypto

import "testing"

func TestDigest(t *testing.T) {
	tests := []struct {
		name, input, want string
	}{
		// FIPS 180-2, appendix B.1, and the digest of the empty string.
		{"abc", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"empty", "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Sum([]byte(tc.input))
			if got := d.String(); got != tc.want {
				t.Fatalf("Sum = %s, want %s", got, tc.want)
			}
			p, err := ParseDigest(d[:])
			if err != nil || p != d {
				t.Fatalf("ParseDigest = %v, %v", p, err)
			}
		})
	}
	if _, err := ParseDigest(make([]byte, 31)); err == nil {
		t.Error("ParseDigest accepted 31 bytes")
	}
	if !(Digest{}).IsZero() || Sum(nil).IsZero() {
		t.Error("IsZero is wrong")
	}
}
