package bench

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
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
	addr, token := o.Addr, o.AdminToken
	serverPID := 0
	if addr == "" {
		o.Logf("Starting a server in %s…", dir)
		srv, err := startServer(ctx, o.Program, filepath.Join(dir, "server"))
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
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
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

// loadUser is one user of the load: a device that sets it up, and its workspace.
type loadUser struct {
	c  *client.Client
	ws parsec.VlobID
}

// setUpLoad creates the users (the organization's first one and Users-1 invited ones),
// one workspace each, then the devices, and seeds every device's folder with its files;
// it returns the devices, opened and synced. Devices opened before a failure are
// returned too, for the caller to close.
func setUpLoad(ctx context.Context, fx *fixture, o LoadOptions, spread bool) ([]*loadDevice, error) {
	users := []loadUser{{c: fx.c, ws: fx.ws.ID()}}
	if o.Users > 1 {
		o.Logf("Inviting %d users…", o.Users-1)
	}
	for u := 1; u < o.Users; u++ {
		c, err := fx.join(ctx, u)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		ws, err := c.CreateWorkspace(ctx, fmt.Sprintf("load %d", u))
		if err != nil {
			return nil, fmt.Errorf("user %d: create workspace: %w", u, err)
		}
		users = append(users, loadUser{c: c, ws: ws})
	}

	o.Logf("Creating %d devices and their files…", o.Clients)
	var seed [32]byte
	crand.Read(seed[:])
	devices := make([]*loadDevice, o.Clients)
	locals := make([]*device.Local, o.Clients)
	for i := range devices {
		u := users[i%len(users)]
		label := fmt.Sprintf("load-%03d", i)
		dev, err := u.c.NewOwnDevice(ctx, label, false)
		if err != nil {
			return nil, fmt.Errorf("create device %s: %w", label, err)
		}
		locals[i] = dev
		seed[0], seed[1] = byte(i), byte(i>>8) // one random sequence per device
		devices[i] = &loadDevice{index: i, label: label, user: i % len(users), connected: make(chan struct{}),
			rng: mrand.New(mrand.NewChaCha8(seed)), fileSize: int(o.FileSize)}
	}
	for ui, u := range users {
		ws, err := u.c.Workspace(ctx, u.ws)
		if err != nil {
			return nil, err
		}
		var files []client.FileSource
		for _, d := range devices {
			if d.user == ui {
				for f := range filesPerDevice {
					files = append(files, d.source(d.filePath(f)))
				}
			}
		}
		if err := ws.WriteFiles(ctx, files, nil); err != nil {
			return nil, fmt.Errorf("user %d: write the devices' files: %w", ui, err)
		}
		if err := ws.Push(ctx); err != nil {
			return nil, fmt.Errorf("user %d: send the devices' files: %w", ui, err)
		}
	}

	o.Logf("Opening %d devices…", o.Clients)
	var g errgroup.Group
	g.SetLimit(4)
	var mu sync.Mutex
	var opened []*loadDevice
	for i, d := range devices {
		g.Go(func() error {
			c, err := client.Open(ctx, fx.path("devices", d.label), locals[i], client.Options{HTTPClient: deviceHTTPClient(i, spread)})
			if err != nil {
				return fmt.Errorf("device %s: %w", d.label, err)
			}
			d.c = c
			mu.Lock()
			opened = append(opened, d)
			mu.Unlock()
			if _, err := c.PollCertificates(ctx); err != nil {
				return fmt.Errorf("device %s: %w", d.label, err)
			}
			if d.ws, err = c.Workspace(ctx, users[d.user].ws); err == nil {
				err = d.ws.Pull(ctx)
			}
			if err != nil {
				return fmt.Errorf("device %s: open its workspace: %w", d.label, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return opened, err
	}
	for _, d := range devices {
		for _, o := range devices {
			if o.user == d.user {
				d.peers = append(d.peers, o.index)
			}
		}
	}
	return devices, nil
}

// join invites user number u (a Member) and runs both sides of the invitation in this
// process, the organization's first device greeting; it returns the new user's client.
func (fx *fixture) join(ctx context.Context, u int) (*client.Client, error) {
	email := fmt.Sprintf("load%d@example.com", u)
	inv, err := fx.c.InviteUser(ctx, email, false)
	if err != nil {
		return nil, fmt.Errorf("invite %s: %w", email, err)
	}
	handle, err := parsec.NewHumanHandle(email, fmt.Sprintf("Load User %d", u))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	greeterCode, claimerCode := make(chan crypto.SASCode, 1), make(chan crypto.SASCode, 1)
	greeted := make(chan error, 1)
	go func() {
		greeted <- func() error {
			g, err := fx.c.Greet(ctx, inv.Token)
			if err != nil {
				return err
			}
			greeterCode <- g.Code()
			if err := g.WaitClaimerTrust(ctx); err != nil {
				return err
			}
			select {
			case code := <-claimerCode:
				if err := g.ConfirmClaimerCode(ctx, code); err != nil {
					return err
				}
			case <-ctx.Done():
				return ctx.Err()
			}
			req, err := g.Request(ctx)
			if err != nil {
				return err
			}
			_, err = g.CreateUser(ctx, req.HumanHandle, req.DeviceLabel, parsec.ProfileStandard)
			return err
		}()
	}()
	dev, err := func() (*device.Local, error) {
		cl, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{})
		if err != nil {
			return nil, err
		}
		if err := cl.Start(ctx); err != nil {
			return nil, err
		}
		select {
		case code := <-greeterCode:
			if err := cl.ConfirmGreeterCode(ctx, code); err != nil {
				return nil, err
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		claimerCode <- cl.Code()
		if err := cl.WaitGreeterTrust(ctx); err != nil {
			return nil, err
		}
		return cl.Finish(ctx, fx.path("users", strconv.Itoa(u)), handle, "setup", []byte(randomHex(16)))
	}()
	if err != nil {
		cancel()
		if gerr := <-greeted; gerr != nil {
			err = fmt.Errorf("%w (greeter: %v)", err, gerr)
		}
		return nil, fmt.Errorf("%s joining: %w", email, err)
	}
	if err := <-greeted; err != nil {
		return nil, fmt.Errorf("greeting %s: %w", email, err)
	}
	c, err := client.Open(ctx, fx.path("users", strconv.Itoa(u)), dev, client.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := c.PollCertificates(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// loadDevice is one simulated device: it runs its commands one after another, and
// records what it measured for the summary, which reads it once the device stopped.
type loadDevice struct {
	index    int
	label    string
	user     int
	peers    []int // the devices of the same user, this one included
	c        *client.Client
	ws       *client.Workspace
	rng      *mrand.Rand
	fileSize int

	samples []sample
	errs    []string
	written []written // the files this device wrote, with when the write ended

	connected chan struct{} // closed at the first connection of the event stream
	events    []received    // written by the event stream's goroutine
	streams   int           // (re)connections of the event stream
	watchErr  error
}

type sample struct {
	cmd int // index in loadCommands
	d   time.Duration
	err bool
}

type written struct {
	vlob    parsec.VlobID
	version uint64
	at      time.Time // when the push started
}

type received struct {
	vlob    parsec.VlobID
	version uint64
	at      time.Time
}

func (d *loadDevice) folder(index int) string { return fmt.Sprintf("/d%03d", index) }

func (d *loadDevice) filePath(f int) string { return fmt.Sprintf("%s/f%d.bin", d.folder(d.index), f) }

// source is a new random content for a file of this device.
func (d *loadDevice) source(p string) client.FileSource {
	data := make([]byte, d.fileSize)
	for i := 0; i < len(data); i += 8 {
		v := d.rng.Uint64()
		for j := 0; j < 8 && i+j < len(data); j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	return client.FileSource{Path: p, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// run starts commands until the deadline, pausing between them.
func (d *loadDevice) run(ctx context.Context, deadline time.Time, interval time.Duration) {
	total := 0
	for _, c := range loadCommands {
		total += c.weight
	}
	for {
		pause := time.Duration(d.rng.ExpFloat64() * float64(interval))
		if time.Now().Add(pause).After(deadline) {
			return
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return
		}
		pick := d.rng.IntN(total)
		cmd := 0
		for pick >= loadCommands[cmd].weight {
			pick -= loadCommands[cmd].weight
			cmd++
		}
		start := time.Now()
		err := loadCommands[cmd].run(d, ctx)
		d.samples = append(d.samples, sample{cmd: cmd, d: time.Since(start), err: err != nil})
		if err != nil && ctx.Err() == nil {
			d.errs = append(d.errs, fmt.Sprintf("%s on %s: %v", loadCommands[cmd].name, d.label, err))
		}
	}
}

// peer is a device of the same user, picked at random (possibly this one).
func (d *loadDevice) peer() int { return d.peers[d.rng.IntN(len(d.peers))] }

// list lists the folder of a device of the same user, as `parsec ls` does: the
// workspace's changes first.
func (d *loadDevice) list(ctx context.Context) error {
	entries, err := d.ws.ListAt(ctx, d.folder(d.peer()), 0)
	if err == nil && len(entries) != filesPerDevice {
		err = fmt.Errorf("listed %d files, want %d", len(entries), filesPerDevice)
	}
	return err
}

func (d *loadDevice) sync(ctx context.Context) error { return d.ws.Sync(ctx) }

// read reads a file of a device of the same user, as this device last saw it.
func (d *loadDevice) read(ctx context.Context) error {
	p := fmt.Sprintf("%s/f%d.bin", d.folder(d.peer()), d.rng.IntN(filesPerDevice))
	n := &countWriter{}
	if err := d.ws.ReadFile(ctx, p, n); err != nil {
		return err
	}
	if n.n != int64(d.fileSize) {
		return fmt.Errorf("read %d bytes of %s, want %d", n.n, p, d.fileSize)
	}
	return nil
}

// write replaces one of this device's files and sends it, as `parsec cp` does.
func (d *loadDevice) write(ctx context.Context) error {
	f := d.rng.IntN(filesPerDevice)
	p := d.filePath(f)
	if err := d.ws.WriteFiles(ctx, []client.FileSource{d.source(p)}, nil); err != nil {
		return err
	}
	sent := time.Now()
	if err := d.ws.Push(ctx); err != nil {
		return err
	}
	entries, err := d.ws.List(d.folder(d.index))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Path == p {
			d.written = append(d.written, written{vlob: e.ID, version: e.Version, at: sent})
		}
	}
	return nil
}

// event hears the device's event stream: a zero change after each (re)connection, since
// no certificate changes during the load.
func (d *loadDevice) event(ch client.Change) {
	switch {
	case ch == client.Change{}:
		if d.streams++; d.streams == 1 {
			close(d.connected)
		}
	case !ch.Vlob.IsZero():
		d.events = append(d.events, received{vlob: ch.Vlob, version: ch.Version, at: time.Now()})
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// summarize makes the rows of the result from what the devices recorded.
func (r *LoadResult) summarize(devices []*loadDevice, elapsed time.Duration) {
	perCmd := make([][]time.Duration, len(loadCommands))
	errs := make([]int, len(loadCommands))
	var all []time.Duration
	allErrs := 0
	seen := map[string]bool{}
	sampleErr := func(msg string) {
		if len(r.ErrorSamples) < errorSamples && !seen[msg] {
			seen[msg] = true
			r.ErrorSamples = append(r.ErrorSamples, msg)
		}
	}
	for _, d := range devices {
		for _, s := range d.samples {
			perCmd[s.cmd] = append(perCmd[s.cmd], s.d)
			all = append(all, s.d)
			if s.err {
				errs[s.cmd]++
				allErrs++
			}
		}
		for _, e := range d.errs {
			sampleErr(e)
		}
	}
	for i, c := range loadCommands {
		row := latencyRow(c.name, c.kind, perCmd[i], errs[i], elapsed)
		if c.kind == "metadata" {
			met := row.Count > 0 && time.Duration(row.P99*float64(time.Millisecond)) < goalMetadataP99
			row.Goal, row.Met = fmt.Sprintf("p99 < %d ms", goalMetadataP99.Milliseconds()), &met
		}
		r.Commands = append(r.Commands, row)
	}

	// Event deliveries: from the moment a write starts sending its manifests (its blocks
	// are on the server then) to the arrival of its event at each other device of the
	// user.
	type key struct {
		vlob    parsec.VlobID
		version uint64
	}
	writes := map[key]struct {
		by int
		at time.Time
	}{}
	for _, d := range devices {
		for _, w := range d.written {
			writes[key{w.vlob, w.version}] = struct {
				by int
				at time.Time
			}{d.index, w.at}
		}
	}
	var delays []time.Duration
	streamErrs := 0
	for _, d := range devices {
		for _, e := range d.events {
			if w, ok := writes[key{e.vlob, e.version}]; ok && w.by != d.index {
				delays = append(delays, e.at.Sub(w.at))
			}
		}
		if d.streams > 1 {
			streamErrs += d.streams - 1
			sampleErr(fmt.Sprintf("event stream of %s: reconnected %d times", d.label, d.streams-1))
		}
		if d.watchErr != nil {
			streamErrs++
			sampleErr(fmt.Sprintf("event stream of %s: %v", d.label, d.watchErr))
		}
	}
	r.Commands = append(r.Commands, latencyRow("event", "event", delays, streamErrs, elapsed))
	r.Commands = append(r.Commands, latencyRow("all commands", "total", all, allErrs, elapsed))
	r.Errors = allErrs + streamErrs
}

// latencyRow summarizes durations: count, rate, 50th and 99th percentiles, maximum.
func latencyRow(name, kind string, ds []time.Duration, errs int, elapsed time.Duration) CommandStats {
	row := CommandStats{Name: name, Kind: kind, Count: len(ds), Errors: errs, PerSec: float64(len(ds)) / elapsed.Seconds()}
	if len(ds) == 0 {
		return row
	}
	ds = slices.Clone(ds)
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	row.P50, row.P99, row.Max = ms(percentile(ds, 50)), ms(percentile(ds, 99)), ms(ds[len(ds)-1])
	return row
}

// percentile is the nearest-rank p-th percentile of sorted durations: the smallest one
// that at least p% of them do not exceed.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

func parseKB(v string) int64 {
	var kb int64
	if _, err := fmt.Sscanf(v, "%d kB", &kb); err != nil {
		return 0
	}
	return kb << 10
}
