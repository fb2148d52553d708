package bench

import (
	"fmt"
	"slices"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
)

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
