package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server"
	"github.com/parsec-go/parsec/internal/server/mail"
	"github.com/parsec-go/parsec/internal/server/mail/smtp"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// DevAdminToken is the administration token of a server started with Dev.
const DevAdminToken = "parsec-dev-admin-token"

// Config is the configuration of `parsec server run`.
type Config struct {
	Addr       string // listen address, host:port; default 127.0.0.1:6777
	PublicURL  string // how clients reach the server; default http(s)://<listen address>
	TLSCert    string // with TLSKey, serve HTTPS with this certificate chain (PEM file)
	TLSKey     string // the certificate's private key (PEM file)
	DataDir    string // where embedded storage lives by default; see defaultDataDir
	DB         string // metadata store, see OpenMetastore; default sqlite:<data dir>/metadata.db
	Blockstore string // block store, see OpenBlockstore; default disk:<data dir>/blocks
	AdminToken string
	Dev        bool // development defaults: the fixed DevAdminToken unless one is given
	Logger     *slog.Logger

	SSEKeepalive time.Duration
	OrgDefaults  *metastore.OrganizationConfig
	// Limits bound what one device or address may hold at once (zero fields: defaults).
	Limits server.Limits
	// Timeouts of the HTTP server; zero fields take those of DefaultTimeouts.
	Timeouts Timeouts

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

	// CPUProfile, when set, is a file that receives a CPU profile of the server from its
	// start to its clean shutdown (go tool pprof).
	CPUProfile string

	// BlockSize is the span size clients are asked to cut new files into, a power of two
	// from 64 KiB to 2 MiB (manifest.NewFileBlockSize); 0 chooses by the block store:
	// s3BlockSize on S3, and on disk nothing (the clients' 512 KiB).
	BlockSize int64
}

// Timeouts bound how long a connection may take at each stage. A request body or a reply
// that keeps moving may take longer than ReadTimeout or WriteTimeout (the server extends
// them on progress, see server.Limits.BodyIdle), and so may event streams.
type Timeouts struct {
	ReadHeader time.Duration // to receive a request's headers
	Read       time.Duration // to receive a whole request
	Write      time.Duration // from the end of the headers to the end of the reply
	Idle       time.Duration // a kept-alive connection waiting for its next request
}

// DefaultTimeouts are the HTTP server's timeouts unless the configuration says otherwise.
func DefaultTimeouts() Timeouts {
	return Timeouts{ReadHeader: 10 * time.Second, Read: time.Minute, Write: time.Minute, Idle: 2 * time.Minute}
}

// httpServer is the HTTP server of h, with timeouts t (zero fields: the defaults).
func httpServer(h http.Handler, t Timeouts, log *slog.Logger) *http.Server {
	d := DefaultTimeouts()
	for _, f := range []struct{ v, d *time.Duration }{{&t.ReadHeader, &d.ReadHeader}, {&t.Read, &d.Read}, {&t.Write, &d.Write}, {&t.Idle, &d.Idle}} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write, IdleTimeout: t.Idle,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

// Listening describes a server that accepts requests, for Run's ready callback.
type Listening struct {
	Addr       net.Addr // the listening address
	PublicURL  string
	AdminToken string
	DataDir    string
	Emails     string // where invitation emails go, in words: "written to DIR", "sent through HOST:PORT", …
}

// defaultDataDir is $XDG_DATA_HOME/parsec/server, or ~/.local/share/parsec/server; with
// dev, dev-server instead of server.
func defaultDataDir(dev bool) string {
	name := "server"
	if dev {
		name = "dev-server"
	}
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return filepath.Join(os.TempDir(), "parsec-"+name)
		}
		base = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(base, "parsec", name)
}

// openMail builds the email sender from the configuration, and says where emails go.
func openMail(rc Config) (mail.Sender, string, error) {
	switch {
	case rc.EmailDir != "":
		s, err := mail.NewDir(rc.EmailDir)
		return s, "written to " + rc.EmailDir, err
	case rc.EmailHost != "":
		sender := rc.EmailSender
		if sender == "" {
			sender = "no-reply@parsec.invalid"
		}
		s, err := smtp.New(smtp.Config{Host: rc.EmailHost, Port: rc.EmailPort, Username: rc.EmailUser,
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

// Run opens storage, listens and serves until ctx is done, then shuts down gracefully:
// new connections are refused, event streams end, requests in flight finish (up to 10 s),
// storage is closed. ready, if not nil, is called once requests are accepted.
func Run(ctx context.Context, rc Config, ready func(Listening)) error {
	log := rc.Logger
	if log == nil {
		log = slog.Default()
	}
	if rc.AdminToken == "" {
		if !rc.Dev {
			return parsec.Errorf(parsec.Invalid, "an administration token is required: use --admin-token (or PARSEC_ADMIN_TOKEN), or --dev")
		}
		rc.AdminToken = DevAdminToken
	}
	if rc.DataDir == "" {
		rc.DataDir = defaultDataDir(rc.Dev)
	}
	if rc.Addr == "" {
		rc.Addr = "127.0.0.1:6777"
	}
	blockSize, err := blockSizeFor(rc.BlockSize, rc.Blockstore)
	if err != nil {
		return err
	}
	if rc.CPUProfile != "" {
		stop, err := startCPUProfile(rc.CPUProfile)
		if err != nil {
			return err
		}
		defer func() {
			if err := stop(); err != nil {
				log.Error("writing the CPU profile", "file", rc.CPUProfile, "err", err)
			}
		}()
	}
	store, err := OpenMetastore(ctx, rc.DB, rc.DataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	blocks, err := OpenBlockstore(ctx, rc.Blockstore, rc.DataDir, store)
	if err != nil {
		return err
	}
	defer blocks.Close()
	sender, mailInfo, err := openMail(rc)
	if err != nil {
		return err
	}
	tlsConfig, err := loadTLS(rc.TLSCert, rc.TLSKey)
	if err != nil {
		return err
	}
	clock := parsec.SystemClock{}
	bus, err := openBus(ctx, store, clock, log)
	if err != nil {
		return err
	}
	defer bus.Close()

	ln, err := net.Listen("tcp", rc.Addr)
	if err != nil {
		if ae := (*net.AddrError)(nil); errors.As(err, &ae) { // a port out of range, say
			return parsec.Errorf(parsec.Invalid, "--addr %q: %v", rc.Addr, ae)
		}
		return fmt.Errorf("listen on %s: %w", rc.Addr, err)
	}
	public := rc.PublicURL
	if public == "" {
		public = "http://" + reachable(ln.Addr())
		if tlsConfig != nil {
			public = "https://" + reachable(ln.Addr())
		}
	}
	defaults := server.DefaultOrganizationConfig()
	if rc.OrgDefaults != nil {
		defaults = *rc.OrgDefaults
	}
	srv, err := server.New(server.Config{
		PublicURL: public, AdminToken: rc.AdminToken, Store: store, Blocks: blocks, Bus: bus,
		Clock: clock, Logger: log, OrgDefaults: defaults, SSEKeepalive: rc.SSEKeepalive, Mail: sender, Limits: rc.Limits,
		BlockSize: blockSize,
	})
	if err != nil {
		ln.Close()
		return err
	}
	hs := httpServer(srv, rc.Timeouts, log)
	hs.TLSConfig = tlsConfig
	served := make(chan error, 1)
	go func() {
		limited := server.LimitListener(ln, srv.Limits().ConnsPerAddr)
		if tlsConfig != nil {
			served <- hs.ServeTLS(limited, "", "")
			return
		}
		served <- hs.Serve(limited)
	}()
	log.Info("server listening", "addr", ln.Addr().String(), "public_url", public, "emails", mailInfo)
	if ready != nil {
		ready(Listening{Addr: ln.Addr(), PublicURL: public, AdminToken: rc.AdminToken, DataDir: rc.DataDir, Emails: mailInfo})
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

// startCPUProfile starts writing a CPU profile to file; stop ends it and closes the file.
func startCPUProfile(file string) (stop func() error, err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// loadTLS loads the certificate chain and key of --tls-cert and --tls-key; with neither,
// the server speaks plain HTTP and the configuration is nil.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, parsec.Errorf(parsec.Invalid, "TLS needs both --tls-cert and --tls-key")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %q and key %q: %w", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
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
