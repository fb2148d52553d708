package events

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/parsec-go/parsec/internal/parsec"
)

// Errors reported by Subscription.Err.
var (
	ErrTooSlow   = parsec.Errorf(parsec.Unavailable, "event subscription dropped: too slow")
	ErrBusClosed = parsec.Errorf(parsec.Unavailable, "event subscription ended: server shutting down")
	ErrClosed    = parsec.Errorf(parsec.Cancelled, "event subscription closed")
)

const (
	defaultRetain = 1024
	defaultBuffer = 256
)

type config struct {
	retain, buffer int
}

// Option adjusts a bus made by New.
type Option func(*config)

// Retain makes the bus keep the last n events of each organization for resumption,
// instead of 1024.
func Retain(n int) Option { return func(c *config) { c.retain = max(n, 0) } }

// Buffer gives each subscription room for n undelivered events (at least 1) beyond those
// it replays, instead of 256. A subscriber that lets more pile up is dropped.
func Buffer(n int) Option { return func(c *config) { c.buffer = max(n, 1) } }

// Memory is the in-process Bus. It starts no goroutine.
type Memory struct {
	cfg  config
	last atomic.Uint64 // the last ID assigned

	mu     sync.Mutex
	orgs   map[parsec.OrganizationID]*org
	closed bool
}

var _ Bus = (*Memory)(nil)

// New returns an in-process bus.
//
// Event IDs must keep increasing when the server restarts: a client resuming with the ID of
// the last event it saw must never be mistaken for one that is up to date (or be handed
// events older than its own). The bus therefore does not count from zero but from the time
// it starts, in microseconds since the epoch, and adds one per event. A restarted server
// counts from a later time than the one before it, so its IDs are greater than all the IDs
// of its predecessor as long as the clock did not go back and the predecessor published on
// average fewer than a million events per second of its life.
func New(clock parsec.Clock, opts ...Option) *Memory {
	cfg := config{retain: defaultRetain, buffer: defaultBuffer}
	for _, o := range opts {
		o(&cfg)
	}
	b := &Memory{cfg: cfg, orgs: make(map[parsec.OrganizationID]*org)}
	b.last.Store(uint64(max(clock.Now(), 0)))
	return b
}

// org holds the retained events and the subscriptions of one organization. Its lock orders
// the publications in the organization: IDs are assigned and events delivered under it.
type org struct {
	mu     sync.Mutex
	ring   ring
	subs   map[*Subscription]struct{}
	closed bool // the bus is closed
}

// orgFor returns the state of an organization, or nil if the bus is closed.
func (b *Memory) orgFor(id parsec.OrganizationID) *org {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	o := b.orgs[id]
	if o == nil {
		o = &org{ring: newRing(b.cfg.retain), subs: make(map[*Subscription]struct{})}
		b.orgs[id] = o
	}
	return o
}

// Publish implements Bus.
func (b *Memory) Publish(ev Event) uint64 {
	o := b.orgFor(ev.Org)
	if o == nil {
		return 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return 0
	}
	ev.ID = b.last.Add(1)
	o.ring.push(ev)
	o.deliver(ev)
	return ev.ID
}

// deliver sends ev to the subscribers of o whose filter accepts it, and drops those that do
// not keep up. The caller holds o.mu.
func (o *org) deliver(ev Event) {
	for s := range o.subs {
		if s.filter != nil && !s.filter(&ev) {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			delete(o.subs, s)
			s.end(ErrTooSlow)
		}
	}
}

// Subscribe implements Bus.
func (b *Memory) Subscribe(orgID parsec.OrganizationID, lastEventID uint64, filter func(*Event) bool) *Subscription {
	o := b.orgFor(orgID)
	if o == nil {
		return endedSubscription()
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return endedSubscription()
	}
	var replay []Event
	missed := false
	if lastEventID != 0 {
		// Holding o.mu, no event of this organization can be numbered meanwhile: if
		// lastEventID is the last ID assigned, no event of this organization follows it.
		if i, ok := o.ring.find(lastEventID); ok {
			for j := i + 1; j < o.ring.len(); j++ {
				ev := o.ring.at(j)
				if filter == nil || filter(ev) {
					replay = append(replay, *ev)
				}
			}
		} else if lastEventID != b.last.Load() {
			missed = true
		}
	}
	s := newSubscription(o, b.cfg.buffer, replay, missed, filter)
	o.subs[s] = struct{}{}
	return s
}

// Close implements Bus.
func (b *Memory) Close() {
	b.mu.Lock()
	b.closed = true
	orgs := b.orgs
	b.orgs = nil
	b.mu.Unlock()
	for _, o := range orgs {
		o.mu.Lock()
		o.closed = true
		for s := range o.subs {
			delete(o.subs, s)
			s.end(ErrBusClosed)
		}
		o.mu.Unlock()
	}
}

// Subscription receives the events of one organization that its filter accepts.
type Subscription struct {
	ch     chan Event
	done   chan struct{}
	missed bool
	filter func(*Event) bool
	org    *org // nil if the subscription never started

	mu  sync.Mutex
	err error // why it ended; nil while it runs
}

// newSubscription returns a subscription to the events of o, with room for buffer events
// beyond those it replays first. The caller registers it in o.subs.
func newSubscription(o *org, buffer int, replay []Event, missed bool, filter func(*Event) bool) *Subscription {
	s := &Subscription{
		ch:     make(chan Event, buffer+len(replay)),
		done:   make(chan struct{}),
		missed: missed,
		filter: filter,
		org:    o,
	}
	for _, ev := range replay {
		s.ch <- ev
	}
	return s
}

func endedSubscription() *Subscription {
	s := &Subscription{ch: make(chan Event), done: make(chan struct{})}
	s.end(ErrBusClosed)
	return s
}

// C returns the channel of events, in increasing order of ID. It is closed when the
// subscription ends, after the events already buffered.
func (s *Subscription) C() <-chan Event { return s.ch }

// Missed reports whether events may have been lost between the event whose ID was given
// to Subscribe and the first event of this subscription: the subscriber must then
// resynchronize everything.
func (s *Subscription) Missed() bool { return s.missed }

// Done returns a channel closed when the subscription ends, at the same time as C.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// Err returns nil while the subscription runs, then why it ended: ErrTooSlow if the
// subscriber let its buffer fill up, ErrBusClosed if the bus closed, ErrClosed if the
// subscriber closed it.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the subscription. It is safe to call more than once, and after the bus ended
// the subscription (Err then keeps the bus's reason).
func (s *Subscription) Close() {
	if s.org == nil {
		return
	}
	s.org.mu.Lock()
	defer s.org.mu.Unlock()
	if _, ok := s.org.subs[s]; ok {
		delete(s.org.subs, s)
		s.end(ErrClosed)
	}
}

// end records why the subscription ended and closes its channels. The caller holds the
// lock of the subscription's organization, under which events are sent.
func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	s.err = err
	close(s.ch)
	close(s.done)
}

// ring keeps the last events of an organization, oldest first. It grows up to its size.
type ring struct {
	buf   []Event
	size  int
	start int // position of the oldest event once buf is full
}

func newRing(size int) ring { return ring{size: size} }

func (r *ring) len() int { return len(r.buf) }

func (r *ring) at(i int) *Event { return &r.buf[(r.start+i)%len(r.buf)] }

func (r *ring) push(ev Event) {
	switch {
	case r.size == 0:
	case len(r.buf) < r.size:
		r.buf = append(r.buf, ev)
	default:
		r.buf[r.start] = ev
		r.start = (r.start + 1) % r.size
	}
}

// find returns the position of the event with the given ID. IDs increase along the ring.
func (r *ring) find(id uint64) (int, bool) {
	i := sort.Search(r.len(), func(i int) bool { return r.at(i).ID >= id })
	return i, i < r.len() && r.at(i).ID == id
}
