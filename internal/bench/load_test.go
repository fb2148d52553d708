package bench

import (
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/testenv"
)

// TestRunLoad runs a few devices of two users for a short time against an in-process test
// server, and checks that every command ran, with no error, and that the writes' events
// reached the other devices.
func TestRunLoad(t *testing.T) {
	srv := testenv.NewServer(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	res, err := RunLoad(t.Context(), LoadOptions{
		Addr: srv.URL, AdminToken: testenv.AdminToken,
		Clients: 5, Users: 2, Duration: 2 * time.Second, Interval: 20 * time.Millisecond, FileSize: 1000,
	})
	if err != nil {
		t.Fatalf("RunLoad: %v", err)
	}
	if res.Errors != 0 || len(res.ErrorSamples) != 0 {
		t.Errorf("%d errors: %q", res.Errors, res.ErrorSamples)
	}
	if res.Clients != 5 || res.Users != 2 || res.SourceAddresses != 5 || res.Seconds < 1.5 {
		t.Errorf("result %+v, want 5 clients of 2 users from 5 addresses, for about 2 s", res)
	}
	var names []string
	total := 0
	for _, c := range res.Commands {
		names = append(names, c.Name)
		if c.Count == 0 || c.Errors != 0 || c.PerSec <= 0 || c.P50 > c.P99 || c.P99 > c.Max || c.Max <= 0 {
			t.Errorf("row %+v: want operations, no error, p50 ≤ p99 ≤ max", c)
		}
		if (c.Kind == "metadata") != (c.Met != nil) {
			t.Errorf("row %q: goal %v, want one for metadata commands only", c.Name, c.Met)
		}
		if c.Kind != "event" && c.Kind != "total" {
			total += c.Count
		}
	}
	if diff := cmp.Diff([]string{"list", "sync", "read", "write", "event", "all commands"}, names); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	if last := res.Commands[len(res.Commands)-1]; last.Count != total {
		t.Errorf("all commands: %d, want the sum of the commands, %d", last.Count, total)
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
		t.Errorf("the temporary directory holds %d entries after RunLoad (%v), want none", len(left), err)
	}
}

// The devices of a load connect from their own loopback addresses when the server is on
// the IPv4 loopback.
func TestLoopbackSources(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"http://127.0.0.1:6777", true},
		{"https://127.0.0.1", true},
		{"http://[::1]:6777", false},
		{"http://localhost:6777", false},
		{"http://192.0.2.1:6777", false},
		{"://", false},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			if got := loopbackServer(tc.addr); got != tc.want {
				t.Errorf("loopbackServer(%q) = %v, want %v", tc.addr, got, tc.want)
			}
		})
	}
	seen := map[string]bool{}
	for i := range 70_000 {
		ip := loopbackSource(i)
		if !ip.IsLoopback() || seen[ip.String()] || strings.HasSuffix(ip.String(), ".0") {
			t.Fatalf("loopbackSource(%d) = %s: want a new loopback address, not ending in .0", i, ip)
		}
		seen[ip.String()] = true
	}
	if got, want := loopbackSource(0), net.IPv4(127, 1, 1, 1); !got.Equal(want) {
		t.Errorf("loopbackSource(0) = %s, want %s", got, want)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var ds []time.Duration
		for _, x := range v {
			ds = append(ds, time.Duration(x)*time.Millisecond)
		}
		return ds
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      int
		want   time.Duration
	}{
		{"one", ms(7), 99, 7 * time.Millisecond},
		{"median of 4", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100", ms(hundred...), 99, 99 * time.Millisecond},
		{"p50 of 100", ms(hundred...), 50, 50 * time.Millisecond},
		{"p99 of 10", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("percentile(%v, %d) = %v, want %v", tc.sorted, tc.p, got, tc.want)
			}
		})
	}
}

func TestServerCommands(t *testing.T) {
	exposition := func(counts ...string) string {
		return `# HELP parsec_request_duration_seconds Time to serve a request.
# TYPE parsec_request_duration_seconds histogram
parsec_request_duration_seconds_bucket{command="vlob_poll_changes",le="0.001"} ` + counts[0] + `
parsec_request_duration_seconds_bucket{command="vlob_poll_changes",le="0.004"} ` + counts[1] + `
parsec_request_duration_seconds_bucket{command="vlob_poll_changes",le="0.016"} ` + counts[2] + `
parsec_request_duration_seconds_bucket{command="vlob_poll_changes",le="+Inf"} ` + counts[3] + `
parsec_request_duration_seconds_sum{command="vlob_poll_changes"} 1.5
parsec_request_duration_seconds_count{command="vlob_poll_changes"} ` + counts[3] + `
parsec_request_duration_seconds_bucket{command="block_read",le="0.001"} 0
parsec_request_duration_seconds_bucket{command="block_read",le="+Inf"} 3
parsec_requests_total{command="block_read",status="ok"} 3
`
	}
	before, err := parseLatency(strings.NewReader(exposition("10", "10", "10", "10")))
	if err != nil {
		t.Fatal(err)
	}
	// 200 more: 60 under 1 ms, 139 more under 4 ms, 1 under 16 ms.
	after, err := parseLatency(strings.NewReader(exposition("70", "209", "210", "210")))
	if err != nil {
		t.Fatal(err)
	}
	want := []ServerCommand{{Name: "vlob_poll_changes", Count: 200, P50Upto: 4, P99Upto: 4}}
	if diff := cmp.Diff(want, serverCommands(before, after)); diff != "" {
		t.Errorf("serverCommands (-want +got):\n%s", diff)
	}
	// A command new since the first scrape counts whole; one above every bound says so.
	want = []ServerCommand{{Name: "vlob_poll_changes", Count: 210, P50Upto: 4, P99Upto: 4}, {Name: "block_read", Count: 3, P50Upto: -1, P99Upto: -1}}
	if diff := cmp.Diff(want, serverCommands(histograms{}, after)); diff != "" {
		t.Errorf("serverCommands from nothing (-want +got):\n%s", diff)
	}
	if _, err := parseLatency(strings.NewReader(`parsec_request_duration_seconds_bucket{command="x",le="soon"} 1` + "\n")); err == nil {
		t.Error("parseLatency accepted a malformed bound")
	}
}
