package cli

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/bench"
)

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
			case o.Size <= 0:
				return usageError{fmt.Errorf("invalid --size %s: want at least 1 byte", o.Size)}
			case o.Files <= 0:
				return usageError{fmt.Errorf("invalid --files %d: want at least 1", o.Files)}
			case o.Addr != "" && o.AdminToken == "":
				return usageError{fmt.Errorf("--addr needs the server's administration token: --admin-token (or PARSEC_ADMIN_TOKEN)")}
			case o.Addr == "" && o.AdminToken != "":
				return usageError{fmt.Errorf("--admin-token is for a server given with --addr")}
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
	return cmd
}

// printBench writes the result as one table, each goal beside its value.
func (a *app) printBench(r *bench.Result) {
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
