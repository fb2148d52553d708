package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// goalMetadataP99 is the goal for the 99th percentile of the metadata commands' latency.
const goalMetadataP99 = 100 * time.Millisecond

// LoadOptions says how many simulated devices RunLoad drives, for how long, and against
// which server.
type LoadOptions struct {
	// Addr, AdminToken and Program are as in Options: with no Addr, RunLoad starts a server
	// as a separate process and stops it before returning.
	Addr       string
	AdminToken string
	Program    string
	// Clients is the number of simulated devices, each with its own local cache, its own
	// connections and an event stream open all along; they belong to Users users, as
	// evenly as possible (at most Clients users).
	Clients int
	Users   int
	// Duration is how long the devices start operations; Interval is the mean pause
	// between two operations of one device (random, exponentially distributed, so that
	// the devices do not move in step).
	Duration time.Duration
	Interval time.Duration
	// FileSize is the size of each file a device writes.
	FileSize Size
	// CPUProfile, when set, is the file that receives a CPU profile of this process (every
	// device) while the devices run.
	CPUProfile string
	// Logf is as in Options.
	Logf func(format string, args ...any)
}

// LoadResult is what RunLoad measured.
type LoadResult struct {
	Machine Machine `json:"machine"`
	Server  string  `json:"server"`
	Clients int     `json:"clients"`
	Users   int     `json:"users"`
	// SourceAddresses is the number of loopback addresses the devices connected from (one
	// per device when the server is on this machine, so that the server's per-address
	// limits apply to each as to a real device), or 0 when they all used the system's.
	SourceAddresses int     `json:"source_addresses"`
	Interval        float64 `json:"interval_seconds"`
	FileSize        int64   `json:"file_size_bytes"`
	// Seconds is the measured time: from the first operation to the end of the last.
	Seconds float64 `json:"seconds"`
	// Commands holds one row per command, then the event deliveries, then the total.
	Commands []CommandStats `json:"commands"`
	// Errors is the number of failed operations and dropped event streams; ErrorSamples
	// holds the first few distinct messages.
	Errors       int      `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	// CPU time of this process (every simulated device) and of the server, when the bench
	// started it, during the measured time (Linux).
	ClientCPU float64 `json:"client_cpu_seconds,omitempty"`
	ServerCPU float64 `json:"server_cpu_seconds,omitempty"`
	// ServerPeakRSS is the peak resident set of the server started by the bench, set-up
	// included.
	ServerPeakRSS int64 `json:"server_peak_rss_bytes,omitempty"`
	// ServerCommands is the server's own latency of each request command during the
	// load (from its /metrics), when it could be read.
	ServerCommands []ServerCommand `json:"server_commands,omitempty"`
}

// CommandStats is the latency of one command, in milliseconds.
type CommandStats struct {
	Name string `json:"name"`
	// Kind is "metadata" (a sync or a listing: manifests only), "data" (blocks too),
	// "event" (the delay from a write sending its manifests to its event reaching each of
	// the user's other devices) or "total".
	Kind   string  `json:"kind"`
	Count  int     `json:"count"`
	Errors int     `json:"errors"`
	PerSec float64 `json:"per_second"`
	P50    float64 `json:"p50_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
	Goal   string  `json:"goal,omitempty"`
	Met    *bool   `json:"goal_met,omitempty"`
}

// The commands of the load, with their weights in the mix.
var loadCommands = []struct {
	name, kind string
	weight     int
	run        func(d *loadDevice, ctx context.Context) error
}{
	{"list", "metadata", 3, (*loadDevice).list},
	{"sync", "metadata", 2, (*loadDevice).sync},
	{"read", "data", 3, (*loadDevice).read},
	{"write", "data", 2, (*loadDevice).write},
}

const (
	filesPerDevice = 8 // a device writes (and overwrites) files f0…f7 in its own folder
	errorSamples   = 5
)

// RunLoad prepares a server and one organization of Users users, each with a workspace
// shared by its devices, then runs Clients devices at once for Duration, each repeating
// a random command of the mix (list or sync a folder, read a file of another device of
// its user, write a file of its own) and keeping an event stream open. It returns the
// latency of each command; failed operations are counted, not returned as an error.
func RunLoad(ctx context.Context, o LoadOptions) (*LoadResult, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	o.Users = max(1, min(o.Users, o.Clients))
	if o.Clients < 1 || o.Duration <= 0 || o.Interval <= 0 || o.FileSize < 0 {
		return nil, fmt.Errorf("invalid load: %d clients for %s, every %s", o.Clients, o.Duration, o.Interval)
	}
	dir, err := os.MkdirTemp("", "parsec-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	res := &LoadResult{Machine: machine(), Clients: o.Clients, Users: o.Users, Interval: o.Interval.Seconds(), FileSize: int64(o.FileSize)}
	srv, err := useServer(ctx, o.Logf, o.Program, dir, o.Addr, o.AdminToken, "")
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	addr, token, serverPID := srv.addr, srv.token, srv.pid
	res.Server = srv.desc
	fx := &fixture{dir: dir, serverPID: serverPID}
	if err := fx.bootstrap(ctx, addr, token); err != nil {
		return nil, err
	}
	defer fx.c.Close()
	if o.Addr != "" {
		o.Logf("Created organization %s on %s: it stays there.", fx.org, o.Addr)
	}
	spread := loopbackServer(addr)
	if spread {
		res.SourceAddresses = o.Clients
	}
	devices, err := setUpLoad(ctx, fx, o, spread)
	for _, d := range devices {
		defer d.c.Close()
	}
	if err != nil {
		return nil, err
	}

	o.Logf("Opening %d event streams…", len(devices))
	// On every return, the streams end before the devices close (deferred calls run last
	// first).
	var watching sync.WaitGroup
	defer watching.Wait()
	streams, stopStreams := context.WithCancel(ctx)
	defer stopStreams()
	for _, d := range devices {
		watching.Go(func() { d.watchErr = d.c.Watch(streams, d.event) })
	}
	for _, d := range devices {
		select {
		case <-d.connected:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Minute):
			return nil, fmt.Errorf("device %s: no event stream after a minute", d.label)
		}
	}

	o.Logf("Running %d devices of %d users for %s…", len(devices), o.Users, o.Duration)
	metricsBefore, metricsErr := scrapeLatency(ctx, http.DefaultClient, addr, token)
	stopProfile, err := startCPUProfile(o.CPUProfile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	clientCPU, serverCPU := fx.cpu()
	start := time.Now()
	deadline := start.Add(o.Duration)
	var running sync.WaitGroup
	for _, d := range devices {
		running.Go(func() { d.run(ctx, deadline, o.Interval) })
	}
	running.Wait()
	elapsed := time.Since(start)
	clientCPU2, serverCPU2 := fx.cpu()
	res.Seconds = elapsed.Seconds()
	res.ClientCPU, res.ServerCPU = (clientCPU2 - clientCPU).Seconds(), (serverCPU2 - serverCPU).Seconds()
	if serverPID != 0 {
		if v, ok := procField("/proc/"+strconv.Itoa(serverPID)+"/status", "VmHWM"); ok {
			res.ServerPeakRSS = parseKB(v)
		}
	}
	if metricsErr == nil {
		var after histograms
		if after, metricsErr = scrapeLatency(ctx, http.DefaultClient, addr, token); metricsErr == nil {
			res.ServerCommands = serverCommands(metricsBefore, after)
		}
	}
	if metricsErr != nil {
		o.Logf("The server's latency is unknown: %v", metricsErr)
	}
	stopStreams()
	watching.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.summarize(devices, elapsed)
	return res, nil
}

// loopbackServer reports whether the server at addr is on this machine's IPv4 loopback,
// where any 127.x.y.z address can be a connection's source.
func loopbackServer(addr string) bool {
	u, err := url.Parse(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}

// loopbackSource is the source address of device i: 127.1.1.1, 127.1.1.2, …
func loopbackSource(i int) net.IP {
	return net.IPv4(127, byte(1+i/(250*250)), byte(1+i/250%250), byte(1+i%250))
}

// deviceHTTPClient is the HTTP client of one simulated device: its own connections, from
// its own loopback address when spread.
func deviceHTTPClient(i int, spread bool) *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	if spread {
		d.LocalAddr = &net.TCPAddr{IP: loopbackSource(i)}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	tr.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: tr}
}
