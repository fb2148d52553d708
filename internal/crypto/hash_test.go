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

func TestSumBLAKE3(t *testing.T) {
	// The official BLAKE3 test vectors (test_vectors.json: the input is bytes 0, 1, …, 250,
	// 0, 1, …, of the given length; the first 32 bytes of the output), a block of 512 KiB with
	// its encryption's overhead checked against another implementation (lukechampine.com/blake3),
	// and "abc".
	pattern := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i % 251)
		}
		return string(b)
	}
	tests := []struct {
		name, input, want string
	}{
		{"empty", "", "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"},
		{"abc", "abc", "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"},
		{"1024 bytes", pattern(1024), "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7"},
		{"102400 bytes", pattern(102400), "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085"},
		{"a sealed block", pattern(512<<10 + EncryptionOverhead), "ae25534dc8572200e6beb1cd967a0cde932a8a6f0720f0f4e0e201a532196256"},
	}
	for _, tc := range tests {
		if got := SumBLAKE3([]byte(tc.input)).String(); got != tc.want {
			t.Errorf("%s: SumBLAKE3 = %s, want %s", tc.name, got, tc.want)
		}
	}
}
