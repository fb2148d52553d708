package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parsec-go/parsec/internal/manifest"
)

// machine describes this computer.
func machine() Machine {
	m := Machine{CPU: runtime.GOARCH, NumCPU: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, BlockCipher: manifest.BlockCipher()}
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
func (fx *fixture) cpu() (client, server time.Duration) {
	client = procCPU("self")
	if fx.serverPID != 0 {
		server = procCPU(strconv.Itoa(fx.serverPID))
	}
	return client, server
}

// cpuSpent is the CPU time used by this process and by the server process between two
// calls of cpu, in seconds, each nil when it cannot be read.
func (fx *fixture) cpuSpent(client1, client2, server1, server2 time.Duration) (client, server *float64) {
	seconds := func(pid string, d time.Duration) *float64 {
		if _, err := os.Stat("/proc/" + pid + "/stat"); err != nil {
			return nil
		}
		s := d.Seconds()
		return &s
	}
	client = seconds("self", client2-client1)
	if fx.serverPID != 0 {
		server = seconds(strconv.Itoa(fx.serverPID), server2-server1)
	}
	return client, server
}

// procCPU returns the user and system CPU time of a process (pid, or "self"), zero when
// unknown.
func procCPU(pid string) time.Duration {
	user, system := procTimes(pid)
	return user + system
}

// procTimes returns the user and the system CPU time of a process (pid, or "self"), zero
// when unknown.
func procTimes(pid string) (user, system time.Duration) {
	stat, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0
	}
	return statTimes(stat)
}

// statCPU is the user plus system CPU time in the content of a /proc/PID/stat file.
func statCPU(stat []byte) time.Duration {
	user, system := statTimes(stat)
	return user + system
}

// statTimes reads the user and the system CPU time in the content of a /proc/PID/stat file:
// fields 14 and 15, in clock ticks (100 per second on Linux). Both are zero when they cannot
// be read.
func statTimes(stat []byte) (user, system time.Duration) {
	_, after, _ := bytes.Cut(stat, []byte(") ")) // the command name may hold spaces
	f := strings.Fields(string(after))
	if len(f) < 13 {
		return 0, 0
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0
	}
	const tick = time.Second / 100
	return time.Duration(u) * tick, time.Duration(s) * tick
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
