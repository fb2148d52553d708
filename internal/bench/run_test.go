package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/parsec-go/parsec/internal/testenv"
)

// TestRun measures against an in-process test server given as Addr (a real run starts a
// separate server process: the CLI's script tests do that).
func TestRun(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the peak memory is read from /proc")
	}
	srv := testenv.NewServer(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	profile := filepath.Join(t.TempDir(), "cpu.pprof")
	var mu sync.Mutex
	var logged []string
	res, err := Run(t.Context(), Options{
		Addr: srv.URL, AdminToken: testenv.AdminToken,
		Size: 300 << 10, Files: 120, FileSize: 1000, CPUProfile: profile,
		Logf: func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			logged = append(logged, fmt.Sprintf(format, args...))
		},
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}

	if res.Server != srv.URL {
		t.Errorf("Server = %q, want %q", res.Server, srv.URL)
	}
	if res.Machine.NumCPU != runtime.NumCPU() || res.Machine.OS != runtime.GOOS || res.Machine.Go != runtime.Version() {
		t.Errorf("Machine = %+v, want this machine", res.Machine)
	}
	if res.LocalFilesPerSec <= 0 {
		t.Errorf("LocalFilesPerSec = %v, want > 0", res.LocalFilesPerSec)
	}
	wantRows := []struct {
		name, unit string
		bytes      int64
		files      int
		goal       string
	}{
		{"upload 300 KiB file", "MB/s", 300 << 10, 0, "≥ 300 MB/s"},
		{"download 300 KiB file", "MB/s", 300 << 10, 0, "≥ 500 MB/s"},
		{"upload 120 × 1000 B", "files/s", 120000, 120, "≥ 3000 files/s"},
		{"download 120 × 1000 B", "files/s", 120000, 120, "≥ 3000 files/s"},
		{"peak client memory", "MiB", -1, 0, "< 200 MB"},
		{"peak Go heap", "MiB", -1, 0, ""},
	}
	if len(res.Rows) != len(wantRows) {
		t.Fatalf("got %d rows, want %d: %+v", len(res.Rows), len(wantRows), res.Rows)
	}
	for i, w := range wantRows {
		r := res.Rows[i]
		if r.Name != w.name || r.Unit != w.unit || r.Files != w.files || r.Goal != w.goal || (w.bytes >= 0 && r.Bytes != w.bytes) {
			t.Errorf("row %d = %+v, want name %q, unit %s, %d bytes, %d files, goal %q", i, r, w.name, w.unit, w.bytes, w.files, w.goal)
		}
		if r.Value <= 0 || (w.goal != "") != (r.Met != nil) {
			t.Errorf("row %q: value %v, met %v; want a positive value, and a verdict with a goal", r.Name, r.Value, r.Met)
		}
		if i < 4 && (r.Seconds <= 0 || r.PeakRSS <= 0 || r.PeakHeap <= 0) {
			t.Errorf("step %q: %v s, peak RSS %d, peak heap %d; want all positive", r.Name, r.Seconds, r.PeakRSS, r.PeakHeap)
		}
	}
	if mem := res.Rows[4]; !res.MemoryIncludesSetup && mem.Bytes != max(res.Rows[0].PeakRSS, res.Rows[1].PeakRSS, res.Rows[2].PeakRSS, res.Rows[3].PeakRSS) {
		t.Errorf("peak client memory %d bytes, want the largest of the steps' peaks", mem.Bytes)
	}

	if !strings.HasPrefix(logged[0], "Created organization bench-") || !strings.HasSuffix(logged[0], " on "+srv.URL+": it stays there.") {
		t.Errorf("first log line %q, want the organization created on %s", logged[0], srv.URL)
	}
	if last := logged[len(logged)-1]; last != "Checking the downloaded files…" {
		t.Errorf("last log line %q, want the final check", last)
	}
	if fi, err := os.Stat(profile); err != nil || fi.Size() == 0 {
		t.Errorf("CPU profile: %v, want a non-empty file", err)
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
		t.Errorf("the temporary directory holds %d entries after Run (%v), want none", len(left), err)
	}
}

func TestRunBadToken(t *testing.T) {
	srv := testenv.NewServer(t)
	t.Setenv("TMPDIR", t.TempDir())
	_, err := Run(t.Context(), Options{Addr: srv.URL, AdminToken: "wrong", Size: 1, Files: 1, FileSize: 1})
	if err == nil || !strings.Contains(err.Error(), "create organization bench-") {
		t.Errorf("Run with a wrong administration token: %v, want the organization's creation to fail", err)
	}
}
