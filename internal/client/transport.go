package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// maxReplySize bounds what the client reads from a reply, so that a lying server cannot
// exhaust its memory.
const maxReplySize = 64 << 20

// Timeouts of every request. A request may take longer than its total while bytes keep
// moving only for block transfers, whose total is long (8 MiB must pass on slow links); a
// request during which nothing moves for stallTimeout is given up, whatever its kind.
const (
	dialTimeout = 10 * time.Second
	tlsTimeout  = 10 * time.Second

	requestTimeout    = 2 * time.Minute
	blockTransferTime = 30 * time.Minute
)

// stallTimeout is a variable for tests only.
var stallTimeout = time.Minute

// defaultHTTPClient is the client of transports given none: http.DefaultClient has no
// timeout at all.
var defaultHTTPClient = func() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = tlsTimeout
	tr.ResponseHeaderTimeout = stallTimeout
	tr.IdleConnTimeout = 90 * time.Second
	// Transfers keep several requests in flight: their connections stay open for the next
	// ones rather than being closed and dialled again (the default keeps 2).
	tr.MaxIdleConnsPerHost = uploadStreams + transferStreams + 2
	return &http.Client{Transport: tr}
}()

// transport sends RPCs to one organization on one server.
type transport struct {
	http    *http.Client
	server  protocol.ServerAddr
	base    string // http(s)://host:port[prefix]
	org     parsec.OrganizationID
	version string

	mu   sync.Mutex
	last parsec.DateTime // timestamp of the last signed request
}

func newTransport(hc *http.Client, server protocol.ServerAddr, org parsec.OrganizationID) *transport {
	if hc == nil {
		hc = defaultHTTPClient
	}
	return &transport{http: hc, server: server, base: server.HTTPURL(), org: org, version: protocol.APIVersion}
}

// now is the timestamp of a request to sign: the clock's time, but always later than the
// previous one, since the server refuses a request signed twice the same as a replay.
func (t *transport) now(clock parsec.Clock) parsec.DateTime {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = max(clock.Now(), t.last+1)
	return t.last
}

// errStalled ends a request during which nothing moved for stallTimeout.
var errStalled = fmt.Errorf("nothing received or sent for %v", stallTimeout)

// watchdog cancels a request's context when no progress was reported for idle.
type watchdog struct {
	timer *time.Timer
	idle  time.Duration
}

// newWatchdog returns ctx bounded by total and by the watchdog's idle time.
func newWatchdog(ctx context.Context, total, idle time.Duration, stalled error) (context.Context, *watchdog, context.CancelFunc) {
	ctx, cancelTotal := context.WithTimeout(ctx, total)
	ctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{timer: time.AfterFunc(idle, func() { cancel(stalled) }), idle: idle}
	return ctx, w, func() {
		w.timer.Stop()
		cancel(nil)
		cancelTotal()
	}
}

func (w *watchdog) progress() { w.timer.Reset(w.idle) }

// reader reports progress on each read of r.
func (w *watchdog) reader(r io.Reader) io.Reader { return progressReader{r: r, w: w} }

// readCloser is reader for a request body, which the HTTP transport closes.
func (w *watchdog) readCloser(r io.ReadCloser) io.ReadCloser {
	return struct {
		io.Reader
		io.Closer
	}{progressReader{r: r, w: w}, r}
}

type progressReader struct {
	r io.Reader
	w *watchdog
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.w.progress()
	}
	return n, err
}

// requestTimeoutOf is the total time a command may take.
func requestTimeoutOf(cmd string) time.Duration {
	switch cmd {
	case protocol.CmdBlockCreate, protocol.CmdBlockRead:
		return blockTransferTime
	}
	return requestTimeout
}

// path is the URL path of a family route for the organization (unescaped, as signed).
func (t *transport) path(prefix string) string { return prefix + string(t.org) }

func (t *transport) url(path string) string {
	u, _ := url.Parse(t.base)
	return u.JoinPath(strings.Split(strings.TrimPrefix(path, "/"), "/")...).String()
}

// call sends a command and decodes its reply into rep. authorize, when set, returns the
// Authorization header for the encoded body.
func (t *transport) call(ctx context.Context, routePrefix, cmd string, req, rep any, authorize func(path string, body []byte) string) error {
	_, err := resigned(func() (func(), error) { return t.send(ctx, routePrefix, cmd, req, rep, authorize, false) })
	return err
}

// errReplayed is the error of a request the server took for a replay of an earlier one.
var errReplayed = errors.New("request replayed")

// resigned calls send, and once again if the server took its request for a replay: the
// processes of a device (the GUI and the CLI) may send the same request, signed at the same
// microsecond; signed again, for a later time, it goes through. The server refused the
// first one without acting on it.
func resigned(send func() (func(), error)) (func(), error) {
	release, err := send()
	if errors.Is(err, errReplayed) {
		return send()
	}
	return release, err
}

// send is call; with keep, the reply is read into a reused buffer that rep may share
// (see protocol.Bytes) until the caller calls release. release is never nil.
func (t *transport) send(ctx context.Context, routePrefix, cmd string, req, rep any, authorize func(path string, body []byte) string, keep bool) (release func(), err error) {
	encoded := requestBuffers.Get().(*bytes.Buffer)
	if err := protocol.EncodeRequestTo(encoded, cmd, req); err != nil {
		releaseRequest(encoded)
		return func() {}, err
	}
	return t.sendBody(ctx, routePrefix, cmd, encoded.Bytes(), func() { releaseRequest(encoded) }, rep, authorize, keep)
}

// sendBody is send for an encoded request body. done, if set, is called once the HTTP
// transport no longer reads the body; in any case, it no longer does when sendBody returns.
func (t *transport) sendBody(ctx context.Context, routePrefix, cmd string, encoded []byte, done func(), rep any, authorize func(path string, body []byte) string, keep bool) (release func(), err error) {
	release = func() {}
	body := &requestBody{r: bytes.NewReader(encoded), done: done}
	// The HTTP transport closes the body when it is done with it, even on error, maybe
	// after the reply; closing it here waits for a read under way and stops later ones.
	defer body.Close()
	path := t.path(routePrefix)
	parent := ctx
	ctx, dog, cancel := newWatchdog(ctx, requestTimeoutOf(cmd), stallTimeout, errStalled)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url(path), dog.readCloser(body))
	if err != nil {
		return release, fmt.Errorf("%s: %w", cmd, err)
	}
	hr.ContentLength = int64(len(encoded))
	hr.Header.Set("Content-Type", protocol.ContentType)
	hr.Header.Set(protocol.HeaderAPIVersion, t.version)
	if authorize != nil {
		hr.Header.Set(protocol.HeaderAuthorization, authorize(path, encoded))
	}
	resp, err := t.http.Do(hr)
	if err != nil {
		if parent.Err() != nil {
			return release, parsec.Errorf(parsec.Cancelled, "%s: %w", cmd, parent.Err())
		}
		if e := untrusted(t.base, err); e != nil {
			return release, e
		}
		return release, parsec.Errorf(parsec.Unavailable, "cannot reach the server at %s: %v", t.base, t.cause(ctx, err))
	}
	defer resp.Body.Close()
	var reply *[]byte
	if keep && resp.ContentLength >= 0 && resp.ContentLength <= maxPooledReply {
		reply = replyBuffers.Get().(*[]byte)
	}
	data, err := readBody(dog.reader(resp.Body), resp.ContentLength, maxReplySize, reply)
	if reply != nil {
		release = sync.OnceFunc(func() { replyBuffers.Put(reply) })
	}
	if err != nil {
		release()
		if parent.Err() != nil {
			return func() {}, parsec.Errorf(parsec.Cancelled, "%s: %w", cmd, parent.Err())
		}
		return func() {}, parsec.Errorf(parsec.Unavailable, "connection to the server at %s lost: %v", t.base, t.cause(ctx, err))
	}
	if len(data) > maxReplySize {
		release()
		return func() {}, parsec.Errorf(parsec.Tampered, "the server sent a reply to %s larger than %d bytes", cmd, maxReplySize)
	}
	if resp.StatusCode != http.StatusOK {
		release()
		if resp.StatusCode == protocol.HTTPForbidden && cmd == protocol.CmdBlockCreate {
			// Only an upload is hashed differently by an older server: its other refusals
			// (an unknown device or invitation) mean what they always did.
			if err := t.olderServer(resp.Header.Get(protocol.HeaderAPIVersion)); err != nil {
				return func() {}, err
			}
		}
		return func() {}, t.httpError(resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if err := protocol.DecodeReply(data, rep); err != nil {
		release()
		return func() {}, err
	}
	return release, nil
}

// Buffers reused from one request to the next: request bodies, and the replies that a
// caller keeps (block reads, up to maxPooledReply bytes). Blocks travel by megabytes; each
// request would otherwise take new buffers, cleared, then garbage.
var (
	requestBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}
	replyBuffers   = sync.Pool{New: func() any { return new([]byte) }}
)

const maxPooledReply = protocol.MaxBodySize

func releaseRequest(buf *bytes.Buffer) {
	if buf.Cap() > 2*protocol.MaxBodySize {
		return
	}
	buf.Reset()
	requestBuffers.Put(buf)
}

// requestBody is an encoded request being sent. Close, by the HTTP transport when it is
// done with the body (maybe in another goroutine, after the reply) or by the caller,
// waits for a Read under way, then calls done (which gives the buffer back); reads after
// it fail.
type requestBody struct {
	mu     sync.Mutex
	r      *bytes.Reader
	done   func()
	closed bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errors.New("request body read after it was closed")
	}
	return b.r.Read(p)
}

// Close is called by the HTTP transport when it is done, and by send in case the
// transport never saw the body; only the first call counts.
func (b *requestBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		if b.done != nil {
			b.done()
		}
	}
	return nil
}

// cause says why a request failed: its timeout when one ended it.
func (t *transport) cause(ctx context.Context, err error) error {
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errStalled):
		return cause
	case errors.Is(cause, context.DeadlineExceeded):
		return errors.New("the request took too long")
	}
	return unwrapURLError(err)
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// olderServer says why a server of an earlier minor version (its Api-Version, answered
// with every reply) refused an upload (block_create) as badly signed: it hashes an
// upload's blocks as that version did (see protocol.APIVersion). It is nil for a server of
// this version or later.
func (t *transport) olderServer(version string) error {
	major, minor, err := protocol.ParseAPIVersion(version)
	if err != nil || major != protocol.APIMajor || minor >= protocol.APIMinor {
		return nil
	}
	return parsec.Errorf(parsec.Invalid, "the server at %s speaks protocol version %s, older than this client's %s, and checks uploads differently: upgrade the server", t.base, version, t.version)
}

// httpError turns a handshake refusal into one clear error.
func (t *transport) httpError(code int, text string) error {
	org := t.org
	switch code {
	case protocol.HTTPUnauthorized:
		return parsec.Errorf(parsec.Unauthorized, "the server refused the request's credentials as malformed")
	case protocol.HTTPForbidden:
		return parsec.Errorf(parsec.BadAuth, "the server at %s does not recognize this device or invitation in organization %s (%s)", t.base, org, text)
	case protocol.HTTPNotFound:
		return parsec.Errorf(parsec.NotFound, "organization %s not found on the server at %s", org, t.base)
	case protocol.HTTPGone:
		return parsec.Errorf(parsec.Gone, "this invitation has already been used or was cancelled")
	case protocol.HTTPTooLarge:
		return parsec.Errorf(parsec.TooLarge, "the request is too large for the server")
	case protocol.HTTPUnsupportedType:
		return parsec.Errorf(parsec.Invalid, "the server did not understand the request (%s)", text)
	case protocol.HTTPUnsupportedVersion:
		return parsec.Errorf(parsec.Invalid, "the server at %s does not speak protocol version %s: upgrade parsec or the server", t.base, t.version)
	case protocol.HTTPExpired:
		return parsec.Errorf(parsec.Expired, "organization %s has expired: contact the server administrator", org)
	case protocol.HTTPRevoked:
		return parsec.Errorf(parsec.Revoked, "this user has been revoked from organization %s: it can no longer use its devices", org)
	case protocol.HTTPFrozen:
		return parsec.Errorf(parsec.Frozen, "this user is frozen in organization %s by the server administrator", org)
	case protocol.HTTPClockSkew:
		return parsec.Errorf(parsec.Skew, "the server rejected the request's time: check this computer's clock")
	case protocol.HTTPReplayed:
		return fmt.Errorf("%w: %w", errReplayed, parsec.Errorf(parsec.Invalid, "the server refused the request as a replay of an earlier one (%s)", text))
	case protocol.HTTPTooManyRequests:
		return parsec.Errorf(parsec.Unavailable, "the server at %s refused the request: %s", t.base, text)
	case protocol.HTTPUnavailable:
		return parsec.Errorf(parsec.Unavailable, "the server at %s is unavailable", t.base)
	}
	if text == "" {
		text = http.StatusText(code)
	}
	return parsec.Errorf(parsec.Unavailable, "the server at %s answered %d: %s", t.base, code, text)
}

// readBody reads a body of up to limit bytes (one more to tell when it is longer), in one
// buffer sized from the announced length when there is one: replies carry megabytes of
// blocks, which are better not copied while a buffer grows. With reuse set, that buffer is
// *reuse when large enough (and becomes *reuse otherwise).
func readBody(r io.Reader, announced int64, limit int, reuse *[]byte) ([]byte, error) {
	if announced < 0 || announced > int64(limit) {
		return io.ReadAll(io.LimitReader(r, int64(limit)+1))
	}
	var buf []byte
	switch {
	case reuse == nil:
		buf = make([]byte, announced)
	case int64(cap(*reuse)) >= announced:
		buf = (*reuse)[:announced]
	default:
		buf = make([]byte, announced)
		*reuse = buf
	}
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	return buf, nil
}
