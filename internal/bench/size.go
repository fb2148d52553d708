package bench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is a number of bytes, written with an optional unit ("1GiB", "4KiB", "1000kB"). It
// is a command-line flag value (pflag.Value).
type Size int64

var sizeUnits = []struct {
	name string
	n    int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"b", 1}, {"", 1},
}

// Set reads a size: a whole number of bytes with an optional unit, in either case: KiB,
// MiB, GiB, TiB (powers of 1024), kB, MB, GB, TB (powers of 1000) or B.
func (s *Size) Set(v string) error {
	t := strings.TrimSpace(v)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	unit := strings.ToLower(strings.TrimSpace(t[i:]))
	if i > 0 {
		n, err := strconv.ParseInt(t[:i], 10, 64)
		for _, u := range sizeUnits {
			if err == nil && unit == u.name && n <= math.MaxInt64/u.n {
				*s = Size(n * u.n)
				return nil
			}
		}
	}
	return fmt.Errorf("invalid size %q: want a whole number of bytes, with an optional unit: KiB, MiB, GiB, TiB, kB, MB, GB, TB", v)
}

// String writes the size with the largest binary unit that divides it: "1GiB", "1000B".
func (s Size) String() string {
	for _, u := range []struct {
		name string
		n    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && int64(s)%u.n == 0 {
			return fmt.Sprintf("%d%s", int64(s)/u.n, u.name)
		}
	}
	return fmt.Sprintf("%dB", int64(s))
}

// Type names the flag's type in the help text.
func (s Size) Type() string { return "size" }

// human writes a size for a person: "1 GiB", "4 KiB", "1000 B".
func (s Size) human() string {
	str := s.String()
	i := strings.IndexFunc(str, func(r rune) bool { return r < '0' || r > '9' })
	return str[:i] + " " + str[i:]
}
