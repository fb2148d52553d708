package bench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"time"
)

// The goals of the benchmark (2 cores, server on the same machine).
const (
	goalUploadMBps   = 300
	goalDownloadMBps = 500
	goalFilesPerSec  = 3000
	goalMemoryBytes  = 200e6
)

// Options says what to measure, and against which server.
type Options struct {
	// Addr is the server to use (http(s)://host:port) and AdminToken its administration
	// token: Run creates its own organization there (named bench-…) and leaves it there.
	// With no Addr, Run starts a server as a separate process with its data in a temporary
	// directory, on a free 127.0.0.1 port, and stops it before returning.
	Addr       string
	AdminToken string
	// Program is the parsec executable that Run starts as "Program server run …" when Addr
	// is empty; empty means the executable of this process.
	Program string
	// Size is the size of the large file, uploaded then downloaded; Files small files of
	// FileSize bytes each are then uploaded as one tree and downloaded. Size and Files
	// must be at least 1.
	Size     Size
	Files    int
	FileSize Size
	// CPUProfile, when set, is the file that receives a CPU profile of this process during
	// the timed steps, its samples labelled step=… (go tool pprof -tagfocus).
	CPUProfile string
	// ServerCPUProfile, when set and Run starts the server, is the file that receives a
	// CPU profile of the server's whole run (set-up included), written when it stops.
	ServerCPUProfile string
	// Logf, when set, receives one line for a person at each stage of the run: starting
	// the server, generating the data, each step, the final check.
	Logf func(format string, args ...any)
}

// Result is what the bench measured.
type Result struct {
	Machine Machine `json:"machine"`
	Server  string  `json:"server"`
	// LocalFilesPerSec is how fast this machine's temporary directory created the small
	// source files (written with no encryption, no server): a bound for the downloads.
	LocalFilesPerSec float64 `json:"local_disk_files_per_second"`
	// LocalWriteSystemPerGiB is the system CPU time, in seconds per GiB, that writing the
	// large source file into the page cache took (Linux; zero elsewhere). Fresh memory is
	// not always cheap (on a virtual machine, memory given back to the host costs a fault
	// per page when used again): the server pays it too for a large upload (a download
	// writes through internal/writeback, which reuses its memory).
	LocalWriteSystemPerGiB float64 `json:"local_write_system_seconds_per_gib"`
	// Rows holds one row per step, then the peak client memory and the peak Go heap.
	Rows []Row `json:"results"`
	// MemoryIncludesSetup is set when the peak resident set could not be reset after the
	// set-up (not Linux, or /proc/self/clear_refs refused): the peak then includes it.
	MemoryIncludesSetup bool `json:"memory_includes_setup,omitempty"`
}

// Machine describes the computer the bench ran on.
type Machine struct {
	CPU        string `json:"cpu"`
	NumCPU     int    `json:"num_cpu"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	MemoryMiB  int64  `json:"memory_mib,omitempty"`
	// Load is the load average over the last minute when the bench started: other work on
	// the machine skews the results.
	Load string `json:"load,omitempty"`
	Go   string `json:"go"`
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// BlockCipher is the cipher this processor seals blocks with (manifest.BlockCipher):
	// "AES256GCM" with AES instructions, "" (XChaCha20-Poly1305) without.
	BlockCipher string `json:"block_cipher"`
}

// Row is one measure, with its goal when it has one (Met is then set).
type Row struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Seconds float64 `json:"seconds,omitempty"`
	Bytes   int64   `json:"bytes,omitempty"`
	Files   int     `json:"files,omitempty"`
	// CPU time used during the step by this process and by the server started by the
	// bench, when it can be read (Linux only): a short step may take none (time is counted
	// in hundredths of a second).
	ClientCPU *float64 `json:"client_cpu_seconds,omitempty"`
	ServerCPU *float64 `json:"server_cpu_seconds,omitempty"`
	// The peak resident set and Go heap of this process during the step.
	PeakRSS  int64  `json:"peak_rss_bytes,omitempty"`
	PeakHeap int64  `json:"peak_heap_bytes,omitempty"`
	Goal     string `json:"goal,omitempty"`
	Met      *bool  `json:"goal_met,omitempty"`
}

// Run prepares a server, an organization and the data, then measures each step in turn
// with this process as the client, and checks that every downloaded file matches its
// source (a difference is a parsec.Tampered error). The data, in a temporary directory
// ($TMPDIR), and a server started by Run are gone when it returns.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	dir, err := os.MkdirTemp("", "parsec-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	res := &Result{Machine: machine()}

	srv, err := useServer(ctx, o.Logf, o.Program, dir, o.Addr, o.AdminToken, o.ServerCPUProfile)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	addr, token, serverPID := srv.addr, srv.token, srv.pid
	res.Server = srv.desc
	fx := &fixture{dir: dir, opts: o, serverPID: serverPID}
	if err := fx.bootstrap(ctx, addr, token); err != nil {
		return nil, err
	}
	if o.Addr != "" {
		o.Logf("Created organization %s on %s: it stays there.", fx.org, o.Addr)
	}
	o.Logf("Generating %s of data and %d files of %s…", o.Size.human(), o.Files, o.FileSize.human())
	if err := fx.generate(); err != nil {
		return nil, err
	}
	res.LocalFilesPerSec = fx.localFilesPerSec
	res.LocalWriteSystemPerGiB = fx.writeSystemPerGiB

	// From here on the client's memory counts: return what the set-up used (the password
	// key derivation takes 128 MiB) to the system, and reset the peak before each step.
	runtime.GC()
	debug.FreeOSMemory()
	resetPeak := func() bool { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil }
	res.MemoryIncludesSetup = !resetPeak()
	heap := startHeapSampler()
	defer heap.stop()
	stopProfile, err := startCPUProfile(o.CPUProfile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()

	bigName := fmt.Sprintf("%s file", o.Size.human())
	smallName := fmt.Sprintf("%d × %s", o.Files, o.FileSize.human())
	smallBytes := int64(o.Files) * int64(o.FileSize)
	steps := []struct {
		name string
		run  func(context.Context) error
		row  func(time.Duration) Row
	}{
		{"upload " + bigName, fx.uploadBig, func(d time.Duration) Row {
			return throughput(int64(o.Size), d, goalUploadMBps)
		}},
		{"download " + bigName, fx.downloadBig, func(d time.Duration) Row {
			return throughput(int64(o.Size), d, goalDownloadMBps)
		}},
		{"upload " + smallName, fx.uploadSmall, func(d time.Duration) Row {
			return filesRate(o.Files, smallBytes, d)
		}},
		{"download " + smallName, fx.downloadSmall, func(d time.Duration) Row {
			return filesRate(o.Files, smallBytes, d)
		}},
	}
	var peakRSS, peakHeap int64
	for _, s := range steps {
		// What the bench wrote (the sources, the last download) goes to disk first, so that
		// the server's syncs do not pay for it.
		if err := fx.settle(); err != nil {
			return nil, err
		}
		o.Logf("Measuring: %s…", s.name)
		if !res.MemoryIncludesSetup {
			resetPeak()
		}
		heap.lap()
		clientCPU, serverCPU := fx.cpu()
		start := time.Now()
		var err error
		// The profile's samples are labelled with the step: go tool pprof -tagfocus.
		pprof.Do(ctx, pprof.Labels("step", s.name), func(ctx context.Context) { err = s.run(ctx) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		row := s.row(time.Since(start))
		row.Name = s.name
		clientCPU2, serverCPU2 := fx.cpu()
		row.ClientCPU, row.ServerCPU = fx.cpuSpent(clientCPU, clientCPU2, serverCPU, serverCPU2)
		if row.PeakRSS, err = vmHWM(); err != nil {
			return nil, err
		}
		row.PeakHeap = heap.lap()
		peakRSS, peakHeap = max(peakRSS, row.PeakRSS), max(peakHeap, row.PeakHeap)
		res.Rows = append(res.Rows, row)
	}
	stopProfile()
	met := peakRSS < goalMemoryBytes
	res.Rows = append(res.Rows,
		Row{Name: "peak client memory", Value: mib(peakRSS), Unit: "MiB", Bytes: peakRSS, Goal: "< 200 MB", Met: &met},
		Row{Name: "peak Go heap", Value: mib(peakHeap), Unit: "MiB", Bytes: peakHeap},
	)

	o.Logf("Checking the downloaded files…")
	if err := fx.verify(); err != nil {
		return nil, err
	}
	return res, nil
}

func throughput(n int64, d time.Duration, goal float64) Row {
	v := float64(n) / d.Seconds() / 1e6
	met := v >= goal
	return Row{Value: v, Unit: "MB/s", Seconds: d.Seconds(), Bytes: n, Goal: fmt.Sprintf("≥ %.0f MB/s", goal), Met: &met}
}

func filesRate(files int, n int64, d time.Duration) Row {
	v := float64(files) / d.Seconds()
	met := v >= goalFilesPerSec
	return Row{Value: v, Unit: "files/s", Seconds: d.Seconds(), Bytes: n, Files: files, Goal: fmt.Sprintf("≥ %d files/s", goalFilesPerSec), Met: &met}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// startCPUProfile writes a CPU profile of this process to path ("" for none) until stop,
// which may be called more than once, is called.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return sync.OnceFunc(func() {
		pprof.StopCPUProfile()
		f.Close()
	}), nil
}
