package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// Change tells a watcher what the server announced.
type Change struct {
	// Realm is the workspace whose data or certificates changed; zero when anything may
	// have changed (the client missed events, or common certificates changed).
	Realm parsec.VlobID
	// Vlob is set for a new manifest version, and Version is its version.
	Vlob    parsec.VlobID
	Version uint64
	// Invitation is set for news of an invitation this user may greet (then nothing else
	// changed): created or ended, or its guest waiting for this user to greet them
	// (GuestWaiting), or no longer.
	Invitation   parsec.AccessToken
	GuestWaiting bool
	// Lost is set, alone, when the server cannot be reached (then nothing changed): once
	// when a connection attempt fails after the stream was up (or at the first attempt). A
	// zero Change follows when the stream is back.
	Lost error
}

// IsInvitation reports whether the change is news of an invitation only.
func (ch Change) IsInvitation() bool { return ch.Invitation != parsec.AccessToken{} }

// IsNews reports whether the change is news of an invitation or of the connection, not of
// data or certificates.
func (ch Change) IsNews() bool { return ch.IsInvitation() || ch.Lost != nil }

// Watch listens to the server's event stream until ctx is done, and calls fn for every
// change of data or certificates this user can see (certificates are polled before fn is
// called). It reconnects after a disconnection, resuming where it stopped; fn is also
// called with a zero Change after each (re)connection, since events may have been missed,
// and with a Change whose Lost is set when a connection attempt fails (once until the
// stream is back). It returns when ctx is done (nil), or when the server refuses this
// device for good.
func (c *Client) Watch(ctx context.Context, fn func(Change)) error {
	lastID := ""
	const firstBackoff = 250 * time.Millisecond
	backoff := firstBackoff
	lost := false
	for {
		connected := false
		err := c.watchOnce(ctx, &lastID, fn, &connected)
		if ctx.Err() != nil {
			return nil
		}
		switch parsec.KindOf(err) {
		case parsec.Revoked, parsec.Frozen, parsec.Expired, parsec.BadAuth, parsec.Tampered, parsec.Unauthorized:
			return err
		}
		switch {
		case connected:
			// A stream that was up ended: try again soon, and say nothing unless that fails.
			lost, backoff = false, firstBackoff
		case !lost:
			lost = true
			fn(Change{Lost: err})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// streamStall is the longest silence of an event stream before the client reconnects: the
// server sends a keepalive frame after SSEKeepaliveSeconds (30 s by default) of silence.
var streamStall = 90 * time.Second

// errStreamStalled ends a silent event stream.
var errStreamStalled = errors.New("the server's event stream went silent")

// watchOnce follows one event stream until it ends; *connected is set once the server
// accepted it.
func (c *Client) watchOnce(ctx context.Context, lastID *string, fn func(Change), connected *bool) error {
	path := c.t.path(protocol.RouteAuthenticated) + protocol.RouteEventsSuffix
	// No total: a stream lasts; only silence ends it.
	sctx, dog, cancel := newWatchdog(ctx, 1<<62, streamStall, errStreamStalled)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, c.t.url(path), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", protocol.EventStreamType)
	req.Header.Set(protocol.HeaderAPIVersion, c.t.version)
	req.Header.Set(protocol.HeaderAuthorization, protocol.SignRequest(c.signer, c.dev.DeviceID, http.MethodGet, path, c.t.now(c.clock), nil))
	if *lastID != "" {
		req.Header.Set(protocol.HeaderLastEventID, *lastID)
	}
	resp, err := c.t.http.Do(req)
	if err != nil {
		if e := untrusted(c.t.base, err); e != nil {
			return e
		}
		return parsec.Errorf(parsec.Unavailable, "cannot reach the server's event stream: %v", c.t.cause(sctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return c.t.httpError(resp.StatusCode, string(text))
	}
	*connected = true
	r := protocol.NewSSEReader(dog.reader(resp.Body))
	for {
		ev, err := r.Next()
		if errors.Is(err, protocol.ErrEventTooLarge) {
			// Refused unread; the stream goes on, but whatever it announced is missed.
			c.warn("the server sent an event larger than %d bytes: ignored", protocol.MaxEventSize)
			ev = protocol.SSEEvent{Name: protocol.EventMissed}
			err = nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return parsec.Errorf(parsec.Unavailable, "the server closed the event stream")
			}
			return parsec.Errorf(parsec.Unavailable, "event stream: %v", c.t.cause(sctx, err))
		}
		if ev.ID != "" {
			*lastID = ev.ID
		}
		switch ev.Name {
		case protocol.EventOrganizationConfig, protocol.EventMissed:
			var cfg protocol.OrganizationConfig
			if ev.Name == protocol.EventOrganizationConfig && protocol.DecodeEvent(ev.Data, &cfg) == nil {
				// A server started again on other stores may ask for other blocks.
				c.takeBlockSize(cfg.BlockSize)
			}
			if _, err := c.PollCertificates(ctx); err != nil {
				return err
			}
			fn(Change{})
		case protocol.EventCommonCertificate, protocol.EventRealmCertificate:
			if _, err := c.PollCertificates(ctx); err != nil {
				return err
			}
			var d protocol.EventCertificateData
			if protocol.DecodeEvent(ev.Data, &d) == nil && d.RealmID != nil {
				fn(Change{Realm: *d.RealmID})
			} else {
				fn(Change{})
			}
		case protocol.EventVlob:
			var d protocol.EventVlobData
			if err := protocol.DecodeEvent(ev.Data, &d); err != nil {
				return parsec.Errorf(parsec.Tampered, "event stream: %v", fmt.Errorf("vlob event: %w", err))
			}
			fn(Change{Realm: d.RealmID, Vlob: d.VlobID, Version: d.Version})
		case protocol.EventInvitation:
			var d protocol.EventInvitationData
			if protocol.DecodeEvent(ev.Data, &d) == nil && d.Token != (parsec.AccessToken{}) {
				fn(Change{Invitation: d.Token})
			}
		case protocol.EventGreetingAttemptReady, protocol.EventGreetingAttemptJoined, protocol.EventGreetingAttemptCancelled:
			var d protocol.EventGreetingAttemptData
			if protocol.DecodeEvent(ev.Data, &d) == nil && d.Token != (parsec.AccessToken{}) {
				fn(Change{Invitation: d.Token, GuestWaiting: ev.Name == protocol.EventGreetingAttemptReady})
			}
		}
	}
}
