// Package minio runs a real MinIO server for the tests of S3 code, started the way an
// operator would start one: `minio server DIR --address … --console-address …` with root
// credentials in MINIO_ROOT_USER and MINIO_ROOT_PASSWORD. One server serves a whole test
// binary: a package's TestMain calls Main, its tests call Shared.
//
// The binary is $PARSEC_MINIO, else minio on PATH, else minio in $(go env GOPATH)/bin
// (where `go install github.com/minio/minio@VERSION` puts it; scripts/test.sh does that).
// Without one, tests skip, or fail when PARSEC_TEST_DISALLOW_SKIP is set (in CI).
package minio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Root credentials of test servers.
const (
	AccessKey = "parsec-test"
	SecretKey = "parsec-test-secret"
)

const install = "scripts/test.sh installs it: go install github.com/minio/minio@<the version it pins>; or set PARSEC_MINIO"

// Server is a running MinIO server.
type Server struct {
	Endpoint string // http://127.0.0.1:PORT

	cmd    *exec.Cmd
	dir    string
	exited chan struct{} // closed once the process is gone
	out    lockedBuffer  // its stdout and stderr
}

var shared struct {
	mu      sync.Mutex
	started bool
	srv     *Server
	err     error
}

// Main runs the tests of a package that calls Shared, then stops the server if one was
// started. A TestMain calls os.Exit(minio.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops the test binary's MinIO server, if one was started (for a TestMain that
// cannot use Main).
func Stop() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		if err := shared.srv.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping MinIO: %v\n", err)
		}
		shared.srv = nil
	}
}

// Shared returns the test binary's MinIO server, starting it on first use (the package's
// TestMain must call Main, which stops it). Without a minio binary, it skips t, or fails
// it when PARSEC_TEST_DISALLOW_SKIP is set.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.started {
		shared.started = true
		bin, err := binary()
		if err != nil {
			shared.err = err
		} else {
			shared.srv, shared.err = start(bin)
		}
	}
	if shared.err != nil {
		if errors.Is(shared.err, errNoBinary) && os.Getenv("PARSEC_TEST_DISALLOW_SKIP") == "" {
			t.Skip(shared.err)
		}
		t.Fatal(shared.err)
	}
	return shared.srv
}

var errNoBinary = errors.New("no minio binary found (" + install + ")")

// binary finds the minio binary.
func binary() (string, error) {
	if path := os.Getenv("PARSEC_MINIO"); path != "" {
		return path, nil
	}
	if path, err := exec.LookPath("minio"); err == nil {
		return path, nil
	}
	if out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output(); err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		var dirs []string
		if len(lines) > 0 && lines[0] != "" {
			dirs = append(dirs, lines[0])
		}
		if len(lines) > 1 {
			for _, p := range filepath.SplitList(lines[1]) {
				dirs = append(dirs, filepath.Join(p, "bin"))
			}
		}
		for _, dir := range dirs {
			path := filepath.Join(dir, "minio")
			if info, err := os.Stat(path); err == nil && !info.IsDir() {
				return path, nil
			}
		}
	}
	return "", errNoBinary
}

// freePort returns a loopback port that nothing listens on at the moment.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start starts MinIO in a new temporary directory and waits until it is live. Another
// process may take one of its ports meanwhile: it tries three times.
func start(bin string) (*Server, error) {
	var err error
	for range 3 {
		var srv *Server
		if srv, err = startOnce(bin); err == nil {
			return srv, nil
		}
	}
	return nil, err
}

func startOnce(bin string) (*Server, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	console, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "parsec-minio-")
	if err != nil {
		return nil, err
	}
	s := &Server{Endpoint: "http://" + addr, dir: dir, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "server", filepath.Join(dir, "data"), "--address", addr, "--console-address", console, "--quiet")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	s.cmd.Env = append(env, "MINIO_ROOT_USER="+AccessKey, "MINIO_ROOT_PASSWORD="+SecretKey)
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	s.cmd.SysProcAttr = procAttr()
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start MinIO: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitLive(time.Minute); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitLive waits until MinIO answers its liveness probe, exits or the timeout passes.
func (s *Server) waitLive(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.Endpoint+"/minio/health/live", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("MinIO exited at start (%v):\n%s", s.cmd.ProcessState, s.out.String())
		case <-ctx.Done():
			return fmt.Errorf("MinIO not live after %v:\n%s", timeout, s.out.String())
		case <-tick.C:
		}
	}
}

// stop stops MinIO (SIGTERM, SIGKILL after 10 seconds) and removes its directory.
func (s *Server) stop() error {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	return os.RemoveAll(s.dir)
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
