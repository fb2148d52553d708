package client

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/client/localdb"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// Options tune a client; the zero value is fine.
type Options struct {
	HTTPClient *http.Client
	Clock      parsec.Clock
	// Warn, if set, hears of problems that do not stop an operation: a workspace
	// maintenance that failed and will be retried, a local file skipped by a copy. It is
	// called by one goroutine at a time.
	Warn func(msg string)
	// NewID, if set, draws the IDs of the workspaces, folders and files this client
	// creates (parsec.NewVlobID otherwise): a test seeds it to replay a run.
	NewID func() parsec.VlobID
}

// Client is an unlocked device connected to its organization.
type Client struct {
	dev    *device.Local
	signer crypto.SigningKey
	t      *transport
	clock  parsec.Clock
	ids    func() parsec.VlobID // Options.NewID
	cache  *localdb.DB
	warnf  func(msg string)
	warnMu sync.Mutex // warnf is called by one goroutine at a time

	pollMu sync.Mutex // serializes PollCertificates
	// crossCopies lets one copy between workspaces run at a time: each holds its
	// destination (WriteFiles) while reading its source, so two in opposite directions
	// (A to B, B to A, as two GUI tabs may ask) would wait for each other for ever.
	crossCopies chan struct{}

	mu       sync.Mutex
	certs    *certif.Memory
	keys     map[parsec.VlobID]*realmKeys // realm keys, in memory only
	open     map[parsec.VlobID]*Workspace // workspaces opened so far
	tampered error                        // set once the server sent something invalid: the client stops there
	blocks   *blockCache                  // blocks read, kept on the device; nil when not enabled
	// blockSize is the span size of new files, asked of the server (newFileBlockSize); 0
	// until then. blockSizeAsked is what the server asked for.
	blockSize      uint64
	blockSizeAsked int64
}

// Open prepares a client for an unlocked device: it opens the device's local cache in
// configDir and loads the certificates validated in earlier runs. It does not contact the
// server.
func Open(ctx context.Context, configDir string, dev *device.Local, opts Options) (*Client, error) {
	signer, err := dev.Signer()
	if err != nil {
		return nil, parsec.Errorf(parsec.Invalid, "device %s: %v", dev.DeviceID, err)
	}
	server, err := protocol.ParseServerAddr(dev.ServerURL)
	if err != nil {
		return nil, err
	}
	cache, err := localdb.Open(ctx, cachePath(configDir, dev.DeviceID), dev.LocalKey)
	if err != nil {
		return nil, err
	}
	c := &Client{dev: dev, signer: signer, t: newTransport(opts.HTTPClient, server, dev.OrganizationID), clock: opts.Clock, ids: opts.NewID, cache: cache, warnf: opts.Warn, keys: map[parsec.VlobID]*realmKeys{}, crossCopies: make(chan struct{}, 1)}
	if c.clock == nil {
		c.clock = parsec.SystemClock{}
	}
	if err := c.loadCertificates(ctx); err != nil {
		cache.Close()
		return nil, err
	}
	return c, nil
}

// warn tells Options.Warn, if set, of a problem that does not stop the operation.
func (c *Client) warn(format string, args ...any) {
	if c.warnf != nil {
		msg := fmt.Sprintf(format, args...)
		c.warnMu.Lock()
		defer c.warnMu.Unlock()
		c.warnf(msg)
	}
}

// Close releases the local cache.
func (c *Client) Close() error { return c.cache.Close() }

// Device returns the client's device.
func (c *Client) Device() *device.Local { return c.dev }

// Call sends an authenticated command. It is the one way the client talks to the server as
// this device: every request is signed over its method, path, time and body.
func (c *Client) Call(ctx context.Context, cmd string, req, rep any) error {
	if err := c.failed(); err != nil {
		return err
	}
	return c.t.call(ctx, protocol.RouteAuthenticated, cmd, req, rep, func(path string, body []byte) string {
		return protocol.SignRequest(c.signer, c.dev.DeviceID, http.MethodPost, path, c.t.now(c.clock), body)
	})
}

// callKeeping is Call reading the reply into a reused buffer, which the decoded reply may
// share (protocol.Bytes) until the caller calls release. release is never nil.
func (c *Client) callKeeping(ctx context.Context, cmd string, req, rep any) (release func(), err error) {
	if err := c.failed(); err != nil {
		return func() {}, err
	}
	return resigned(func() (func(), error) {
		return c.t.send(ctx, protocol.RouteAuthenticated, cmd, req, rep, func(path string, body []byte) string {
			return protocol.SignRequest(c.signer, c.dev.DeviceID, http.MethodPost, path, c.t.now(c.clock), body)
		}, true)
	})
}

// callBody is Call for a request already encoded, given its protocol.BodyHash (see
// protocol.BlockBatch); body may be reused once it returns.
func (c *Client) callBody(ctx context.Context, cmd string, body []byte, hash [32]byte, rep any) error {
	if err := c.failed(); err != nil {
		return err
	}
	_, err := resigned(func() (func(), error) {
		return c.t.sendBody(ctx, protocol.RouteAuthenticated, cmd, body, nil, rep, func(path string, _ []byte) string {
			return protocol.SignRequestHash(c.signer, c.dev.DeviceID, http.MethodPost, path, c.t.now(c.clock), hash)
		}, false)
	})
	return err
}

func (c *Client) failed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tampered
}

// Greater-timestamp retries: the server orders certificates by timestamp and refuses one
// that is not after the last of its topic; the client then restamps and retries.
const maxTimestampRetries = 8

// WithFreshTimestamp calls send with a timestamp for a new certificate, and again with a
// later one each time the server answers require_greater_timestamp. offset is added to the
// server's bound on retry (larger offsets win races: users and devices use more than realm
// certificates, which use more than manifests).
func (c *Client) WithFreshTimestamp(ctx context.Context, offset time.Duration, send func(ts parsec.DateTime) error) error {
	ts := c.clock.Now()
	for range maxTimestampRetries {
		err := send(ts)
		se, ok := protocol.StatusOf(err)
		if !ok || se.Status != protocol.StatusRequireGreaterTimestamp {
			return err
		}
		bound := se.Detail.StrictlyGreaterThan
		if bound.IsZero() {
			return parsec.Errorf(parsec.Tampered, "the server asked for a greater timestamp without saying which")
		}
		ts = max(c.clock.Now(), bound.Add(offset))
	}
	return parsec.Errorf(parsec.Conflict, "the server kept asking for a greater timestamp (%d attempts): too many concurrent changes, try again", maxTimestampRetries)
}

// certify signs the certificate that cert makes for a fresh timestamp and sends it in the
// request of cmd that req makes, with a later timestamp each time the server asks (see
// WithFreshTimestamp); once the server accepts it, it brings this device's certificates up
// to date, so that what follows sees the change. It is the one way a client records a
// certificate.
func (c *Client) certify(ctx context.Context, offset time.Duration, cmd string, cert func(ts parsec.DateTime) certif.Certificate, req func(signed []byte) any) error {
	err := c.WithFreshTimestamp(ctx, offset, func(ts parsec.DateTime) error {
		signed := cert(ts)
		return c.Call(ctx, cmd, req(certif.SignSeen(c.signer, signed, *c.seen(signed.Topic()))), nil)
	})
	if err != nil {
		return err
	}
	_, err = c.PollCertificates(ctx)
	return err
}

func (c *Client) now() parsec.DateTime { return c.clock.Now() }

// newID draws the ID of a folder or file to create (of a workspace: newRealmID).
func (c *Client) newID() parsec.VlobID {
	if c.ids != nil {
		return c.ids()
	}
	return parsec.NewVlobID()
}

// newRealmID draws the ID of a workspace to create: random, unlike those of its entries
// (see parsec.NewRealmID).
func (c *Client) newRealmID() parsec.VlobID {
	if c.ids != nil {
		return c.ids()
	}
	return parsec.NewRealmID()
}

// seen is the view of the certificate history this device has validated, for signing
// something of topic t: readers check that their history agrees (see certif.View).
func (c *Client) seen(t certif.Topic) *certif.View {
	v := c.certs.View(t)
	return &v
}

// OrganizationConfig asks the server for the organization's settings (whether External users
// are allowed, the active users limit…). They are hints for the interface: the server
// enforces what it must.
func (c *Client) OrganizationConfig(ctx context.Context) (protocol.OrganizationConfig, error) {
	var rep protocol.OrganizationConfig
	err := c.Call(ctx, protocol.CmdOrganizationConfig, protocol.OrganizationConfigReq{}, &rep)
	return rep, err
}
