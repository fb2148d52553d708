package server

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Limits bound what one device or one network address may hold of the server at once, so
// that nobody (a stranger knowing an organization's name, or a member's device) can take
// its memory or its connections. Zero fields take the defaults of DefaultLimits; a
// negative count means no limit.
type Limits struct {
	// RequestsPerDevice bounds the RPCs of one device in progress at once (each may hold a
	// body of up to protocol.MaxBodySize).
	RequestsPerDevice int
	// StreamsPerDevice bounds the event streams one device holds open.
	StreamsPerDevice int
	// RequestsPerAddr bounds the requests in progress from one remote address (event
	// streams included). Behind a reverse proxy every request comes from the proxy's
	// address: raise it there.
	RequestsPerAddr int
	// ConnsPerAddr bounds the connections one remote address holds open (see
	// LimitListener).
	ConnsPerAddr int
	// RequestsPerDeviceMinute bounds the requests (RPCs and event streams) one device may
	// make within a minute from its first. Unlike the counts above, which bound what one
	// process holds, it holds for every server process on a shared store together (see
	// rateLimiter).
	RequestsPerDeviceMinute int
	// ReplayCacheSize bounds the request signatures remembered to refuse replays.
	ReplayCacheSize int
	// BodyIdle is the longest wait for the next bytes of a request body, and for the
	// client to take the next bytes of a reply: slow links go on as long as they move.
	BodyIdle time.Duration
	// PollChanges bounds the entries of a realm's change log one vlob_poll_changes reads
	// (the client polls again for the next ones).
	PollChanges int
}

// DefaultLimits are the limits of a server unless its configuration says otherwise.
func DefaultLimits() Limits {
	return Limits{RequestsPerDevice: 16, StreamsPerDevice: 4, RequestsPerAddr: 128, ConnsPerAddr: 256,
		RequestsPerDeviceMinute: 60_000, ReplayCacheSize: 100_000, BodyIdle: 30 * time.Second, PollChanges: protocol.MaxPollChanges}
}

// withDefaults fills the zero fields of l.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, f := range []struct{ v, d *int }{{&l.RequestsPerDevice, &d.RequestsPerDevice}, {&l.StreamsPerDevice, &d.StreamsPerDevice},
		{&l.RequestsPerAddr, &d.RequestsPerAddr}, {&l.ConnsPerAddr, &d.ConnsPerAddr}, {&l.RequestsPerDeviceMinute, &d.RequestsPerDeviceMinute},
		{&l.ReplayCacheSize, &d.ReplayCacheSize}} {
		if *f.v == 0 {
			*f.v = *f.d
		}
	}
	if l.BodyIdle <= 0 {
		l.BodyIdle = d.BodyIdle
	}
	if l.PollChanges <= 0 || l.PollChanges > protocol.MaxPollChanges {
		l.PollChanges = d.PollChanges
	}
	return l
}

// slots counts what each key (a device, an address) holds at once, up to max each.
type slots struct {
	max int // negative: no limit
	mu  sync.Mutex
	n   map[string]int
}

func newSlots(max int) *slots { return &slots{max: max, n: map[string]int{}} }

// take takes a slot for key, or reports false when key holds max already. Each successful
// take is followed by one give.
func (s *slots) take(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max >= 0 && s.n[key] >= s.max {
		return false
	}
	s.n[key]++
	return true
}

// count is how many slots key holds.
func (s *slots) count(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[key]
}

func (s *slots) give(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n[key]--; s.n[key] <= 0 {
		delete(s.n, key)
	}
}

// rateLimiter counts the requests of each key (a device) in windows of a fixed length, each
// opened by the key's first request after the previous one ended, and refuses those beyond
// max in a window. The counts live in this process, unless the store is shared by several
// server processes (a metastore.RateCounter, such as PostgreSQL): they are then counted in
// the store, as a device sending its requests to several processes could otherwise make max
// requests to each.
type rateLimiter struct {
	max    int // negative: no limit
	window time.Duration
	what   string // what is counted, for the refusal
	shared metastore.RateCounter

	mu     sync.Mutex
	counts map[string]*rateWindow
	pruned parsec.DateTime // when ended windows were last forgotten
}

type rateWindow struct {
	end   parsec.DateTime
	count int
}

// newRateLimiter returns a limiter of max requests per window, counted in store if it is a
// metastore.RateCounter.
func newRateLimiter(max int, window time.Duration, what string, store metastore.Store) *rateLimiter {
	shared, _ := store.(metastore.RateCounter)
	return &rateLimiter{max: max, window: window, what: what, shared: shared, counts: map[string]*rateWindow{}}
}

// allow counts a request of key received at now, or refuses it (429) when key made max
// requests in its window already.
func (l *rateLimiter) allow(ctx context.Context, key string, now parsec.DateTime) error {
	if l.max < 0 {
		return nil
	}
	var count int64
	if l.shared != nil {
		var err error
		if count, err = l.shared.CountRequest(ctx, key, l.window, now); err != nil {
			return err
		}
	} else {
		count = l.count(key, now)
	}
	if count > int64(l.max) {
		return overLimit(l.what, l.max)
	}
	return nil
}

// count counts a request in memory and returns the count of its window.
func (l *rateLimiter) count(key string, now parsec.DateTime) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now >= l.pruned.Add(l.window) {
		for k, w := range l.counts {
			if w.end <= now {
				delete(l.counts, k)
			}
		}
		l.pruned = now
	}
	w := l.counts[key]
	if w == nil || w.end <= now {
		w = &rateWindow{end: now.Add(l.window)}
		l.counts[key] = w
	}
	w.count++
	return int64(w.count)
}

// admit lets an authenticated request of c's device, signed as auth and received at now,
// go on, or refuses it: beyond the device's rate limit (429), or as a replay (409).
func (s *Server) admit(ctx context.Context, c *caller, auth protocol.DeviceAuth, now parsec.DateTime) error {
	if err := s.deviceRates.allow(ctx, deviceKey(c), now); err != nil {
		return err
	}
	return s.replays.check(ctx, auth.Signature, auth.Timestamp, now)
}

// overLimit is the refusal of a request beyond a limit.
func overLimit(what string, max int) error {
	return fail(protocol.HTTPTooManyRequests, "too many "+what+" (at most "+strconv.Itoa(max)+"): try again later")
}

// remoteHost is the address a request or connection comes from, without its port.
func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// LimitListener refuses, with a 429 answer, the connections of an address that holds max
// open already (max < 0: no limit).
func LimitListener(ln net.Listener, max int) net.Listener {
	if max < 0 {
		return ln
	}
	return &limitListener{Listener: ln, conns: newSlots(max)}
}

type limitListener struct {
	net.Listener
	conns *slots
}

// refusal is written to a connection beyond the limit, before it is closed.
var refusal = func() string {
	const msg = "too many connections from this address: try again later\n"
	return "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n" +
		"Content-Length: " + strconv.Itoa(len(msg)) + "\r\n\r\n" + msg
}()

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := remoteHost(c.RemoteAddr().String())
		if l.conns.take(host) {
			return &limitedConn{Conn: c, release: func() { l.conns.give(host) }}, nil
		}
		go func() {
			c.SetDeadline(time.Now().Add(time.Second))
			io.WriteString(c, refusal)
			c.Close()
		}()
	}
}

type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// ReadFrom lets a reply's file go to the connection as the connection would take it
// (sendfile for a TCP connection and a file), which embedding the net.Conn interface hides.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// progressReader extends a request's read deadline before each read: a body may take
// long on a slow link, but never stall for more than idle.
type progressReader struct {
	rc   *http.ResponseController
	r    io.Reader
	idle time.Duration
}

func (p progressReader) Read(b []byte) (int, error) {
	p.rc.SetReadDeadline(time.Now().Add(p.idle))
	return p.r.Read(b)
}

// writeReply writes a reply in pieces, extending the write deadline before each: a large
// reply may take long on a slow link, but the client must keep taking it.
func writeReply(w http.ResponseWriter, reply []byte, idle time.Duration) {
	rc := http.NewResponseController(w)
	const piece = 256 << 10
	for len(reply) > 0 {
		n := min(piece, len(reply))
		rc.SetWriteDeadline(time.Now().Add(idle))
		if _, err := w.Write(reply[:n]); err != nil {
			return
		}
		reply = reply[n:]
	}
}
