package bench

import (
	"fmt"
	"strings"
	"testing"
)

func TestServerLog(t *testing.T) {
	l := &serverLog{ready: make(chan string, 1)}
	if got := l.tail(); got != "no output" {
		t.Errorf("tail of an empty log = %q, want %q", got, "no output")
	}
	// The log arrives in pieces that do not follow lines; only "server listening" with a
	// public URL reports the URL, and only the first one is kept.
	lines := `{"msg":"opening the database"}` + "\n" +
		`{"msg":"server listening","public_url":""}` + "\n" +
		`not JSON` + "\n" +
		`{"msg":"server listening","public_url":"http://127.0.0.1:41234"}` + "\n" +
		`{"msg":"server listening","public_url":"http://127.0.0.1:9"}` + "\n" +
		`{"msg":"unfinished`
	for len(lines) > 0 {
		n := min(7, len(lines))
		if got, err := l.Write([]byte(lines[:n])); got != n || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", got, err, n)
		}
		lines = lines[n:]
	}
	select {
	case url := <-l.ready:
		if url != "http://127.0.0.1:41234" {
			t.Errorf("reported URL %q, want http://127.0.0.1:41234", url)
		}
	default:
		t.Fatal("no URL reported")
	}
	want := "its log ends with:\n" + `{"msg":"opening the database"}` + "\n" +
		`{"msg":"server listening","public_url":""}` + "\nnot JSON\n" +
		`{"msg":"server listening","public_url":"http://127.0.0.1:41234"}` + "\n" +
		`{"msg":"server listening","public_url":"http://127.0.0.1:9"}`
	if got := l.tail(); got != want {
		t.Errorf("tail = %q, want %q", got, want)
	}
}

func TestServerLogKeepsTheLastLines(t *testing.T) {
	l := &serverLog{ready: make(chan string, 1)}
	for i := range serverLogMax + 5 {
		fmt.Fprintf(l, "line %d\n", i)
	}
	got := strings.Split(strings.TrimPrefix(l.tail(), "its log ends with:\n"), "\n")
	if len(got) != serverLogMax || got[0] != "line 5" || got[len(got)-1] != fmt.Sprintf("line %d", serverLogMax+4) {
		t.Errorf("tail keeps %d lines, %q to %q; want %d, line 5 to line %d", len(got), got[0], got[len(got)-1], serverLogMax, serverLogMax+4)
	}
}
