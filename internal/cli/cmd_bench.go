package cli

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/bench"
	"github.com/parsec-go/parsec/internal/manifest"
)

// maxLoadFileSize bounds bench load's --file-size: each of its devices holds the file it
// writes in memory.
const maxLoadFileSize = 16 << 20

func (a *app) benchCmd() *cobra.Command {
	o := bench.Options{Size: 1 << 30, Files: 10000, FileSize: 4 << 10, Logf: a.say}
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
files were created: no download of them can be faster. The "memory" line says how much
system time writing the large source file took per GiB: fresh page-cache memory is not always
cheap (on a virtual machine, memory given back to the host costs a fault per page when used
again), and each large upload pays it again on the server, often more than the source did
(memory freed just before the run is reused first, and is cheap). A download writes its
files through a window of 40 MiB that goes to the disk as it is written, reusing its memory.

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
			case o.Size <= 0:
				return usageError{fmt.Errorf("invalid --size %s: want at least 1 byte", o.Size)}
			case o.Files <= 0:
				return usageError{fmt.Errorf("invalid --files %d: want at least 1", o.Files)}
			}
			if err := checkBenchServer(o.Addr, o.AdminToken); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := bench.Run(ctx, o)
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
	f.StringVarP(&o.Addr, "addr", "a", "", "use this server (http(s)://host:port) instead of starting one")
	f.StringVarP(&o.AdminToken, "admin-token", "t", "", "administration token of the server given with --addr")
	f.Var(&o.Size, "size", "size of the large file (with a unit: KiB, MiB, GiB, or kB, MB, GB)")
	f.IntVar(&o.Files, "files", o.Files, "number of small files")
	f.Var(&o.FileSize, "file-size", "size of each small file")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the client during the timed steps to this file (samples labelled step=…: go tool pprof -tagfocus)")
	f.StringVar(&o.ServerCPUProfile, "server-cpuprofile", "", "write a CPU profile of the server the bench starts (its whole run) to this file")
	f.BoolVar(&a.json, "json", false, "print the results as JSON")
	cmd.AddCommand(a.benchLoadCmd())
	return cmd
}

// printMachine writes the machine's line, with the cipher its blocks are sealed with.
func (a *app) printMachine(m bench.Machine) {
	cipher := "XChaCha20-Poly1305 (no AES instructions)"
	if m.BlockCipher == manifest.CipherAES256GCM {
		cipher = "AES-256-GCM"
	}
	a.out("machine: %s, %d CPUs, GOMAXPROCS %d, %d MiB RAM, %s %s/%s, load average %s at start; blocks sealed with %s", m.CPU, m.NumCPU, m.GOMAXPROCS, m.MemoryMiB, m.Go, m.OS, m.Arch, m.Load, cipher)
}

// printBench writes the result as one table, each goal beside its value.
func (a *app) printBench(r *bench.Result) {
	a.printMachine(r.Machine)
	a.out("server:  %s", r.Server)
	a.out("disk:    the small source files were created at %.0f files/s (local writes only, a bound for the downloads)", r.LocalFilesPerSec)
	a.out("memory:  writing the large source file took %.2f s of system time per GiB (the page cache; each large upload pays it again on the server)", r.LocalWriteSystemPerGiB)
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
		if row.ClientCPU != nil {
			cpu = strconv.FormatFloat(*row.ClientCPU, 'f', 2, 64) + " s"
			if row.ServerCPU != nil {
				cpu += " + " + strconv.FormatFloat(*row.ServerCPU, 'f', 2, 64) + " s"
			}
		}
		table = append(table, []string{row.Name, value, row.Unit, secs, cpu, row.Goal, status})
	}
	a.printTable(table, []bool{false, true, false, true, true, false, false})
	if r.MemoryIncludesSetup {
		a.out("(the peak memory includes the set-up: the peak resident set could not be reset on this system)")
	}
}

func (a *app) benchLoadCmd() *cobra.Command {
	o := bench.LoadOptions{Clients: 200, Users: 10, Duration: 30 * time.Second, Interval: time.Second, FileSize: 4 << 10, Logf: a.say}
	cmd := &cobra.Command{
		Annotations: map[string]string{noMemLimit: "yes"},
		Use:         "load",
		Short:       "Run many simulated devices against one server and measure each command's latency",
		Long: `Run --clients simulated devices of --users users against one server at once, for
--duration. Each device has its own local cache, its own connections and an event stream
open all along, and repeats, after a random pause of --interval on average, one command
of a mix: list a folder (after receiving the workspace's changes), sync, read a file of
another device of its user, write one of its own files (--file-size) and send it. Each
user has one workspace, which all its devices use. Prints, for each command, how many ran,
how many failed, how many per second, and the 50th and 99th percentiles and the maximum of
its latency; the "event" row is the delay between a write starting to send its
manifests and its event reaching each of the user's other devices, its errors the event
streams that dropped. Any failure
makes the command exit non-zero after the table.

The organization, users and devices are created through the client library: each user by
a real invitation (one password key derivation each), the devices by their user's first
device, kept in memory (no device file, no key derivation).

Unless --addr is given, a server is started as a separate process (this program's
"server run", default limits) on a free 127.0.0.1 port. When the server is on the IPv4
loopback, each device connects from its own address (127.1.1.1, 127.1.1.2, …), so that
the server's per-address limits apply to each device as to a real one; against another
server all devices share this machine's address: start that server with
--max-requests-per-addr -1 --max-conns-per-addr -1 (or limits above twice the number of
devices), or its limits refuse them.`,
		Example: `  parsec bench load
  parsec bench load --clients 20 --users 4 --duration 10s --json
  parsec bench load --addr http://127.0.0.1:6777 --admin-token parsec-dev-admin-token`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case o.Clients <= 0:
				return usageError{fmt.Errorf("invalid --clients %d: want at least 1", o.Clients)}
			case o.Users <= 0:
				return usageError{fmt.Errorf("invalid --users %d: want at least 1", o.Users)}
			case o.Duration <= 0:
				return usageError{fmt.Errorf("invalid --duration %s: want more than 0", o.Duration)}
			case o.Interval <= 0:
				return usageError{fmt.Errorf("invalid --interval %s: want more than 0", o.Interval)}
			case o.FileSize < 0 || o.FileSize > maxLoadFileSize:
				// Each device holds the file it writes in memory.
				return usageError{fmt.Errorf("invalid --file-size %s: want at most %s", o.FileSize, bench.Size(maxLoadFileSize))}
			}
			if err := checkBenchServer(o.Addr, o.AdminToken); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			res, err := bench.RunLoad(ctx, o)
			if err != nil {
				return err
			}
			if a.json {
				err = a.printJSON(res)
			} else {
				a.printLoad(res)
			}
			if err == nil && res.Errors > 0 {
				err = fmt.Errorf("%d operations or event streams failed under load", res.Errors)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Addr, "addr", "a", "", "use this server (http(s)://host:port) instead of starting one")
	f.StringVarP(&o.AdminToken, "admin-token", "t", "", "administration token of the server given with --addr")
	f.IntVar(&o.Clients, "clients", o.Clients, "number of simulated devices")
	f.IntVar(&o.Users, "users", o.Users, "number of users the devices belong to (at most --clients)")
	f.DurationVar(&o.Duration, "duration", o.Duration, "how long the devices start commands")
	f.DurationVar(&o.Interval, "interval", o.Interval, "mean pause between two commands of one device")
	f.Var(&o.FileSize, "file-size", "size of each file written")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the devices (this process) while they run to this file")
	f.BoolVar(&a.json, "json", false, "print the results as JSON")
	return cmd
}

// printLoad writes the load's result as one table, one row per command.
func (a *app) printLoad(r *bench.LoadResult) {
	a.printMachine(r.Machine)
	a.out("server:  %s", r.Server)
	from := "this machine's address"
	if r.SourceAddresses > 0 {
		from = fmt.Sprintf("%d loopback addresses", r.SourceAddresses)
	}
	a.out("load:    %d devices of %d users, from %s, one command every %.3g s per device on average, files of %s, %.1f s",
		r.Clients, r.Users, from, r.Interval, bench.Size(r.FileSize), r.Seconds)
	cpu := fmt.Sprintf("cpu:     %.1f s in the devices (this process)", r.ClientCPU)
	if r.ServerCPU > 0 {
		cpu += fmt.Sprintf(", %.1f s in the server", r.ServerCPU)
	}
	if r.ServerPeakRSS > 0 {
		cpu += fmt.Sprintf("; server peak memory %.0f MiB", float64(r.ServerPeakRSS)/(1<<20))
	}
	a.out("%s", cpu)
	a.out("")
	ms := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " ms" }
	table := [][]string{{"command", "kind", "count", "errors", "per s", "p50", "p99", "max", "goal", ""}}
	for _, c := range r.Commands {
		status := ""
		if c.Met != nil {
			status = map[bool]string{true: "ok", false: "MISSED"}[*c.Met]
		}
		table = append(table, []string{c.Name, c.Kind, strconv.Itoa(c.Count), strconv.Itoa(c.Errors),
			strconv.FormatFloat(c.PerSec, 'f', 1, 64), ms(c.P50), ms(c.P99), ms(c.Max), c.Goal, status})
	}
	a.printTable(table, []bool{false, false, true, true, true, true, true, true, false, false})
	if len(r.ServerCommands) > 0 {
		a.out("")
		a.out("in the server (its /metrics; each percentile is the bound of the histogram bucket that holds it):")
		upto := func(v float64) string {
			if v < 0 {
				return "more"
			}
			return "≤ " + strconv.FormatFloat(v, 'f', -1, 64) + " ms"
		}
		table := [][]string{{"request", "count", "p50", "p99"}}
		for _, c := range r.ServerCommands {
			table = append(table, []string{c.Name, strconv.FormatInt(c.Count, 10), upto(c.P50Upto), upto(c.P99Upto)})
		}
		a.printTable(table, []bool{false, true, true, true})
	}
	for _, e := range r.ErrorSamples {
		a.out("error: %s", e)
	}
}

// printTable writes rows of cells in aligned columns.
func (a *app) printTable(table [][]string, rightAligned []bool) {
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
}

// checkBenchServer checks that --addr and --admin-token come together: a bench against
// another server creates its organization with that server's administration token.
func checkBenchServer(addr, adminToken string) error {
	switch {
	case addr != "" && adminToken == "":
		return usageError{fmt.Errorf("--addr needs the server's administration token: --admin-token (or PARSEC_ADMIN_TOKEN)")}
	case addr == "" && adminToken != "":
		return usageError{fmt.Errorf("--admin-token is for a server given with --addr")}
	}
	return nil
}
