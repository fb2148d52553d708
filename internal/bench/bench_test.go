package bench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRows(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name string
		got  Row
		want Row
	}{
		{"upload 100 MB in 0.25 s", throughput(100e6, 250*time.Millisecond, goalUploadMBps),
			Row{Value: 400, Unit: "MB/s", Seconds: 0.25, Bytes: 100e6, Goal: "≥ 300 MB/s", Met: &yes}},
		{"download 1 GiB in 4 s", throughput(1<<30, 4*time.Second, goalDownloadMBps),
			Row{Value: 268.435456, Unit: "MB/s", Seconds: 4, Bytes: 1 << 30, Goal: "≥ 500 MB/s", Met: &no}},
		{"exactly the goal", throughput(300e6, time.Second, goalUploadMBps),
			Row{Value: 300, Unit: "MB/s", Seconds: 1, Bytes: 300e6, Goal: "≥ 300 MB/s", Met: &yes}},
		{"10000 files in 2 s", filesRate(10000, 40960000, 2*time.Second),
			Row{Value: 5000, Unit: "files/s", Seconds: 2, Bytes: 40960000, Files: 10000, Goal: "≥ 3000 files/s", Met: &yes}},
		{"500 files in 0.25 s", filesRate(500, 2048000, 250*time.Millisecond),
			Row{Value: 2000, Unit: "files/s", Seconds: 0.25, Bytes: 2048000, Files: 500, Goal: "≥ 3000 files/s", Met: &no}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, tc.got); diff != "" {
				t.Errorf("row (-want +got):\n%s", diff)
			}
		})
	}
	if got := mib(3 << 19); got != 1.5 {
		t.Errorf("mib(1.5 MiB) = %v, want 1.5", got)
	}
}
