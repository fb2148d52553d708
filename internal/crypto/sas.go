package crypto

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// SASAlphabet is the alphabet of short authentication strings: 32 characters, without the
// easily confused I, O, 0 and 1.
const SASAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// sasSpace is the number of distinct SAS codes: 4 characters of 5 bits.
const sasSpace = 1 << 20

// maxSASChoices bounds SASChoices: a human picks among a handful of codes, and drawing
// distinct decoys by rejection stays fast far below the size of the code space.
const maxSASChoices = 1024

// SASCode is a short authentication string: 4 characters of SASAlphabet that the two people
// of an invitation read to each other to check that no one sits between their devices.
type SASCode string

// SASFromUint encodes the low 20 bits of x as a code, least significant 5 bits first.
func SASFromUint(x uint32) SASCode {
	var b [4]byte
	for i := range b {
		b[i] = SASAlphabet[x&31]
		x >>= 5
	}
	return SASCode(b[:])
}

// ParseSASCode reads a code typed by a person: surrounding space is ignored and lowercase
// accepted.
func ParseSASCode(s string) (SASCode, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if len(c) != 4 {
		return "", fmt.Errorf("invalid SAS code %q: want 4 characters", s)
	}
	for i := 0; i < len(c); i++ {
		if strings.IndexByte(SASAlphabet, c[i]) < 0 {
			return "", fmt.Errorf("invalid SAS code %q: want characters from %s", s, SASAlphabet)
		}
	}
	return SASCode(c), nil
}

// SASChoices returns n codes to choose from: the correct one and n−1 distinct decoys drawn
// uniformly from the whole code space, in a uniformly random order. A nil rng means the
// system's random source; tests pass a deterministic one.
func SASChoices(correct SASCode, n int, rng io.Reader) ([]SASCode, error) {
	if c, err := ParseSASCode(string(correct)); err != nil || c != correct {
		return nil, fmt.Errorf("SAS choices: invalid correct code %q", correct)
	}
	if n < 1 || n > maxSASChoices {
		return nil, fmt.Errorf("SAS choices: %d choices, want 1 to %d", n, maxSASChoices)
	}
	if rng == nil {
		rng = rand.Reader
	}
	choices := make([]SASCode, 0, n)
	choices = append(choices, correct)
	seen := map[SASCode]bool{correct: true}
	for len(choices) < n {
		x, err := uniformUint32(rng, sasSpace)
		if err != nil {
			return nil, fmt.Errorf("SAS choices: %w", err)
		}
		if c := SASFromUint(x); !seen[c] {
			seen[c] = true
			choices = append(choices, c)
		}
	}
	// Fisher-Yates.
	for i := len(choices) - 1; i > 0; i-- {
		j, err := uniformUint32(rng, uint32(i+1))
		if err != nil {
			return nil, fmt.Errorf("SAS choices: %w", err)
		}
		choices[i], choices[j] = choices[j], choices[i]
	}
	return choices, nil
}

// uniformUint32 returns an integer uniformly distributed in [0, bound), reading 4 bytes at a
// time from rng and rejecting the values that would bias the result.
func uniformUint32(rng io.Reader, bound uint32) (uint32, error) {
	if bound == 0 {
		panic("crypto: uniformUint32 with bound 0")
	}
	// Reject the 2^32 mod bound lowest values: the count of those left is a multiple of
	// bound, and any run of consecutive integers that long hits each residue equally often.
	threshold := -bound % bound // (2^32 − bound) mod bound = 2^32 mod bound
	var b [4]byte
	for {
		if _, err := io.ReadFull(rng, b[:]); err != nil {
			return 0, fmt.Errorf("random source: %w", err)
		}
		if v := binary.BigEndian.Uint32(b[:]); v >= threshold {
			return v % bound, nil
		}
	}
}
