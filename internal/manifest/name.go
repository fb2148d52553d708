package manifest

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/parsec-go/parsec/internal/parsec"
)

// MaxEntryNameLength is the longest entry name, in bytes (after NFC normalization).
const MaxEntryNameLength = 255

// ParseEntryName checks the name of a file or folder typed by a person and returns it
// NFC-normalized: valid UTF-8, 1 to MaxEntryNameLength bytes, no '/' and no control
// character (NUL, newline, escape, …), neither "." nor "..". Spaces are kept: they are part
// of the name.
func ParseEntryName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", parsec.Errorf(parsec.Invalid, "invalid name %s: not valid UTF-8", quote(s))
	}
	n := norm.NFC.String(s)
	if problem := entryNameProblem(n); problem != "" {
		return "", parsec.Errorf(parsec.Invalid, "invalid name %s: %s", quote(s), problem)
	}
	return n, nil
}

// entryNameProblem says what is wrong with a name read from a manifest, or "" if nothing
// is. The name must be already normalized, so that two names of one folder never
// normalize to the same one.
func entryNameProblem(s string) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) > MaxEntryNameLength:
		return "is longer than " + strconv.Itoa(MaxEntryNameLength) + " bytes"
	case s == "." || s == "..":
		return "is reserved"
	case strings.ContainsRune(s, '/'):
		return "contains '/'"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "contains a control character"
	case !norm.NFC.IsNormalString(s):
		return "is not in Unicode normal form C"
	}
	return ""
}

// quote quotes a value for a message, cutting long ones (they come from the wire).
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}
