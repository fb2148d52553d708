package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ServerCommand is the server's own measure of one request command during a load, from
// the histogram of its /metrics: the percentiles are the upper bounds of the histogram's
// buckets (1, 4, 16, 64, 256 ms, …) that hold them, -1 above the largest.
type ServerCommand struct {
	Name    string  `json:"name"`
	Count   int64   `json:"count"`
	P50Upto float64 `json:"p50_at_most_ms"`
	P99Upto float64 `json:"p99_at_most_ms"`
}

// histograms maps a command to its cumulative bucket counts by upper bound (seconds).
type histograms map[string]map[float64]int64

// scrapeLatency reads the request latency histograms of the server's /metrics.
func scrapeLatency(ctx context.Context, hc *http.Client, addr, token string) (histograms, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(addr, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("server metrics: %s", resp.Status)
	}
	return parseLatency(resp.Body)
}

// parseLatency reads the parsec_request_duration_seconds buckets of a Prometheus text
// exposition.
func parseLatency(r io.Reader) (histograms, error) {
	const prefix = "parsec_request_duration_seconds_bucket{"
	h := histograms{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), prefix)
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(line, "} ")
		if !ok {
			continue
		}
		var cmd, le string
		for _, l := range strings.Split(labels, ",") {
			k, v, _ := strings.Cut(l, "=")
			v = strings.Trim(v, `"`)
			switch k {
			case "command":
				cmd = v
			case "le":
				le = v
			}
		}
		bound, err1 := strconv.ParseFloat(le, 64) // "+Inf" parses as infinity
		n, err2 := strconv.ParseFloat(value, 64)
		if cmd == "" || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("server metrics: malformed line %q", sc.Text())
		}
		if h[cmd] == nil {
			h[cmd] = map[float64]int64{}
		}
		h[cmd][bound] = int64(n)
	}
	return h, sc.Err()
}

// serverCommands returns, for each command that ran between two scrapes, its count and
// the bucket bounds of its 50th and 99th percentiles, busiest command first.
func serverCommands(before, after histograms) []ServerCommand {
	var out []ServerCommand
	for cmd, buckets := range after {
		bounds := make([]float64, 0, len(buckets))
		for b := range buckets {
			bounds = append(bounds, b)
		}
		slices.Sort(bounds)
		delta := func(b float64) int64 { return buckets[b] - before[cmd][b] }
		total := delta(math.Inf(1))
		if total <= 0 {
			continue
		}
		upto := func(p int64) float64 {
			for _, b := range bounds {
				if !math.IsInf(b, 1) && delta(b)*100 >= p*total {
					return b * 1000
				}
			}
			return -1
		}
		out = append(out, ServerCommand{Name: cmd, Count: total, P50Upto: upto(50), P99Upto: upto(99)})
	}
	slices.SortFunc(out, func(a, b ServerCommand) int {
		if a.Count != b.Count {
			return int(b.Count - a.Count)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}
