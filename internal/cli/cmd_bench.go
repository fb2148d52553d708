package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// The goals of the benchmark (2 cores, server on the same machine).
const (
	goalUploadMBps    = 300
	goalDownloadMBps  = 500
	goalFilesPerSec   = 3000
	goalMemoryBytes   = 200e6
	benchFilesPerDir  = 100 // the small files are spread in folders of this many
	benchServerWait   = 30 * time.Second
	benchServerLogMax = 20 // lines of the server's log kept to explain a failure
)

type benchOptions struct {
	addr       string
	adminToken string
	size       byteSize
	files      int
	fileSize   byteSize
	cpuProfile string
}

func (a *app) benchCmd() *cobra.Command {
	o := benchOptions{size: 1 << 30, files: 10000, fileSize: 4 << 10}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure upload and download speed and the client's memory",
		Long: `Measure the data path: one large file uploaded then downloaded (MB/s, 10^6 bytes per
second), many small files uploaded as one tree then downloaded (files/s), and the peak
memory of the client, which is this process. Prints one table with the goals beside the
results.

Unless --addr is given, a server is started as a separate process (this program's
"server run") with its data in a temporary directory, on a free 127.0.0.1 port. With
--addr and --admin-token, the bench creates its own organization on that server (named
bench-…) and leaves it there.

The source data is pseudo-random (incompressible), generated on local disk in a temporary
directory ($TMPDIR) before anything is timed, and synced to disk so that the server's
syncs do not pay for it; the downloads are written there too, and compared with the
source afterwards (a difference is an error). An upload is writing the files into a
workspace and pushing them; a download is fetching and validating the manifests with an
empty local cache, then reading the files. The "disk" line says how fast the small source
files were created: no download of them can be faster.

The CPU column is the processor time of the client and, when the bench started it, of the
server, during each step (Linux). The peak memory is the process's peak resident set
(VmHWM) during the steps: the set-up, which derives the device file's password key, is
left out. --json adds the peak resident set and Go heap of each step.`,
		Example: `  parsec bench
  parsec bench --size 256MiB --files 2000 --json
  parsec bench --addr http://127.0.0.1:6777 --admin-token parsec-dev-admin-token`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.size <= 0:
				return usageError{fmt.Errorf("invalid --size %s: want at least 1 byte", o.size)}
			case o.files <= 0:
				return usageError{fmt.Errorf("invalid --files %d: want at least 1", o.files)}
			case o.addr != "" && o.adminToken == "":
				return usageError{fmt.Errorf("--addr needs the server's administration token: --admin-token (or PARSEC_ADMIN_TOKEN)")}
			case o.addr == "" && o.adminToken != "":
				return usageError{fmt.Errorf("--admin-token is for a server given with --addr")}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := a.runBench(ctx, o)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(res)
			}
			a.printBench(res)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.addr, "addr", "a", "", "use this server (http(s)://host:port) instead of starting one")
	f.StringVarP(&o.adminToken, "admin-token", "t", "", "administration token of the server given with --addr")
	f.Var(&o.size, "size", "size of the large file (with a unit: KiB, MiB, GiB, or kB, MB, GB)")
	f.IntVar(&o.files, "files", o.files, "number of small files")
	f.Var(&o.fileSize, "file-size", "size of each small file")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the client during the timed steps to this file (samples labelled step=…: go tool pprof -tagfocus)")
	f.BoolVar(&a.json, "json", false, "print the results as JSON")
	return cmd
}

// byteSize is a flag holding a number of bytes, written with an optional unit.
type byteSize int64

var sizeUnits = []struct {
	name string
	n    int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12}, {"b", 1}, {"", 1},
}

func (s *byteSize) Set(v string) error {
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
				*s = byteSize(n * u.n)
				return nil
			}
		}
	}
	return fmt.Errorf("invalid size %q: want a whole number of bytes, with an optional unit: KiB, MiB, GiB, TiB, kB, MB, GB, TB", v)
}

func (s byteSize) String() string {
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

func (s byteSize) Type() string { return "size" }

// human writes a size for a person: "1 GiB", "4 KiB", "1000 B".
func (s byteSize) human() string {
	str := s.String()
	i := strings.IndexFunc(str, func(r rune) bool { return r < '0' || r > '9' })
	return str[:i] + " " + str[i:]
}

// benchResult is what the bench prints.
type benchResult struct {
	Machine benchMachine `json:"machine"`
	Server  string       `json:"server"`
	// LocalFilesPerSec is how fast this machine's temporary directory created the small
	// source files (written with no encryption, no server): a bound for the downloads.
	LocalFilesPerSec float64    `json:"local_disk_files_per_second"`
	Rows             []benchRow `json:"results"`
	// MemoryIncludesSetup is set when the peak resident set could not be reset after the
	// set-up (not Linux, or /proc/self/clear_refs refused): the peak then includes it.
	MemoryIncludesSetup bool `json:"memory_includes_setup,omitempty"`
}

type benchMachine struct {
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
}

type benchRow struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Unit    string  `json:"unit"`
	Seconds float64 `json:"seconds,omitempty"`
	Bytes   int64   `json:"bytes,omitempty"`
	Files   int     `json:"files,omitempty"`
	// CPU time used during the step by this process and by the server started by the
	// bench (Linux only).
	ClientCPU float64 `json:"client_cpu_seconds,omitempty"`
	ServerCPU float64 `json:"server_cpu_seconds,omitempty"`
	// The peak resident set and Go heap of this process during the step.
	PeakRSS  int64  `json:"peak_rss_bytes,omitempty"`
	PeakHeap int64  `json:"peak_heap_bytes,omitempty"`
	Goal     string `json:"goal,omitempty"`
	Met      *bool  `json:"goal_met,omitempty"`
}

func (a *app) printBench(r *benchResult) {
	m := r.Machine
	a.out("machine: %s, %d CPUs, GOMAXPROCS %d, %d MiB RAM, %s %s/%s, load average %s at start", m.CPU, m.NumCPU, m.GOMAXPROCS, m.MemoryMiB, m.Go, m.OS, m.Arch, m.Load)
	a.out("server:  %s", r.Server)
	a.out("disk:    the small source files were created at %.0f files/s (local writes only, a bound for the downloads)", r.LocalFilesPerSec)
	a.out("")
	table := [][]string{{"", "value", "unit", "time", "CPU client+server", "goal", ""}}
	for _, row := range r.Rows {
		value := strconv.FormatFloat(row.Value, 'f', 1, 64)
		if row.Unit == "files/s" {
			value = strconv.FormatFloat(row.Value, 'f', 0, 64)
		}
		secs, status := "", ""
		if row.Seconds > 0 {
			secs = strconv.FormatFloat(row.Seconds, 'f', 2, 64) + " s"
		}
		if row.Met != nil {
			status = map[bool]string{true: "ok", false: "MISSED"}[*row.Met]
		}
		cpu := ""
		if row.ClientCPU > 0 {
			cpu = strconv.FormatFloat(row.ClientCPU, 'f', 2, 64) + " s"
			if row.ServerCPU > 0 {
				cpu += " + " + strconv.FormatFloat(row.ServerCPU, 'f', 2, 64) + " s"
			}
		}
		table = append(table, []string{row.Name, value, row.Unit, secs, cpu, row.Goal, status})
	}
	rightAligned := []bool{false, true, false, true, true, false, false}
	widths := make([]int, len(rightAligned))
	for _, cells := range table {
		for i, c := range cells {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, cells := range table {
		var line strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i > 0 {
				line.WriteString("  ")
			}
			if rightAligned[i] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		a.out("%s", strings.TrimRight(line.String(), " "))
	}
	if r.MemoryIncludesSetup {
		a.out("(the peak memory includes the set-up: the peak resident set could not be reset on this system)")
	}
}

// runBench prepares a server, an organization and the data, then measures.
func (a *app) runBench(ctx context.Context, o benchOptions) (*benchResult, error) {
	dir, err := os.MkdirTemp("", "parsec-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	res := &benchResult{Machine: machine()}

	addr, token := o.addr, o.adminToken
	serverPID := 0
	if addr == "" {
		a.say("Starting a server in %s…", dir)
		srv, err := startBenchServer(ctx, filepath.Join(dir, "server"))
		if err != nil {
			return nil, err
		}
		defer srv.stop()
		addr, token = srv.url, srv.token
		serverPID = srv.cmd.Process.Pid
		res.Server = srv.url + ", a separate process started by the bench, data under " + os.TempDir()
	} else {
		res.Server = addr
	}
	b := &bench{dir: dir, opts: o, serverPID: serverPID}
	if err := b.bootstrap(ctx, addr, token); err != nil {
		return nil, err
	}
	if o.addr != "" {
		a.say("Created organization %s on %s: it stays there.", b.org, o.addr)
	}
	a.say("Generating %s of data and %d files of %s…", o.size.human(), o.files, o.fileSize.human())
	if err := b.generate(); err != nil {
		return nil, err
	}
	res.LocalFilesPerSec = b.localFilesPerSec

	// From here on the client's memory counts: return what the set-up used (the password
	// key derivation takes 128 MiB) to the system, and reset the peak before each step.
	runtime.GC()
	debug.FreeOSMemory()
	resetPeak := func() bool { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil }
	res.MemoryIncludesSetup = !resetPeak()
	heap := startHeapSampler()
	defer heap.stop()
	stopProfile := func() {}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		stopProfile = sync.OnceFunc(pprof.StopCPUProfile)
		defer stopProfile()
	}

	bigName := fmt.Sprintf("%s file", o.size.human())
	smallName := fmt.Sprintf("%d × %s", o.files, o.fileSize.human())
	smallBytes := int64(o.files) * int64(o.fileSize)
	steps := []struct {
		name string
		run  func(context.Context) error
		row  func(time.Duration) benchRow
	}{
		{"upload " + bigName, b.uploadBig, func(d time.Duration) benchRow {
			return throughput(int64(o.size), d, goalUploadMBps)
		}},
		{"download " + bigName, b.downloadBig, func(d time.Duration) benchRow {
			return throughput(int64(o.size), d, goalDownloadMBps)
		}},
		{"upload " + smallName, b.uploadSmall, func(d time.Duration) benchRow {
			return filesRate(o.files, smallBytes, d)
		}},
		{"download " + smallName, b.downloadSmall, func(d time.Duration) benchRow {
			return filesRate(o.files, smallBytes, d)
		}},
	}
	var peakRSS, peakHeap int64
	for _, s := range steps {
		// What the bench wrote (the sources, the last download) goes to disk first, so that
		// the server's syncs do not pay for it.
		if err := b.settle(); err != nil {
			return nil, err
		}
		a.say("Measuring: %s…", s.name)
		if !res.MemoryIncludesSetup {
			resetPeak()
		}
		heap.lap()
		clientCPU, serverCPU := b.cpu()
		start := time.Now()
		var err error
		// The profile's samples are labelled with the step: go tool pprof -tagfocus.
		pprof.Do(ctx, pprof.Labels("step", s.name), func(ctx context.Context) { err = s.run(ctx) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		row := s.row(time.Since(start))
		row.Name = s.name
		clientCPU2, serverCPU2 := b.cpu()
		row.ClientCPU, row.ServerCPU = (clientCPU2 - clientCPU).Seconds(), (serverCPU2 - serverCPU).Seconds()
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
		benchRow{Name: "peak client memory", Value: mib(peakRSS), Unit: "MiB", Bytes: peakRSS, Goal: "< 200 MB", Met: &met},
		benchRow{Name: "peak Go heap", Value: mib(peakHeap), Unit: "MiB", Bytes: peakHeap},
	)

	a.say("Checking the downloaded files…")
	if err := b.verify(); err != nil {
		return nil, err
	}
	return res, nil
}

func throughput(n int64, d time.Duration, goal float64) benchRow {
	v := float64(n) / d.Seconds() / 1e6
	met := v >= goal
	return benchRow{Value: v, Unit: "MB/s", Seconds: d.Seconds(), Bytes: n, Goal: fmt.Sprintf("≥ %.0f MB/s", goal), Met: &met}
}

func filesRate(files int, n int64, d time.Duration) benchRow {
	v := float64(files) / d.Seconds()
	met := v >= goalFilesPerSec
	return benchRow{Value: v, Unit: "files/s", Seconds: d.Seconds(), Bytes: n, Files: files, Goal: fmt.Sprintf("≥ %d files/s", goalFilesPerSec), Met: &met}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// bench is one run's organization, workspace and data.
type bench struct {
	dir      string
	opts     benchOptions
	org      parsec.OrganizationID
	dev      *device.Local
	unsynced []string // files written by the bench, to sync before the next step
	// localFilesPerSec is how fast the small source files were created on local disk.
	localFilesPerSec float64
	// serverPID is the server process started by the bench, whose CPU time is measured
	// (0 with --addr).
	serverPID int
	c         *client.Client // the writer
	ws        *client.Workspace
}

const benchBigPath = "/big.bin"

func (b *bench) path(parts ...string) string {
	return filepath.Join(append([]string{b.dir}, parts...)...)
}

// smallPath is the path of small file i, in the workspace and under the local folders.
func (b *bench) smallPath(i int) string {
	return fmt.Sprintf("/small/%04d/%06d.bin", i/benchFilesPerDir, i)
}

// bootstrap creates and bootstraps an organization, opens its first device's client and
// creates the workspace.
func (b *bench) bootstrap(ctx context.Context, addr, token string) error {
	adm, err := client.NewAdmin(addr, token, nil)
	if err != nil {
		return err
	}
	org := parsec.OrganizationID("bench-" + randomHex(6))
	b.org = org
	urls, err := adm.CreateOrganization(ctx, org, client.OrgOptions{})
	if err != nil {
		return fmt.Errorf("create organization %s: %w", org, err)
	}
	link, err := protocol.ParseLink(urls.BootstrapURL)
	if err != nil {
		return err
	}
	b.dev, err = client.Bootstrap(ctx, b.path("config"), client.BootstrapRequest{
		Link: link, Email: "bench@example.com", Name: "Parsec Bench", DeviceLabel: "bench",
		Password: []byte(randomHex(16)),
	})
	if err != nil {
		return fmt.Errorf("bootstrap organization %s: %w", org, err)
	}
	if b.c, err = b.open(ctx, "config"); err != nil {
		return err
	}
	id, err := b.c.CreateWorkspace(ctx, "bench")
	if err != nil {
		return fmt.Errorf("create workspace: %w", err)
	}
	b.ws, err = b.c.Workspace(ctx, id)
	return err
}

// open opens a client of the device with the local cache in configDir, certificates
// polled.
func (b *bench) open(ctx context.Context, configDir string) (*client.Client, error) {
	c, err := client.Open(ctx, b.path(configDir), b.dev, client.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := c.PollCertificates(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// generate writes the source files: pseudo-random, so that nothing compresses.
func (b *bench) generate() error {
	var seed [32]byte
	rand.Read(seed[:])
	rng := mrand.NewChaCha8(seed)
	for _, d := range []string{b.path("src"), b.path("dst")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := writeRandom(b.path("src", "big.bin"), rng, int64(b.opts.size)); err != nil {
		return err
	}
	b.unsynced = append(b.unsynced, b.path("src", "big.bin"))
	start := time.Now()
	defer func() { b.localFilesPerSec = float64(b.opts.files) / time.Since(start).Seconds() }()
	for i := range b.opts.files {
		p := b.path("src", b.smallPath(i))
		if i%benchFilesPerDir == 0 {
			for _, d := range []string{filepath.Dir(p), filepath.Dir(b.path("dst", b.smallPath(i)))} {
				if err := os.MkdirAll(d, 0o700); err != nil {
					return err
				}
			}
		}
		if err := writeRandom(p, rng, int64(b.opts.fileSize)); err != nil {
			return err
		}
		b.unsynced = append(b.unsynced, p)
	}
	return nil
}

func writeRandom(path string, rng io.Reader, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	buf := make([]byte, min(n, 1<<20))
	for left := n; left > 0; {
		chunk := buf[:min(left, int64(len(buf)))]
		rng.Read(chunk)
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return err
		}
		left -= int64(len(chunk))
	}
	return f.Close()
}

// settle makes durable the files the bench wrote and has not synced yet.
func (b *bench) settle() error {
	paths := b.unsynced
	b.unsynced = nil
	errs := make([]error, len(paths))
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range min(len(paths), 16) { // parallel fsyncs share journal commits
		wg.Go(func() {
			for {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= len(paths) {
					return
				}
				f, err := os.Open(paths[j])
				if err == nil {
					err = f.Sync()
					f.Close()
				}
				errs[j] = err
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func localSource(wsPath, local string) client.FileSource {
	return client.FileSource{Path: wsPath, Open: func() (io.ReadCloser, error) { return os.Open(local) }}
}

func localTarget(wsPath, local string) client.FileTarget {
	return client.FileTarget{Path: wsPath, Create: func() (io.WriteCloser, error) { return os.Create(local) }}
}

func (b *bench) uploadBig(ctx context.Context) error {
	if err := b.ws.WriteFiles(ctx, []client.FileSource{localSource(benchBigPath, b.path("src", "big.bin"))}, nil); err != nil {
		return err
	}
	return b.ws.Push(ctx)
}

func (b *bench) uploadSmall(ctx context.Context) error {
	files := make([]client.FileSource, b.opts.files)
	for i := range files {
		p := b.smallPath(i)
		files[i] = localSource(p, b.path("src", p))
	}
	if err := b.ws.WriteFiles(ctx, files, nil); err != nil {
		return err
	}
	return b.ws.Push(ctx)
}

// reader opens the workspace with a new, empty local cache, so that the download fetches
// and validates the manifests too.
func (b *bench) reader(ctx context.Context, configDir string) (*client.Client, *client.Workspace, error) {
	c, err := b.open(ctx, configDir)
	if err != nil {
		return nil, nil, err
	}
	w, err := c.Workspace(ctx, b.ws.ID())
	if err == nil {
		err = w.Pull(ctx)
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, w, nil
}

func (b *bench) downloadBig(ctx context.Context) error {
	c, w, err := b.reader(ctx, "config-read-big")
	if err != nil {
		return err
	}
	defer c.Close()
	b.unsynced = append(b.unsynced, b.path("dst", "big.bin"))
	return w.ReadFiles(ctx, []client.FileTarget{localTarget(benchBigPath, b.path("dst", "big.bin"))}, nil)
}

func (b *bench) downloadSmall(ctx context.Context) error {
	c, w, err := b.reader(ctx, "config-read-small")
	if err != nil {
		return err
	}
	defer c.Close()
	targets := make([]client.FileTarget, b.opts.files)
	for i := range targets {
		p := b.smallPath(i)
		targets[i] = localTarget(p, b.path("dst", p))
	}
	return w.ReadFiles(ctx, targets, nil)
}

// verify compares every downloaded file with its source.
func (b *bench) verify() error {
	bufs := [2][]byte{make([]byte, 1<<20), make([]byte, 1<<20)}
	if err := sameFile(b.path("src", "big.bin"), b.path("dst", "big.bin"), bufs); err != nil {
		return err
	}
	for i := range b.opts.files {
		p := b.smallPath(i)
		if err := sameFile(b.path("src", p), b.path("dst", p), bufs); err != nil {
			return err
		}
	}
	return nil
}

func sameFile(src, dst string, bufs [2][]byte) error {
	fs, err := os.Open(src)
	if err != nil {
		return err
	}
	defer fs.Close()
	fd, err := os.Open(dst)
	if err != nil {
		return parsec.Errorf(parsec.Tampered, "the download of %s is missing: %v", filepath.Base(src), err)
	}
	defer fd.Close()
	bs, bd := bufs[0], bufs[1]
	for off := int64(0); ; {
		ns, errS := io.ReadFull(fs, bs)
		nd, errD := io.ReadFull(fd, bd)
		if !bytes.Equal(bs[:ns], bd[:nd]) {
			i := 0
			for i < min(ns, nd) && bs[i] == bd[i] {
				i++
			}
			return parsec.Errorf(parsec.Tampered, "downloaded %s differs from what was uploaded, from byte %d", dst, off+int64(i))
		}
		off += int64(ns)
		eofS := errors.Is(errS, io.EOF) || errors.Is(errS, io.ErrUnexpectedEOF)
		eofD := errors.Is(errD, io.EOF) || errors.Is(errD, io.ErrUnexpectedEOF)
		switch {
		case errS != nil && !eofS:
			return errS
		case errD != nil && !eofD:
			return errD
		case eofS || eofD:
			return nil
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// machine describes this computer.
func machine() benchMachine {
	m := benchMachine{CPU: runtime.GOARCH, NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if v, ok := procField("/proc/cpuinfo", "model name"); ok {
		m.CPU = v
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.Load, _, _ = strings.Cut(string(b), " ")
	}
	if v, ok := procField("/proc/meminfo", "MemTotal"); ok {
		if kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64); err == nil {
			m.MemoryMiB = kb >> 10
		}
	}
	return m
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

// cpu returns the CPU time used so far by this process and by the server process (zero
// when unknown).
func (b *bench) cpu() (client, server time.Duration) {
	client = procCPU("self")
	if b.serverPID != 0 {
		server = procCPU(strconv.Itoa(b.serverPID))
	}
	return client, server
}

// procCPU returns the user and system CPU time of a process, from /proc/PID/stat: fields
// 14 and 15, in clock ticks (100 per second on Linux).
func procCPU(pid string) time.Duration {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	_, after, _ := bytes.Cut(stat, []byte(") ")) // the command name may hold spaces
	f := strings.Fields(string(after))
	if len(f) < 13 {
		return 0
	}
	user, err1 := strconv.ParseInt(f[11], 10, 64)
	system, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(user+system) * (time.Second / 100)
}

// vmHWM is the peak resident set of this process, in bytes.
func vmHWM() (int64, error) {
	v, ok := procField("/proc/self/status", "VmHWM")
	if !ok {
		return 0, fmt.Errorf("cannot read the peak memory: no VmHWM in /proc/self/status (Linux only)")
	}
	kb, err := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cannot read the peak memory: VmHWM %q", v)
	}
	return kb << 10, nil
}

// heapSampler records the peak of the Go heap (live and not yet collected objects).
type heapSampler struct {
	done chan struct{}
	stop func()

	mu   sync.Mutex
	peak int64
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{done: make(chan struct{})}
	h.stop = sync.OnceFunc(func() { close(h.done) })
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			h.mu.Lock()
			h.peak = max(h.peak, int64(s[0].Value.Uint64()))
			h.mu.Unlock()
			select {
			case <-t.C:
			case <-h.done:
				return
			}
		}
	}()
	return h
}

// lap returns the peak since the last lap, and starts a new one.
func (h *heapSampler) lap() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	now := int64(s[0].Value.Uint64())
	h.mu.Lock()
	defer h.mu.Unlock()
	peak := max(h.peak, now)
	h.peak = now
	return peak
}

// benchServer is a server process started by the bench.
type benchServer struct {
	url    string
	token  string
	cmd    *exec.Cmd
	exited chan struct{}
	log    *serverLog
}

// startBenchServer runs this program's "server run" with its data in dir, on a free
// loopback port, and waits until it answers.
func startBenchServer(ctx context.Context, dir string) (*benchServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("cannot start a server: %w", err)
	}
	s := &benchServer{token: randomHex(16), exited: make(chan struct{}), log: &serverLog{ready: make(chan string, 1)}}
	s.cmd = exec.Command(exe, "server", "run", "--addr", "127.0.0.1:0", "--data-dir", dir,
		"--db", "sqlite:"+filepath.Join(dir, "metadata.db"), "--blockstore", "disk:"+filepath.Join(dir, "blocks"),
		"--log-format", "json", "--log-level", "info")
	// The token goes through the environment, not the command line that anyone may list;
	// the other PARSEC_* variables, meant for the bench, must not configure the server.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PARSEC_") {
			s.cmd.Env = append(s.cmd.Env, kv)
		}
	}
	s.cmd.Env = append(s.cmd.Env, "PARSEC_ADMIN_TOKEN="+s.token)
	s.cmd.Stderr = s.log
	s.cmd.SysProcAttr = parentDeathSignal()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start a server: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	timeout := time.NewTimer(benchServerWait)
	defer timeout.Stop()
	select {
	case s.url = <-s.log.ready:
	case <-s.exited:
		return nil, fmt.Errorf("the server stopped at once: %s", s.log.tail())
	case <-timeout.C:
		s.stop()
		return nil, fmt.Errorf("the server did not start in %s: %s", benchServerWait, s.log.tail())
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	if err := waitHealthy(ctx, s.url, s.exited); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w: %s", err, s.log.tail())
	}
	return s, nil
}

// parentDeathSignal asks, where the system can (Linux), that the server be interrupted
// when the bench dies, even by a crash that skips its clean-up. The field exists on Linux
// only, hence reflection rather than a file per system.
func parentDeathSignal() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	if f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig"); f.IsValid() && f.CanSet() {
		f.SetInt(int64(syscall.SIGTERM))
	}
	return attr
}

// stop asks the server to shut down, and kills it if it takes more than 10 s.
func (s *benchServer) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func waitHealthy(ctx context.Context, url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(benchServerWait)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server at %s is not healthy after %s", url, benchServerWait)
		}
		select {
		case <-exited:
			return fmt.Errorf("the server stopped")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// serverLog receives the server's JSON log: it reports the server's URL once, and
// keeps the last lines to explain a failure.
type serverLog struct {
	ready chan string

	mu      sync.Mutex
	partial []byte
	lines   []string
}

func (l *serverLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		var rec struct {
			Msg       string `json:"msg"`
			PublicURL string `json:"public_url"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "server listening" && rec.PublicURL != "" {
			select {
			case l.ready <- rec.PublicURL:
			default:
			}
		}
		l.lines = append(l.lines, line)
		if len(l.lines) > benchServerLogMax {
			l.lines = l.lines[1:]
		}
	}
}

func (l *serverLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 0 {
		return "no output"
	}
	return "its log ends with:\n" + strings.Join(l.lines, "\n")
}
