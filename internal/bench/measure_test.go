package bench

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func TestProcField(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meminfo")
	content := "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu vme\nMemTotal:       24683520 kB\nmodel name\t: second CPU\nempty:\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, want string
		ok        bool
	}{
		{"model name", "AMD EPYC 7B13", true}, // the first of two
		{"MemTotal", "24683520 kB", true},
		{"processor", "0", true},
		{"empty", "", true},
		{"model", "", false},
		{"VmHWM", "", false},
	} {
		t.Run(tc.key, func(t *testing.T) {
			got, ok := procField(path, tc.key)
			if got != tc.want || ok != tc.ok {
				t.Errorf("procField(%q) = %q, %v; want %q, %v", tc.key, got, ok, tc.want, tc.ok)
			}
		})
	}
	if got, ok := procField(filepath.Join(t.TempDir(), "missing"), "MemTotal"); ok {
		t.Errorf("procField(missing file) = %q, true; want false", got)
	}
}

func TestStatCPU(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
	}{
		{"plain", "1234 (parsec) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 125 0 0 20 0 9 0 100 0 0", 3750 * time.Millisecond},
		{"spaces in the name", "99 (my server ) R 1 99 99 0 -1 0 0 0 0 0 7 3 0 0", 100 * time.Millisecond},
		{"too short", "99 (x) R 1 99 99 0 -1 0 0 0 0 0 7", 0},
		{"not numbers", "99 (x) R 1 99 99 0 -1 0 0 0 0 0 u s 0 0", 0},
		{"empty", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statCPU([]byte(tc.stat)); got != tc.want {
				t.Errorf("statCPU(%q) = %s, want %s", tc.stat, got, tc.want)
			}
		})
	}
}

func TestStatTimes(t *testing.T) {
	user, system := statTimes([]byte("1234 (parsec) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 125 0 0 20 0 9 0 100 0 0"))
	if user != 2500*time.Millisecond || system != 1250*time.Millisecond {
		t.Errorf("statTimes = %s user, %s system; want 2.5 s and 1.25 s", user, system)
	}
	if user, system := statTimes([]byte("99 (x) R 1")); user != 0 || system != 0 {
		t.Errorf("statTimes of a short line = %s, %s; want zeros", user, system)
	}
}

func TestProcCPUSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	// Reading /proc in a loop uses CPU: the count goes up by a clock tick (10 ms) at last.
	before := procCPU("self")
	deadline := time.Now().Add(10 * time.Second)
	for procCPU("self") <= before {
		if time.Now().After(deadline) {
			t.Fatalf("procCPU(self) stayed at %s for 10 s of a busy loop", before)
		}
	}
	if got := procCPU("no-such-process"); got != 0 {
		t.Errorf("procCPU(no-such-process) = %s, want 0", got)
	}
}
