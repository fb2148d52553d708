package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/testenv"
	"github.com/parsec-go/parsec/internal/testenv/minio"
)

// TestMain lets scripts run "parsec" as a real separate process: the test binary re-executes
// itself as the command, with the password KDF made cheap (a test-only knob, set here and
// never in the real binary).
func TestMain(m *testing.M) {
	// Race-enabled processes sleep a second at exit unless told otherwise; the scripts start
	// many of them.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=10")
	}
	testscript.Main(stopServices{m}, map[string]func(){
		"parsec": func() {
			crypto.TestOnlyWeakenPasswordKDF()
			os.Exit(Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// stopServices runs the tests, then stops the PostgreSQL and MinIO servers some of them
// started.
type stopServices struct{ m *testing.M }

func (s stopServices) Run() int {
	code := s.m.Run()
	testenv.StopPostgres()
	minio.Stop()
	return code
}

// TestScripts runs the scripts in testdata/script. Each script gets $PORT (free when the
// script starts), $SERVER (http://127.0.0.1:$PORT), its own $PARSEC_CONFIG_DIR, and these
// commands:
//
//	waitserver URL       wait until URL/healthz answers (at most 30 s)
//	stdout2env VAR       set VAR to the last command's standard output, trimmed
//	devicefile VAR       set VAR to the path of the only device file
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			port, err := freePort()
			if err != nil {
				return err
			}
			env.Setenv("PORT", fmt.Sprint(port))
			env.Setenv("SERVER", fmt.Sprintf("http://127.0.0.1:%d", port))
			env.Setenv("PARSEC_CONFIG_DIR", env.WorkDir+"/config")
			env.Setenv("XDG_DATA_HOME", env.WorkDir+"/xdg-data")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitserver": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: waitserver URL")
				}
				deadline := time.Now().Add(30 * time.Second)
				for time.Now().Before(deadline) {
					resp, err := http.Get(args[0] + "/healthz")
					if err == nil {
						resp.Body.Close()
						if resp.StatusCode == http.StatusOK {
							return
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
				ts.Fatalf("server at %s not ready after 30s", args[0])
			},
			"devicefile": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: devicefile VAR")
				}
				matches, _ := filepath.Glob(filepath.Join(ts.Getenv("PARSEC_CONFIG_DIR"), "devices", "*.keys"))
				if len(matches) != 1 {
					ts.Fatalf("want exactly one device file, found %d", len(matches))
				}
				ts.Setenv(args[0], matches[0])
			},
			"stdout2env": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: stdout2env VAR")
				}
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile("stdout")))
			},
		},
	})
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
