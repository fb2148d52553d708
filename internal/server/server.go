package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/blockstore"
	"github.com/parsec-go/parsec/internal/server/diskspace"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/mail"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Config is what a Server needs. Store, Blocks and Bus are owned by the caller.
type Config struct {
	// PublicURL is how clients reach this server (http(s)://host[:port]); links in bootstrap
	// URLs and emails are built from it.
	PublicURL  string
	AdminToken string

	Store  metastore.Store
	Blocks blockstore.Store
	Bus    events.Bus
	Clock  parsec.Clock
	Logger *slog.Logger
	// Mail sends invitation emails; nil means the server cannot send any (invitations are
	// still created, and the reply says the email was not sent).
	Mail mail.Sender

	// Defaults for new organizations.
	OrgDefaults metastore.OrganizationConfig
	// SSEKeepalive is the silence after which the event stream sends a keepalive frame.
	SSEKeepalive time.Duration
	// Limits bound what one device or address may hold at once (zero fields: defaults).
	Limits Limits
	// BlockSize is the span size clients are asked to cut new files into
	// (protocol.OrganizationConfig's BlockSize); 0 asks for nothing.
	BlockSize int64
}

// DefaultOrganizationConfig is the configuration of a new organization unless the
// administrator says otherwise.
func DefaultOrganizationConfig() metastore.OrganizationConfig {
	return metastore.OrganizationConfig{UserProfileOutsiderAllowed: true, MinimumArchivingPeriod: 2592000}
}

// Server serves the API.
type Server struct {
	cfg    Config
	public protocol.ServerAddr
	log    *slog.Logger
	mux    *http.ServeMux

	// profiles holds the profiles changed since the server started (profileKey →
	// parsec.UserProfile), for the event streams' filters.
	profiles sync.Map
	// realms holds the members of the realms this server has seen (realmKey →
	// *realmView), for the event streams' filters (see sse.go).
	realms sync.Map

	stopOnce sync.Once
	stopping chan struct{} // closed when the server starts shutting down: ends event streams

	limits         Limits
	deviceRequests *slots // RPCs in progress per device
	deviceStreams  *slots // event streams open per device
	addrRequests   *slots // requests in progress per remote address
	replays        *replayCache
	deviceRates    *rateLimiter
	metrics        *metrics
	disks          []storeDisk // the stores on a local file system (see health)
}

// New builds a server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Blocks == nil || cfg.Bus == nil {
		return nil, errors.New("server: a metadata store, a block store and an event bus are required")
	}
	if cfg.AdminToken == "" {
		return nil, errors.New("server: an administration token is required")
	}
	public, err := protocol.ParseServerAddr(cfg.PublicURL)
	if err != nil {
		return nil, fmt.Errorf("server: public URL: %w", err)
	}
	if cfg.Clock == nil {
		cfg.Clock = parsec.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.OrgDefaults == (metastore.OrganizationConfig{}) {
		cfg.OrgDefaults = DefaultOrganizationConfig()
	}
	if cfg.SSEKeepalive <= 0 {
		cfg.SSEKeepalive = 30 * time.Second
	}
	l := cfg.Limits.withDefaults()
	m := newMetrics()
	var disks []storeDisk
	for _, st := range []struct {
		name  string
		store any
	}{{"metadata store", cfg.Store}, {"block store", cfg.Blocks}} {
		if r, ok := st.store.(diskspace.Reporter); ok {
			disks = append(disks, storeDisk{st.name, r})
		}
	}
	cfg.Blocks = meteredBlocks{Store: cfg.Blocks, m: m}
	s := &Server{metrics: m, cfg: cfg, disks: disks, public: public, log: cfg.Logger, stopping: make(chan struct{}), limits: l,
		deviceRequests: newSlots(l.RequestsPerDevice), deviceStreams: newSlots(l.StreamsPerDevice),
		addrRequests: newSlots(l.RequestsPerAddr), replays: newReplayCache(l.ReplayCacheSize, cfg.Store),
		deviceRates: newRateLimiter(l.RequestsPerDeviceMinute, time.Minute, "requests per minute from this device", cfg.Store)}
	if o, ok := cfg.Bus.(interface {
		Observe(func(context.Context, *events.Event))
	}); ok {
		o.Observe(s.observeEvent)
	}
	s.routes()
	return s, nil
}

// Limits returns the server's limits, defaults filled in.
func (s *Server) Limits() Limits { return s.limits }

// Stopping ends long-lived requests (event streams) so that a graceful shutdown can finish.
func (s *Server) Stopping() {
	s.stopOnce.Do(func() { close(s.stopping) })
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /anonymous/{org}", s.rpc(protocol.FamilyAnonymous))
	m.HandleFunc("POST /invited/{org}", s.rpc(protocol.FamilyInvited))
	m.HandleFunc("POST /authenticated/{org}", s.rpc(protocol.FamilyAuthenticated))
	m.HandleFunc("GET /authenticated/{org}/events", s.events)
	m.HandleFunc("GET /redirect/{org}", s.redirect)
	m.HandleFunc("GET /healthz", s.health)
	m.HandleFunc("GET /metrics", s.serveMetrics)
	s.adminRoutes(m)
	s.mux = m
}

// ServeHTTP serves the API, refusing (429) the requests of an address beyond its limit.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	host := remoteHost(r.RemoteAddr)
	if !s.addrRequests.take(host) {
		overLimit("requests at once from this address", s.limits.RequestsPerAddr).(*httpError).write(rec)
	} else {
		defer s.addrRequests.give(host)
		if isEventStream(r) {
			s.metrics.streams.Inc()
			defer s.metrics.streams.Dec()
		}
		s.mux.ServeHTTP(rec, r)
	}
	s.metrics.observe(rec, r, time.Since(start))
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
}

type statusRecorder struct {
	http.ResponseWriter
	status      int
	command     string // the RPC command, set by noteRPC
	replyStatus string // the RPC reply's status, set by noteRPC
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush lets the event stream flush through the recorder.
func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// ReadFrom lets a reply's file reach the connection without a copy through a buffer
// (sendfile) where the response writer can: the recorder would hide it.
func (r *statusRecorder) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := r.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(struct{ io.Writer }{r.ResponseWriter}, src)
}

// health answers 200 "ok" when both stores answer, 503 naming those that do not. The
// metadata store answers a read; the block store answers a read of a block that does not
// exist (NotFound is an answer).
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	var failing []string
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		_, err := tx.Organizations()
		return err
	})
	if err != nil {
		s.log.Error("health check: metadata store", "err", err)
		failing = append(failing, "metadata store unavailable")
	}
	if _, err := s.cfg.Blocks.Get(ctx, healthOrg, parsec.BlockID{}); err != nil && !parsec.IsKind(err, parsec.NotFound) {
		s.log.Error("health check: block store", "err", err)
		failing = append(failing, "block store unavailable")
	}
	for _, d := range s.disks {
		free, err := d.r.FreeSpace()
		switch {
		case err != nil:
			s.log.Error("health check: free space", "store", d.name, "err", err)
			failing = append(failing, d.name+": its free space cannot be read")
		case free < diskspace.Low:
			s.log.Error("health check: disk full", "store", d.name, "free_bytes", free)
			failing = append(failing, d.name+": its disk is full ("+parsec.FormatSize(free)+" left)")
		}
	}
	if failing != nil {
		http.Error(w, strings.Join(failing, "\n"), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// A storeDisk is a store on a local file system, whose free space the health check watches.
type storeDisk struct {
	name string
	r    diskspace.Reporter
}

// healthOrg is the organization in which the health check looks for a block: none.
const healthOrg parsec.OrganizationID = "parsec-health-check"

// serveMetrics serves the metrics to the bearer of the administration token.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !tokenEqual(token, s.cfg.AdminToken) {
		http.Error(w, "invalid administration token", http.StatusForbidden)
		return
	}
	s.metrics.handler().ServeHTTP(w, r)
}

func (s *Server) now() parsec.DateTime { return s.cfg.Clock.Now() }

func tokenEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// lookupOrg returns the organization or nil when it does not exist.
func (s *Server) lookupOrg(ctx context.Context, id parsec.OrganizationID) (*metastore.Organization, error) {
	var org metastore.Organization
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		var err error
		org, err = tx.Organization(id)
		return err
	})
	if errors.Is(err, metastore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &org, nil
}
