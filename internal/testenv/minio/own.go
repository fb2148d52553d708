package minio

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Own is a MinIO server of one test, which the test may stop and start again (at the same
// address, with the same data), to see what a server on it does while its block store is
// gone and once it is back. Most tests share the test binary's server (Shared) instead.
type Own struct {
	*Server
	t       testing.TB
	bin     string
	addr    string
	console string
}

// NewOwn starts a MinIO server for t, stopped at its end. Without a minio binary, it skips
// t, or fails it when PARSEC_TEST_DISALLOW_SKIP is set.
func NewOwn(t testing.TB) *Own {
	t.Helper()
	bin, err := binary()
	if err != nil {
		if os.Getenv("PARSEC_TEST_DISALLOW_SKIP") == "" {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	o := &Own{t: t, bin: bin, Server: &Server{dir: t.TempDir()}}
	// Another process may take one of the ports before MinIO does: try three times.
	for i := 0; ; i++ {
		if o.addr, err = freePort(); err != nil {
			t.Fatal(err)
		}
		if o.console, err = freePort(); err != nil {
			t.Fatal(err)
		}
		o.Endpoint = "http://" + o.addr
		if err = o.start(); err == nil || i == 2 {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Stop)
	return o
}

func (o *Own) start() error {
	s := o.Server
	s.exited = make(chan struct{})
	s.cmd = exec.Command(o.bin, "server", filepath.Join(s.dir, "data"), "--address", o.addr, "--console-address", o.console, "--quiet")
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
		return err
	}
	go func(cmd *exec.Cmd, exited chan struct{}) {
		cmd.Wait()
		close(exited)
	}(s.cmd, s.exited)
	if err := s.waitLive(time.Minute); err != nil {
		o.Stop()
		return err
	}
	return nil
}

// Start starts the server, stopped, at the same address, and waits until it is live.
func (o *Own) Start() {
	o.t.Helper()
	if err := o.start(); err != nil {
		o.t.Fatal(err)
	}
}

// Stop stops the server (SIGTERM, SIGKILL after 10 seconds); its data stays for Start. A
// stopped server is left as it is.
func (o *Own) Stop() {
	s := o.Server
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
	default:
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	}
	s.cmd = nil
}
