package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/blockstore"
)

// metrics are what GET /metrics shows, in the Prometheus text format. Each server has its
// own registry: nothing is global.
type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec   // by command and status
	latency     *prometheus.HistogramVec // by command
	streams     prometheus.Gauge         // event streams open
	storeErrors *prometheus.CounterVec   // by store: metadata or blocks
	blockBytes  *prometheus.CounterVec   // by direction: in (stored) or out (read)
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parsec_requests_total",
			Help: "Requests served, by command (an RPC command, or the route: admin, events, healthz, redirect, metrics) and status (the RPC reply status, or the HTTP status code)."},
			[]string{"command", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "parsec_request_duration_seconds",
			Help: "Time to serve a request, by command (event streams are not counted).", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)},
			[]string{"command"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Name: "parsec_event_streams",
			Help: "Event streams open."}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parsec_store_errors_total",
			Help: "Failures of a store: metadata (requests that failed on an internal error) or blocks (block store operations that failed other than on a missing block)."},
			[]string{"store"}),
		blockBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "parsec_block_bytes_total",
			Help: "Bytes of blocks written to the block store (in) and read from it (out)."},
			[]string{"direction"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.streams, m.storeErrors, m.blockBytes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, s := range []string{"metadata", "blocks"} {
		m.storeErrors.WithLabelValues(s)
	}
	for _, d := range []string{"in", "out"} {
		m.blockBytes.WithLabelValues(d)
	}
	return m
}

// handler serves the metrics.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// observe counts a request once served.
func (m *metrics) observe(rec *statusRecorder, r *http.Request, took time.Duration) {
	command := rec.command
	if command == "" {
		command = routeName(r)
	}
	status := rec.replyStatus
	if status == "" {
		status = strconv.Itoa(rec.status)
	}
	m.requests.WithLabelValues(command, status).Inc()
	if command != "events" {
		m.latency.WithLabelValues(command).Observe(took.Seconds())
	}
}

// routeName names a request that is not an RPC by its route, from a short fixed list so
// that labels stay few whatever the paths asked.
func routeName(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/administration/"):
		return "admin"
	case strings.HasSuffix(p, "/events"):
		return "events"
	case strings.HasPrefix(p, "/redirect/"):
		return "redirect"
	case p == "/healthz", p == "/metrics":
		return p[1:]
	}
	return "other"
}

// isEventStream tells an event stream request before it is served.
func isEventStream(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/authenticated/") && strings.HasSuffix(r.URL.Path, "/events")
}

// noteRPC labels the request served through w with its RPC command and reply status.
func noteRPC(w http.ResponseWriter, command, status string) {
	if rec, ok := w.(*statusRecorder); ok {
		rec.command, rec.replyStatus = command, status
	}
}

// meteredBlocks is a block store that counts the bytes through it and its failures.
type meteredBlocks struct {
	blockstore.Store
	m *metrics
}

func (b meteredBlocks) fail(err error) error {
	if err != nil && !parsec.IsKind(err, parsec.NotFound) && !errors.Is(err, context.Canceled) {
		b.m.storeErrors.WithLabelValues("blocks").Inc()
	}
	return err
}

func (b meteredBlocks) bytes(direction string, n int) {
	b.m.blockBytes.WithLabelValues(direction).Add(float64(n))
}

func (b meteredBlocks) Put(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, data []byte) error {
	err := b.fail(b.Store.Put(ctx, org, id, data))
	if err == nil {
		b.bytes("in", len(data))
	}
	return err
}

func (b meteredBlocks) PutBatch(ctx context.Context, org parsec.OrganizationID, blocks []blockstore.Block) error {
	err := b.fail(b.Store.PutBatch(ctx, org, blocks))
	if err == nil {
		for _, bl := range blocks {
			b.bytes("in", len(bl.Data))
		}
	}
	return err
}

func (b meteredBlocks) PutStream(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID, r io.Reader, size int64) error {
	err := b.fail(b.Store.PutStream(ctx, org, id, r, size))
	if err == nil {
		b.bytes("in", int(size))
	}
	return err
}

func (b meteredBlocks) Get(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) ([]byte, error) {
	data, err := b.Store.Get(ctx, org, id)
	b.fail(err)
	b.bytes("out", len(data))
	return data, err
}

// GetMany implements blockstore.ManyGetter, with the store's GetMany if it has one (see
// blockstore.GetMany).
func (b meteredBlocks) GetMany(ctx context.Context, org parsec.OrganizationID, ids []parsec.BlockID) ([][]byte, error) {
	blocks, err := blockstore.GetMany(ctx, b.Store, org, ids, blockReaders)
	b.fail(err)
	for _, data := range blocks {
		b.bytes("out", len(data))
	}
	return blocks, err
}

func (b meteredBlocks) Open(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) (io.ReadCloser, int64, error) {
	rc, size, err := b.Store.Open(ctx, org, id)
	if b.fail(err) == nil {
		b.bytes("out", int(size))
	}
	return rc, size, err
}

func (b meteredBlocks) Delete(ctx context.Context, org parsec.OrganizationID, id parsec.BlockID) error {
	return b.fail(b.Store.Delete(ctx, org, id))
}
