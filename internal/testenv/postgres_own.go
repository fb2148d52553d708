package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// OwnPostgres is a PostgreSQL server of one test, which the test may stop and start again
// (on the same port, with the same data), to see what a server on it does while its
// database is gone and once it is back. Most tests share the test binary's instance
// (PostgresDSN) instead, which is cheaper.
type OwnPostgres struct {
	t       testing.TB
	bin     string
	cred    *syscall.Credential
	dataDir string
	server  *postgresServer
}

// NewOwnPostgres starts a PostgreSQL server for t, stopped at its end. Without PostgreSQL the
// test is skipped, or fails when PARSEC_TEST_DISALLOW_SKIP is set.
func NewOwnPostgres(t testing.TB) *OwnPostgres {
	t.Helper()
	bin, err := postgresBin()
	if err != nil {
		if os.Getenv("PARSEC_TEST_DISALLOW_SKIP") != "" {
			t.Fatal(postgresMissing)
		}
		t.Skip(postgresMissing)
	}
	cred, err := postgresCredential()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "parsec-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	p := &OwnPostgres{t: t, bin: bin, cred: cred, dataDir: filepath.Join(dir, "data"),
		server: &postgresServer{dir: dir, port: port, log: filepath.Join(dir, "postgres.log")}}
	initdb := p.command("initdb", "-D", p.dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C",
		"--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// Give makes dir the server's, for a tablespace (CREATE TABLESPACE … LOCATION dir): owned by
// the user the server runs as, and reachable by it through its parent, which it may cross.
func (p *OwnPostgres) Give(dir string) {
	p.t.Helper()
	if p.cred == nil {
		return // the server runs as this user
	}
	if err := os.Chown(dir, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
		p.t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
		p.t.Fatal(err)
	}
}

// DSN is the connection string of the database "postgres" of the server.
func (p *OwnPostgres) DSN() string { return p.server.dsn("postgres") }

func (p *OwnPostgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.server.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGTERM}
	return cmd
}

// Start starts the server, stopped, and waits until it accepts connections.
func (p *OwnPostgres) Start() {
	p.t.Helper()
	s := p.server
	s.cmd = p.command("postgres", "-D", p.dataDir, "-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "logging_collector=off", "-c", "log_destination=stderr")
	logFile, err := os.OpenFile(s.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	defer logFile.Close()
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		p.t.Fatalf("start postgres: %v", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		cmd.Wait()
		close(done)
	}(s.cmd, s.done)
	if err := s.waitReady(time.Minute); err != nil {
		p.t.Fatal(err)
	}
}

// Pause stops the server and every process of it (SIGSTOP) without closing anything: it
// takes connections and requests and answers none, as a server hung or behind a network
// that drops packets, until Resume.
func (p *OwnPostgres) Pause() { p.signalAll(syscall.SIGSTOP) }

// Resume lets a paused server go on.
func (p *OwnPostgres) Resume() { p.signalAll(syscall.SIGCONT) }

// signalAll signals the server's main process, then each of its children (each backend is
// a process group of its own), found in /proc.
func (p *OwnPostgres) signalAll(sig syscall.Signal) {
	p.t.Helper()
	s := p.server
	if s.cmd == nil {
		return
	}
	main := s.cmd.Process.Pid
	if err := syscall.Kill(main, sig); err != nil {
		p.t.Fatalf("signal %v to postgres: %v", sig, err)
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, stat := range stats {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue // exited meanwhile
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses, so after the last ')'.
		fields := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(main) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(stat)))
			syscall.Kill(pid, sig)
		}
	}
}

// Stop stops the server (a fast shutdown: transactions are rolled back, clients
// disconnected) and waits for it to exit; its data stays for Start. A stopped server is
// left as it is.
func (p *OwnPostgres) Stop() {
	s := p.server
	if s.cmd == nil {
		return
	}
	select {
	case <-s.done:
	default:
		p.signalAll(syscall.SIGCONT) // if paused
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.done
		}
	}
	s.cmd = nil
}
