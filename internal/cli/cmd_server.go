package cli

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/bench"
	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server"
	"github.com/parsec-go/parsec/internal/server/serve"
)

func (a *app) serverCmd() *cobra.Command {
	cmd := &cobra.Command{
		Annotations: map[string]string{noMemLimit: "yes"},
		Use:         "server",
		Short:       "Run the server, and server-administrator commands",
	}
	cmd.AddCommand(a.serverRunCmd(), a.serverMigrateCmd(), a.serverUserCmd())
	return cmd
}

func (a *app) serverRunCmd() *cobra.Command {
	var rc serve.Config
	var logLevel, logFormat string
	var blockSize bench.Size
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the Parsec server",
		Long: `Run the Parsec server until interrupted (SIGINT or SIGTERM), then shut down gracefully.

By default metadata goes to an embedded SQLite database and blocks to files, both in the data
directory. With --blockstore on S3, clients are asked to cut new files into blocks of 2 MiB
rather than 512 KiB, since each block is an object (--block-size changes it); with --db on
PostgreSQL too, blocks of up to 64 KiB are rows of the database and only the larger ones
objects of the bucket. With --dev, a fixed administration token is used and printed, with the commands
that create and bootstrap a first organization.

With --tls-cert and --tls-key the server speaks HTTPS itself, and its links are https://
links (opening parsec3:// links without no_ssl) that clients verify with TLS (clients trust a private certificate authority with
--ca-file). Behind a reverse proxy that terminates TLS, give the proxy's URL with
--server-url https://HOST instead. docs/deploy.md tells how to run it in production.

GET /healthz answers "ok" when both stores answer and the embedded ones (SQLite, the blocks
directory) have 16 MiB left on their disk, 503 naming the failing store otherwise.
GET /metrics, for the bearer of the administration token, gives metrics in the Prometheus
text format: requests by command and status, latencies, open event streams, store errors,
block bytes in and out.

With --cpuprofile FILE, the server writes a CPU profile of its whole run to FILE when it
shuts down cleanly (go tool pprof FILE).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			level := slog.LevelInfo
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError{fmt.Errorf("invalid --log-level %q: want debug, info, warn or error", logLevel)}
			}
			opts := &slog.HandlerOptions{Level: level}
			switch logFormat {
			case "text":
				rc.Logger = slog.New(slog.NewTextHandler(a.stderr, opts))
			case "json":
				rc.Logger = slog.New(slog.NewJSONHandler(a.stderr, opts))
			default:
				return usageError{fmt.Errorf("invalid --log-format %q: want text or json", logFormat)}
			}
			rc.BlockSize = int64(blockSize)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return serve.Run(ctx, rc, func(l serve.Listening) {
				if rc.Dev {
					a.devBanner(l)
				}
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&rc.Addr, "addr", "127.0.0.1:6777", "address to listen on (host:port)")
	f.StringVar(&rc.PublicURL, "server-url", "", "public URL of the server, used in links (default http://<listen address>, https:// with --tls-cert); behind a reverse proxy, the proxy's URL")
	f.StringVar(&rc.TLSCert, "tls-cert", "", "serve HTTPS with this certificate (PEM file, the chain after the server's certificate); with --tls-key")
	f.StringVar(&rc.TLSKey, "tls-key", "", "private key of --tls-cert (PEM file)")
	f.StringVar(&rc.DataDir, "data-dir", "", "directory of the embedded storage (default $XDG_DATA_HOME/parsec/server)")
	f.StringVar(&rc.DB, "db", "", "metadata store: sqlite:PATH or postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=... (default sqlite:<data dir>/metadata.db)")
	f.StringVar(&rc.Blockstore, "blockstore", "", "block store: disk:PATH or s3://BUCKET?endpoint=URL&region=R&prefix=P (default disk:<data dir>/blocks)")
	f.StringVar(&rc.AdminToken, "admin-token", "", "administration token (bearer of the administration API)")
	f.BoolVar(&rc.Dev, "dev", false, "development mode: fixed administration token, data in $XDG_DATA_HOME/parsec/dev-server")
	f.StringVar(&rc.EmailHost, "email-host", "", "SMTP server that sends invitation emails")
	f.IntVar(&rc.EmailPort, "email-port", 25, "SMTP port")
	f.StringVar(&rc.EmailUser, "email-user", "", "SMTP user name")
	f.StringVar(&rc.EmailPassword, "email-password", "", "SMTP password")
	f.BoolVar(&rc.EmailTLS, "email-tls", false, "connect to the SMTP server with implicit TLS (usually port 465)")
	f.BoolVar(&rc.EmailStartTLS, "email-starttls", false, "require STARTTLS (usually port 587)")
	f.StringVar(&rc.EmailSender, "email-sender", "no-reply@parsec.invalid", "From address of the emails")
	f.StringVar(&rc.EmailDir, "email-dir", "", "write each email as a .eml file in this directory instead of sending it (default with --dev: <data dir>/emails)")
	lim := server.DefaultLimits()
	f.IntVar(&rc.Limits.RequestsPerDevice, "max-requests-per-device", lim.RequestsPerDevice, "requests one device may have in progress at once (-1: no limit)")
	f.IntVar(&rc.Limits.StreamsPerDevice, "max-streams-per-device", lim.StreamsPerDevice, "event streams one device may hold open (-1: no limit)")
	f.IntVar(&rc.Limits.RequestsPerAddr, "max-requests-per-addr", lim.RequestsPerAddr, "requests one remote address may have in progress at once; raise it behind a reverse proxy (-1: no limit)")
	f.IntVar(&rc.Limits.ConnsPerAddr, "max-conns-per-addr", lim.ConnsPerAddr, "connections one remote address may hold open; raise it behind a reverse proxy (-1: no limit)")
	f.IntVar(&rc.Limits.RequestsPerDeviceMinute, "max-requests-per-device-minute", lim.RequestsPerDeviceMinute, "requests one device may make within a minute, across every server on the same --db (-1: no limit)")
	f.Var(&blockSize, "block-size", "size of the blocks clients cut new files into, a power of two from 64KiB to 2MiB (default 2MiB with an s3:// block store, 512KiB on disk)")
	f.Lookup("block-size").DefValue = "" // chosen by the block store, as the usage says
	f.StringVar(&rc.CPUProfile, "cpuprofile", "", "write a CPU profile of the server to this file, from start to clean shutdown (go tool pprof)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	return cmd
}

func (a *app) devBanner(l serve.Listening) {
	a.say(`
Parsec development server
  URL:                  %s
  administration token: %s
  data directory:       %s
  emails:               %s

Create and bootstrap an organization:
  parsec org create MyOrg --addr %s --admin-token %s
  parsec org bootstrap 'BOOTSTRAP_URL' --email you@example.com --name 'Your Name' --device-label laptop
`, l.PublicURL, l.AdminToken, l.DataDir, l.Emails, l.PublicURL, l.AdminToken)
}

// adminFlags are the flags of commands that use the administration API.
type adminFlags struct {
	addr  string
	token string
}

func (f *adminFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.addr, "addr", "a", "", "server URL (http(s)://host:port or parsec3://host:port)")
	cmd.Flags().StringVarP(&f.token, "admin-token", "t", "", "administration token")
}

func (f *adminFlags) admin(a *app) (*client.Admin, error) {
	if f.addr == "" {
		return nil, usageError{fmt.Errorf("the server URL is required: --addr (or PARSEC_ADDR)")}
	}
	hc, err := a.httpClient()
	if err != nil {
		return nil, err
	}
	return client.NewAdmin(f.addr, f.token, hc)
}

// org validates an organization name and returns it with the administration client.
func (f *adminFlags) org(a *app, name string) (parsec.OrganizationID, *client.Admin, error) {
	id, err := parsec.ParseOrganizationID(name)
	if err != nil {
		return "", nil, err
	}
	adm, err := f.admin(a)
	return id, adm, err
}

func (a *app) serverUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Server-administrator actions on users (freeze, unfreeze)",
	}
	for _, frozen := range []bool{true, false} {
		var af adminFlags
		var org string
		verb := map[bool]string{true: "freeze", false: "unfreeze"}[frozen]
		c := &cobra.Command{
			Use:   verb + " EMAIL --org ORG",
			Short: map[bool]string{true: "Freeze a user: all its devices are refused until unfrozen", false: "Unfreeze a frozen user"}[frozen],
			Long: `Freezing is the server administrator's reversible way to stop a user (for example when a
directory says the person left) until an organization administrator revokes them: every
request of the user's devices is refused and their event streams end.`,
			Args: exactArgs(1, "the user's email"),
			RunE: func(cmd *cobra.Command, args []string) error {
				if org == "" {
					return usageError{fmt.Errorf("the organization is required: --org (or PARSEC_ORG)")}
				}
				id, err := parsec.ParseOrganizationID(org)
				if err != nil {
					return err
				}
				email, err := parsec.ParseEmail(args[0])
				if err != nil {
					return err
				}
				adm, err := af.admin(a)
				if err != nil {
					return err
				}
				u, err := adm.Freeze(cmd.Context(), id, email, frozen)
				if err != nil {
					return err
				}
				if a.json {
					return a.printJSON(u)
				}
				state := map[bool]string{true: "frozen", false: "not frozen"}[u.Frozen]
				a.say("User %s <%s> is now %s.", u.UserName, u.UserEmail, state)
				return nil
			},
		}
		af.add(c)
		c.Flags().StringVarP(&org, "org", "o", "", "organization")
		c.Flags().BoolVar(&a.json, "json", false, "print the user as JSON")
		cmd.AddCommand(c)
	}
	return cmd
}
