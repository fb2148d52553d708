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
	last atomic.Uint64 // the last ID assigned
	fan  *Fanout       // whose organizations retain the last events
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
	b := &Memory{fan: newFanout(cfg.buffer, cfg.retain)}
	b.last.Store(uint64(max(clock.Now(), 0)))
	return b
}

// Publish implements Bus.
func (b *Memory) Publish(ev Event) uint64 {
	o := b.fan.orgFor(ev.Org)
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

// PublishBatch implements Bus.
func (b *Memory) PublishBatch(evs []Event) []uint64 {
	ids := make([]uint64, len(evs))
	for i, ev := range evs {
		ids[i] = b.Publish(ev)
	}
	return ids
}

// Subscribe implements Bus.
func (b *Memory) Subscribe(orgID parsec.OrganizationID, lastEventID uint64, filter func(*Event) bool) *Subscription {
	o := b.fan.orgFor(orgID)
	if o == nil {
		return Ended(ErrBusClosed)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return Ended(ErrBusClosed)
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
	return o.subscribe(b.fan.buffer, replay, missed, filter)
}

// Close implements Bus.
func (b *Memory) Close() { b.fan.Close() }

// Fanout delivers events to the subscriptions of one process, organization by organization:
// the part of a Bus that numbers no event and keeps none. A Bus that numbers and keeps its
// events elsewhere, such as in a database shared by several processes (package pgevents),
// hands them to a Fanout, which delivers them to the subscribers whose filter accepts them
// and drops those that do not keep up, as Memory does.
//
// The Bus orders the calls: it delivers the events of an organization in the order of their
// IDs, and, for a subscriber resuming from an event, computes the events to replay and
// subscribes without delivering meanwhile, so that the subscription has neither gap nor
// duplicate. Fanout is safe for concurrent use.
type Fanout struct {
	buffer, retain int

	mu     sync.Mutex
	orgs   map[parsec.OrganizationID]*org
	closed bool
}

// NewFanout returns a Fanout whose subscriptions have room for buffer undelivered events
// beyond those they replay, as Buffer sets for New; less than 1 means the default, 256.
func NewFanout(buffer int) *Fanout {
	if buffer < 1 {
		buffer = defaultBuffer
	}
	return newFanout(buffer, 0)
}

// newFanout returns a Fanout whose organizations retain their last retain events in their
// ring, for Memory.
func newFanout(buffer, retain int) *Fanout {
	return &Fanout{buffer: buffer, retain: retain, orgs: make(map[parsec.OrganizationID]*org)}
}

// org holds the retained events (for Memory) and the subscriptions of one organization. Its
// lock orders the deliveries in the organization: Memory assigns IDs and delivers events
// under it.
type org struct {
	mu     sync.Mutex
	ring   ring
	subs   map[*Subscription]struct{}
	closed bool // the bus is closed
}

// orgFor returns the state of an organization, or nil if the Fanout is closed.
func (f *Fanout) orgFor(id parsec.OrganizationID) *org {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	o := f.orgs[id]
	if o == nil {
		o = &org{ring: newRing(f.retain), subs: make(map[*Subscription]struct{})}
		f.orgs[id] = o
	}
	return o
}

// Subscribe starts a subscription to the events of orgID that filter accepts (all of them if
// filter is nil), that first delivers replay, in order, then the events delivered from now
// on. missed is what its Missed reports. The subscription has room for replay beyond its
// buffer; the Fanout takes ownership of replay. If the Fanout is closed, the subscription is
// already ended.
func (f *Fanout) Subscribe(orgID parsec.OrganizationID, replay []Event, missed bool, filter func(*Event) bool) *Subscription {
	o := f.orgFor(orgID)
	if o == nil {
		return Ended(ErrBusClosed)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.subscribe(f.buffer, replay, missed, filter)
}

// subscribe registers a new subscription in o, or returns an ended one if the bus is
// closed. The caller holds o.mu.
func (o *org) subscribe(buffer int, replay []Event, missed bool, filter func(*Event) bool) *Subscription {
	if o.closed {
		return Ended(ErrBusClosed)
	}
	s := newSubscription(o, buffer, replay, missed, filter)
	o.subs[s] = struct{}{}
	return s
}

// Deliver sends ev to the subscriptions of ev.Org whose filter accepts it, and ends those
// whose buffer is full with ErrTooSlow. It never blocks on a subscriber.
func (f *Fanout) Deliver(ev Event) {
	f.mu.Lock()
	o := f.orgs[ev.Org]
	f.mu.Unlock()
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deliver(ev)
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

// End ends every current subscription with err: ErrTooSlow when the Bus lost events that
// its subscribers may have wanted, so that they resume and learn that they missed some. Later
// subscriptions run as usual.
func (f *Fanout) End(err error) { f.end(err, false) }

// Close ends every subscription with ErrBusClosed; later subscriptions are already ended. It
// is safe to call more than once.
func (f *Fanout) Close() { f.end(ErrBusClosed, true) }

func (f *Fanout) end(err error, closing bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.orgs {
		o.mu.Lock()
		o.closed = o.closed || closing
		for s := range o.subs {
			delete(o.subs, s)
			s.end(err)
		}
		o.mu.Unlock()
	}
	if closing {
		f.closed = true
		f.orgs = nil
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

// Ended returns a subscription that has already ended with err (not nil): what a Bus
// returns when it cannot start one, such as when its database is unreachable.
func Ended(err error) *Subscription {
	s := &Subscription{ch: make(chan Event), done: make(chan struct{})}
	s.end(err)
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
