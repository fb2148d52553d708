package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgreSQL for tests, started the way an operator would: initdb in a temporary directory,
// then the server on a free loopback port, one instance per test binary, a fresh database
// per caller. The binaries come from $PARSEC_POSTGRES_BIN (the directory holding initdb and
// postgres), else the newest /usr/lib/postgresql/*/bin (Debian's layout), else PATH.

const postgresMissing = "no PostgreSQL found (apt install postgresql, or set PARSEC_POSTGRES_BIN to the directory of initdb and postgres)"

var pg struct {
	mu     sync.Mutex
	server *postgresServer
	err    error
	dbs    int
}

type postgresServer struct {
	dir  string // removed at stop
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited
	log  string
}

// PostgresDSN returns the connection string of a new, empty database on the test binary's
// PostgreSQL instance, started at the first call. Without PostgreSQL the test is skipped, or
// fails when PARSEC_TEST_DISALLOW_SKIP is set. The test binary must call StopPostgres when
// its tests are done (from TestMain).
func PostgresDSN(t testing.TB) string {
	t.Helper()
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.server == nil && pg.err == nil {
		bin, err := postgresBin()
		if err != nil {
			if os.Getenv("PARSEC_TEST_DISALLOW_SKIP") != "" {
				t.Fatal(postgresMissing)
			}
			t.Skip(postgresMissing)
		}
		pg.server, pg.err = startPostgres(bin)
	}
	if pg.err != nil {
		t.Fatalf("start PostgreSQL: %v", pg.err)
	}
	pg.dbs++
	name := "parsec_test_" + strconv.Itoa(pg.dbs)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pg.server.dsn("postgres"))
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	return pg.server.dsn(name)
}

// StopPostgres stops the test binary's PostgreSQL, if one was started, and removes its files.
func StopPostgres() {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.server != nil {
		pg.server.stop()
		pg.server = nil
	}
}

func (s *postgresServer) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// postgresBin returns the directory of initdb and postgres.
func postgresBin() (string, error) {
	var candidates []string
	if dir := os.Getenv("PARSEC_POSTGRES_BIN"); dir != "" {
		candidates = append(candidates, dir)
	}
	debian, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(debian, func(a, b string) int { // newest major version first
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	candidates = append(candidates, debian...)
	if p, err := exec.LookPath("initdb"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	for _, dir := range candidates {
		if isExecutable(filepath.Join(dir, "initdb")) && isExecutable(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
	}
	return "", errors.New(postgresMissing)
}

func isExecutable(file string) bool {
	fi, err := os.Stat(file)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// postgresCredential returns, when we are root, the credential of the postgres user to run
// initdb and postgres with (they refuse to run as root, like `runuser -u postgres --`), and
// nil otherwise.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and no postgres user to run PostgreSQL as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func startPostgres(bin string) (_ *postgresServer, err error) {
	dir, err := os.MkdirTemp("", "parsec-postgres-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	command := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		// Pdeathsig: if the test binary dies without stopping it, the server stops too.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGTERM}
		return cmd
	}
	data := filepath.Join(dir, "data")
	initdb := command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C",
		"--no-sync", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &postgresServer{dir: dir, port: port, done: make(chan struct{}), log: filepath.Join(dir, "postgres.log")}
	// Durability is of no use to tests: no fsync.
	s.cmd = command("postgres", "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "logging_collector=off", "-c", "log_destination=stderr")
	logFile, err := os.Create(s.log)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(time.Minute); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady waits until the server accepts connections, as pg_ctl -w does, or exits.
func (s *postgresServer) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, s.dsn("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		select {
		case <-s.done:
			out, _ := os.ReadFile(s.log)
			return fmt.Errorf("postgres exited: %s", out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(s.log)
			return fmt.Errorf("postgres not ready after %v: %v\n%s", timeout, err, out)
		}
	}
}

// stop asks for a fast shutdown (SIGINT: roll back and disconnect the clients), waits for
// it, and removes the files.
func (s *postgresServer) stop() {
	s.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	os.RemoveAll(s.dir)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
