package manifest_test

import (
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

func TestParseEntryName(t *testing.T) {
	for _, tc := range []struct {
		name, in, want, err string
	}{
		{name: "plain", in: "report.txt", want: "report.txt"},
		{name: "spaces kept", in: " a b ", want: " a b "},
		{name: "hidden file", in: ".bashrc", want: ".bashrc"},
		{name: "dots in name", in: "...", want: "..."},
		{name: "NFD normalized to NFC", in: "e\u0301t\u00e9", want: "\u00e9t\u00e9"},
		{name: "longest", in: strings.Repeat("x", 255), want: strings.Repeat("x", 255)},
		{name: "longest multibyte", in: strings.Repeat("é", 127), want: strings.Repeat("é", 127)},
		{name: "empty", in: "", err: "is empty"},
		{name: "too long", in: strings.Repeat("x", 256), err: "longer than 255 bytes"},
		{name: "NFD over the limit, NFC within", in: strings.Repeat("e\u0301", 100), want: strings.Repeat("é", 100)},
		{name: "too long in NFC", in: strings.Repeat("é", 128), err: "longer than 255 bytes"},
		{name: "dot", in: ".", err: "is reserved"},
		{name: "dot dot", in: "..", err: "is reserved"},
		{name: "slash", in: "a/b", err: "contains '/'"},
		{name: "NUL", in: "a\x00b", err: "contains a control character"},
		{name: "newline", in: "a\nb", err: "contains a control character"},
		{name: "escape", in: "a\x1b[31mb", err: "contains a control character"},
		{name: "C1", in: "a\u0085b", err: "contains a control character"},
		{name: "invalid UTF-8", in: "a\xffb", err: "not valid UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := manifest.ParseEntryName(tc.in)
			if tc.err != "" {
				wantErr(t, err, parsec.Invalid, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
