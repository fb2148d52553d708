package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	serverWait   = 30 * time.Second
	serverLogMax = 20 // lines of the server's log kept to explain a failure
)

// serverProcess is a server process started by the bench.
type serverProcess struct {
	url    string
	token  string
	cmd    *exec.Cmd
	exited chan struct{}
	log    *serverLog
}

// startServer runs program's "server run" (this process's executable when program is
// empty) with its data in dir, on a free loopback port, and waits until it answers. With
// cpuProfile set, the server writes a CPU profile there when it stops.
func startServer(ctx context.Context, program, dir, cpuProfile string) (*serverProcess, error) {
	exe := program
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("cannot start a server: %w", err)
		}
	}
	s := &serverProcess{token: randomHex(16), exited: make(chan struct{}), log: &serverLog{ready: make(chan string, 1)}}
	s.cmd = exec.Command(exe, "server", "run", "--addr", "127.0.0.1:0", "--data-dir", dir,
		"--db", "sqlite:"+filepath.Join(dir, "metadata.db"), "--blockstore", "disk:"+filepath.Join(dir, "blocks"),
		"--log-format", "json", "--log-level", "info")
	if cpuProfile != "" {
		s.cmd.Args = append(s.cmd.Args, "--cpuprofile", cpuProfile)
	}
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
	timeout := time.NewTimer(serverWait)
	defer timeout.Stop()
	select {
	case s.url = <-s.log.ready:
	case <-s.exited:
		return nil, fmt.Errorf("the server stopped at once: %s", s.log.tail())
	case <-timeout.C:
		s.stop()
		return nil, fmt.Errorf("the server did not start in %s: %s", serverWait, s.log.tail())
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
func (s *serverProcess) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
}

func waitHealthy(ctx context.Context, url string, exited <-chan struct{}) error {
	deadline := time.Now().Add(serverWait)
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
			return fmt.Errorf("the server at %s is not healthy after %s", url, serverWait)
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
		if len(l.lines) > serverLogMax {
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

// target is the server a bench runs against: the one given, or one it started.
type target struct {
	addr, token string
	pid         int    // the started server's process, 0 for a given server
	desc        string // what the results say of it
	stop        func()
}

// useServer starts a server in dir (with a CPU profile when cpuProfile is set) unless addr
// names one, whose administration token is token.
func useServer(ctx context.Context, logf func(string, ...any), program, dir, addr, token, cpuProfile string) (target, error) {
	if addr != "" {
		return target{addr: addr, token: token, desc: addr, stop: func() {}}, nil
	}
	logf("Starting a server in %s…", dir)
	srv, err := startServer(ctx, program, filepath.Join(dir, "server"), cpuProfile)
	if err != nil {
		return target{}, err
	}
	return target{addr: srv.url, token: srv.token, pid: srv.cmd.Process.Pid, stop: srv.stop,
		desc: srv.url + ", a separate process started by the bench, data under " + os.TempDir()}, nil
}
