package cli

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/parsec-go/parsec/internal/bench"
	"github.com/parsec-go/parsec/internal/manifest"
)

// A step too short to take a hundredth of a second of processor time still shows its CPU
// column, as zero; a processor time that could not be read leaves it empty.
func TestPrintBenchCPU(t *testing.T) {
	zero, some := 0.0, 1.5
	out := &bytes.Buffer{}
	a := &app{ctx: context.Background(), stdout: out, stderr: &bytes.Buffer{}}
	a.printBench(&bench.Result{Machine: bench.Machine{CPU: "Acme 9000", BlockCipher: manifest.CipherAES256GCM}, Rows: []bench.Row{
		{Name: "short", Value: 1, Unit: "MB/s", Seconds: 0.01, ClientCPU: &zero, ServerCPU: &zero},
		{Name: "long", Value: 1, Unit: "MB/s", Seconds: 2, ClientCPU: &some, ServerCPU: &zero},
		{Name: "alone", Value: 1, Unit: "MB/s", Seconds: 2, ClientCPU: &some},
		{Name: "unknown", Value: 1, Unit: "MB/s", Seconds: 2},
	}})
	for _, want := range []string{
		`(?m)^short +1\.0 +MB/s +0\.01 s +0\.00 s \+ 0\.00 s *$`,
		`(?m)^long +1\.0 +MB/s +2\.00 s +1\.50 s \+ 0\.00 s *$`,
		`(?m)^alone +1\.0 +MB/s +2\.00 s +1\.50 s *$`,
		`(?m)^unknown +1\.0 +MB/s +2\.00 s *$`,
		`(?m)^machine: Acme 9000, .*; blocks sealed with AES-256-GCM$`,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("no line matching %s in:\n%s", want, out)
		}
	}
}
