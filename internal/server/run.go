package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/blockstore/disk"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/mail"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlite"
)

// DevAdminToken is the administration token of a server started with --dev.
const DevAdminToken = "parsec-dev-admin-token"

// RunConfig is the configuration of `parsec server run`.
type RunConfig struct {
	Addr       string // listen address, host:port
	PublicURL  string // how clients reach the server; default http://<listen address>
	DataDir    string // where embedded storage lives by default
	DB         string // "sqlite:PATH" (or a path); default sqlite:<data dir>/metadata.db
	Blockstore string // "disk:PATH" (or a path); default disk:<data dir>/blocks
	AdminToken string
	Dev        bool // development defaults: the fixed DevAdminToken unless one is given
	Logger     *slog.Logger

	SSEKeepalive time.Duration
	OrgDefaults  *metastore.OrganizationConfig

	// Email: with EmailDir each message is written as a .eml file there (the default with
	// Dev, in <data dir>/emails); with EmailHost they go through that SMTP server; with
	// neither, invitation emails are not sent (invitations still work, by passing links on).
	EmailDir      string
	EmailHost     string
	EmailPort     int
	EmailUser     string
	EmailPassword string
	EmailTLS      bool // implicit TLS (usually port 465)
	EmailStartTLS bool // require STARTTLS (usually port 587)
	EmailSender   string
}

// openMail builds the email sender from the configuration.
func openMail(rc RunConfig) (mail.Sender, string, error) {
	switch {
	case rc.EmailDir != "":
		s, err := mail.NewDir(rc.EmailDir)
		return s, "written to " + rc.EmailDir, err
	case rc.EmailHost != "":
		sender := rc.EmailSender
		if sender == "" {
			sender = "no-reply@parsec.invalid"
		}
		s, err := mail.NewSMTP(mail.SMTPConfig{Host: rc.EmailHost, Port: rc.EmailPort, Username: rc.EmailUser,
			Password: rc.EmailPassword, TLS: rc.EmailTLS, StartTLS: rc.EmailStartTLS, Sender: sender, Timeout: 30 * time.Second})
		if err != nil {
			return nil, "", fmt.Errorf("email configuration: %w", err)
		}
		return s, fmt.Sprintf("sent through %s:%d", rc.EmailHost, rc.EmailPort), nil
	case rc.Dev:
		dir := filepath.Join(rc.DataDir, "emails")
		s, err := mail.NewDir(dir)
		return s, "written to " + dir, err
	}
	return nil, "not sent (no --email-host or --email-dir)", nil
}

// DefaultDataDir is $XDG_DATA_HOME/parsec/server, or ~/.local/share/parsec/server.
func DefaultDataDir() string {
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "parsec-server")
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "parsec", "server")
}

// Run opens storage, listens and serves until ctx is done, then shuts down gracefully:
// new connections are refused, event streams end, requests in flight finish (up to 10 s),
// storage is closed. ready, if not nil, is called with the listening address once requests
// are accepted.
func Run(ctx context.Context, rc RunConfig, ready func(addr net.Addr, cfg Config)) error {
	log := rc.Logger
	if log == nil {
		log = slog.Default()
	}
	if rc.AdminToken == "" {
		if !rc.Dev {
			return errors.New("an administration token is required: use --admin-token (or PARSEC_ADMIN_TOKEN), or --dev")
		}
		rc.AdminToken = DevAdminToken
	}
	if rc.DataDir == "" {
		rc.DataDir = DefaultDataDir()
	}
	if rc.Addr == "" {
		rc.Addr = "127.0.0.1:6777"
	}
	store, err := OpenMetastore(ctx, rc.DB, rc.DataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	blocks, err := OpenBlockstore(rc.Blockstore, rc.DataDir)
	if err != nil {
		return err
	}
	defer blocks.Close()
	sender, mailInfo, err := openMail(rc)
	if err != nil {
		return err
	}
	clock := parsec.SystemClock{}
	bus := events.New(clock)
	defer bus.Close()

	ln, err := net.Listen("tcp", rc.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", rc.Addr, err)
	}
	public := rc.PublicURL
	if public == "" {
		public = "http://" + reachable(ln.Addr())
	}
	defaults := DefaultOrganizationConfig()
	if rc.OrgDefaults != nil {
		defaults = *rc.OrgDefaults
	}
	cfg := Config{
		PublicURL: public, AdminToken: rc.AdminToken, Store: store, Blocks: blocks, Bus: bus,
		Clock: clock, Logger: log, OrgDefaults: defaults, SSEKeepalive: rc.SSEKeepalive, Mail: sender,
	}
	srv, err := New(cfg)
	if err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	log.Info("server listening", "addr", ln.Addr().String(), "public_url", public, "emails", mailInfo)
	if ready != nil {
		ready(ln.Addr(), srv.cfg)
	}
	select {
	case err := <-served:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	srv.Stopping()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil {
		log.Warn("shutdown: requests still running were cut", "err", err)
	}
	<-served
	log.Info("server stopped")
	return nil
}

// reachable turns a listening address into one a client can dial: 0.0.0.0 and :: become
// the loopback address.
func reachable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// OpenMetastore opens the metadata store named by a --db value.
func OpenMetastore(ctx context.Context, db, dataDir string) (metastore.Store, error) {
	switch {
	case db == "":
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		return sqlite.Open(ctx, filepath.Join(dataDir, "metadata.db"))
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return nil, fmt.Errorf("--db %q: PostgreSQL is not supported by this build yet; use sqlite:PATH", redactURL(db))
	}
	path := strings.TrimPrefix(db, "sqlite:")
	if path == "" || strings.Contains(db, "://") && !strings.HasPrefix(db, "sqlite:") {
		return nil, fmt.Errorf("--db %q: want sqlite:PATH", db)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("--db %q: %w", db, err)
	}
	return sqlite.Open(ctx, path)
}

// OpenBlockstore opens the block store named by a --blockstore value.
func OpenBlockstore(spec, dataDir string) (blockstore.Store, error) {
	if spec == "" {
		return disk.Open(filepath.Join(dataDir, "blocks"))
	}
	path, ok := strings.CutPrefix(spec, "disk:")
	if !ok {
		if strings.Contains(spec, ":") {
			return nil, fmt.Errorf("--blockstore %q: want disk:PATH", spec)
		}
		path = spec
	}
	if path == "" {
		return nil, fmt.Errorf("--blockstore %q: want disk:PATH", spec)
	}
	return disk.Open(path)
}

func redactURL(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		if j := strings.Index(s, "://"); j >= 0 && j < i {
			return s[:j+3] + "…" + s[i:]
		}
	}
	return s
}
