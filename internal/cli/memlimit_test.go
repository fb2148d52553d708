package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Client commands run under the client's memory limit; the server's commands and the load
// test, which holds hundreds of simulated devices, do not.
func TestGovernedCommands(t *testing.T) {
	a := &app{ctx: context.Background(), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
	root := a.root()
	for _, tc := range []struct {
		path string
		want bool
	}{
		{"ls", true},
		{"cp", true},
		{"gui", true},
		{"bench", true},
		{"workspace mount", true},
		{"bench load", false},
		{"server", false},
		{"server run", false},
		{"server migrate", false},
	} {
		cmd, _, err := root.Find(strings.Fields(tc.path))
		if err != nil || cmd.CommandPath() != "parsec "+tc.path {
			t.Fatalf("%q: found %q (%v)", tc.path, cmd.CommandPath(), err)
		}
		if got := governed(cmd); got != tc.want {
			t.Errorf("%s: governed %v, want %v", tc.path, got, tc.want)
		}
	}
}
