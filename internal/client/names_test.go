package client

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
)

func TestConflictName(t *testing.T) {
	const max = manifest.MaxEntryNameLength
	tag := " (sync conflict 1)" // 18 bytes
	tests := []struct {
		name     string
		entry    string   // the name of the entry copied
		taken    []string // names already in the folder
		want     string
		wantTail string // what the result must end with
	}{
		{name: "with an extension", entry: "report.txt", want: "report (sync conflict 1).txt"},
		{name: "without an extension", entry: "Makefile", want: "Makefile (sync conflict 1)"},
		{name: "several dots", entry: "archive.tar.gz", want: "archive.tar (sync conflict 1).gz"},
		{name: "starting with a dot", entry: ".bashrc", want: ".bashrc (sync conflict 1)"},
		{name: "starting with a dot, with an extension", entry: ".config.json", want: ".config (sync conflict 1).json"},
		{name: "ending with a dot", entry: "notes.", want: "notes (sync conflict 1)."},
		{name: "only dots", entry: "...", want: ".. (sync conflict 1)."},
		{
			name: "first number taken", entry: "report.txt",
			taken: []string{"report (sync conflict 1).txt", "report (sync conflict 3).txt"},
			want:  "report (sync conflict 2).txt",
		},
		{
			name: "long ASCII name", entry: strings.Repeat("a", max-4) + ".txt",
			want: strings.Repeat("a", max-len(tag)-4) + tag + ".txt",
		},
		{
			name: "long ASCII name without an extension", entry: strings.Repeat("a", max),
			want: strings.Repeat("a", max-len(tag)) + tag,
		},
		{
			// 233 bytes for the stem: 116 two-byte characters, not 116 and a half.
			name: "long name of 2-byte characters", entry: strings.Repeat("é", 125) + ".txt",
			want: strings.Repeat("é", 116) + tag + ".txt",
		},
		{
			name: "long name of 3-byte characters", entry: strings.Repeat("日本", 41) + ".txt",
			want: strings.Repeat("日本", 38) + "日" + tag + ".txt",
		},
		{
			name: "long name of 4-byte characters", entry: strings.Repeat("😀", 62) + ".txt",
			want: strings.Repeat("😀", 58) + tag + ".txt",
		},
		{
			name: "long name of marks that compose with nothing", entry: strings.Repeat("q\u0307", 83) + ".md",
			wantTail: tag + ".md",
		},
		{
			name: "long name, first number taken", entry: strings.Repeat("é", 125) + ".txt",
			taken: []string{strings.Repeat("é", 116) + tag + ".txt"},
			want:  strings.Repeat("é", 116) + " (sync conflict 2).txt",
		},
		{
			// Keeping the extension would leave no room for the stem: it is cut like the
			// rest of the name.
			name: "extension too long to keep", entry: "a." + strings.Repeat("x", max-2),
			want: "a." + strings.Repeat("x", max-len(tag)-2) + tag,
		},
		{
			name: "extension too long to keep, multi-byte", entry: "a." + strings.Repeat("é", (max-2)/2),
			want: "a." + strings.Repeat("é", (max-len(tag)-2)/2) + tag,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := manifest.ParseEntryName(tc.entry); err != nil {
				t.Fatalf("the test's entry name is invalid: %v", err)
			}
			children := map[string]parsec.VlobID{tc.entry: {1}}
			for _, n := range tc.taken {
				children[n] = parsec.VlobID{2}
			}
			got := conflictName(children, tc.entry, "sync conflict")
			if !utf8.ValidString(got) {
				t.Fatalf("conflictName = %q: not valid UTF-8", got)
			}
			if len(got) > max {
				t.Errorf("conflictName = %q: %d bytes, more than %d", got, len(got), max)
			}
			if parsed, err := manifest.ParseEntryName(got); err != nil || parsed != got {
				t.Errorf("conflictName = %q: ParseEntryName gives %q, %v", got, parsed, err)
			}
			if _, taken := children[got]; taken {
				t.Errorf("conflictName = %q: already taken", got)
			}
			if tc.want != "" && got != tc.want {
				t.Errorf("conflictName = %q, want %q", got, tc.want)
			}
			if !strings.HasSuffix(got, tc.wantTail) {
				t.Errorf("conflictName = %q, want it to end with %q", got, tc.wantTail)
			}
		})
	}
}
