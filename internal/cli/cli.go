package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/memlimit"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Exit codes, decided from the error's kind in one place.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2 // bad arguments or input
	exitNotFound    = 3
	exitDenied      = 4 // bad credentials, not allowed
	exitRevoked     = 5 // revoked, frozen, expired
	exitTampered    = 6 // the server sent invalid data
	exitUnavailable = 7
	exitCancelled   = 8 // an exchange was cancelled or a code rejected
)

func exitCode(err error) int {
	switch parsec.KindOf(err) {
	case parsec.Invalid:
		return exitUsage
	case parsec.NotFound:
		return exitNotFound
	case parsec.BadAuth, parsec.Unauthorized, parsec.Permission:
		return exitDenied
	case parsec.Revoked, parsec.Frozen, parsec.Expired, parsec.Gone:
		return exitRevoked
	case parsec.Cancelled:
		return exitCancelled
	case parsec.Tampered:
		return exitTampered
	case parsec.Unavailable:
		return exitUnavailable
	}
	return exitError
}

// app is one run of the command line.
type app struct {
	ctx    context.Context
	in     io.Reader
	stdin  *bufio.Reader
	stdout io.Writer
	stderr io.Writer
	env    func(string) string

	configDir     string
	caFile        string // --ca-file: a private certificate authority's certificate
	json          bool
	passwordStdin bool
	passwordRead  bool
	endMemLimit   func() // ends memlimit.Govern, for client commands
}

// Main runs the command line with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{ctx: ctx, in: stdin, stdin: bufio.NewReader(stdin), stdout: stdout, stderr: stderr, env: os.Getenv}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if a.endMemLimit != nil {
		a.endMemLimit()
	}
	if err == nil {
		return exitOK
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "error: ") {
		msg = "error: " + msg
	}
	fmt.Fprintln(stderr, msg)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitCode(err)
}

// noMemLimit marks commands (and their subcommands) that run without memlimit.Govern: the
// server, whose memory is its operator's to bound, and the load test, whose process holds
// hundreds of simulated devices, a live heap that a limit of half again would make the
// collector run twice as often for (25 CPU-s instead of 17 in a 30 s run, p99 latencies
// 100 ms instead of 23).
const noMemLimit = "parsec/no-memlimit"

// governed says whether cmd runs with a client's memory limit (see memlimit).
func governed(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[noMemLimit] != "" {
			return false
		}
	}
	return true
}

// usageError marks errors from argument parsing.
type usageError struct{ error }

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "parsec",
		Short: "Zero-trust, end-to-end-encrypted file sharing",
		Long: `parsec is the Parsec server, command-line client and administration tool in one program.

A company runs one server ("parsec server run"); its server administrator creates an
organization ("parsec org create"), whose first member bootstraps it ("parsec org bootstrap")
and becomes its first Administrator. Every device keeps its keys in a password-protected file
in the configuration directory; the server stores and orders everything but can read nothing
and forge nothing: the client checks every certificate it receives.

Members share encrypted workspaces ("parsec workspace"); files in them are handled with
"parsec ls", "cp", "cat", "mkdir", "mv", "rm", "history" and "restore", on paths written
WORKSPACE:/path, or opened as ordinary folders with "parsec mount" (FUSE).

Every flag can also be set with a PARSEC_* environment variable (--config-dir is
PARSEC_CONFIG_DIR, --device is PARSEC_DEVICE, …), except --password-stdin.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if governed(cmd) {
				a.endMemLimit = memlimit.Govern()
			}
			return a.applyEnv(cmd)
		},
	}
	root.PersistentFlags().StringVar(&a.configDir, "config-dir", "", "configuration directory holding device files (default $XDG_CONFIG_HOME/parsec)")
	root.PersistentFlags().StringVar(&a.caFile, "ca-file", "", "PEM certificate(s) of a private certificate authority trusted, besides the system's, to verify the server's TLS certificate")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%v (see %s --help)", err, c.CommandPath())}
	})
	root.AddCommand(a.serverCmd(), a.orgCmd(), a.deviceCmd(), a.userCmd(), a.inviteCmd(), a.workspaceCmd(), a.guiCmd())
	root.AddCommand(a.fileCmds()...)
	root.AddCommand(a.benchCmd(), a.mountCmd(), a.sharedRecoveryCmd())
	return root
}

// applyEnv sets every flag not given on the command line from its PARSEC_* environment
// variable: --config-dir from PARSEC_CONFIG_DIR, --admin-token from PARSEC_ADMIN_TOKEN...
func (a *app) applyEnv(cmd *cobra.Command) error {
	var err error
	visit := func(f *pflag.Flag) {
		if err != nil || f.Changed || f.Name == "help" || f.Name == "password-stdin" {
			return
		}
		name := "PARSEC_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := a.env(name); v != "" {
			if e := f.Value.Set(v); e != nil {
				err = usageError{fmt.Errorf("invalid %s=%q: %v", name, v, e)}
			}
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	if err != nil {
		return err
	}
	if a.configDir == "" {
		a.configDir = client.DefaultConfigDir()
	}
	return nil
}

// httpClient is the HTTP client that reaches servers, trusting --ca-file besides the
// system's certificate authorities.
func (a *app) httpClient() (*http.Client, error) {
	return client.HTTPClient(a.caFile)
}

// Output helpers: messages on stderr, data on stdout.

func (a *app) say(format string, args ...any) { fmt.Fprintf(a.stderr, format+"\n", args...) }

func (a *app) out(format string, args ...any) { fmt.Fprintf(a.stdout, format+"\n", args...) }

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// stderrIsTerminal reports whether stderr is a terminal (progress bars are drawn there).
func (a *app) stderrIsTerminal() bool {
	f, ok := a.stderr.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// rangeArgs accepts between min and max arguments.
func rangeArgs(min, max int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || len(args) > max {
			return usageError{fmt.Errorf("%s expects %s (see %s --help)", cmd.CommandPath(), what, cmd.CommandPath())}
		}
		return nil
	}
}

// exactArgs is cobra.ExactArgs with a message naming what is expected.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%s expects %s (see %s --help)", cmd.CommandPath(), what, cmd.CommandPath())}
		}
		return nil
	}
}
