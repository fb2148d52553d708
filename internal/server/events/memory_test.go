package events_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/parsec"
	. "github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/events/eventstest"
)

// Delivery happens inside Publish, so once Publish returns, an accepted event is already
// in the subscription's channel: the tests read it without waiting.

const (
	orgA = parsec.OrganizationID("Org-A")
	orgB = parsec.OrganizationID("Org-B")
)

var t0 = parsec.DateTime(1_800_000_000_000_000) // 2027-01-15, in µs

func newBus(t *testing.T, opts ...Option) *Memory {
	b := New(&parsec.FixedClock{T: t0}, opts...)
	t.Cleanup(b.Close)
	return b
}

// Events published one at a time or in a batch are numbered and delivered in order.
func TestOrdering(t *testing.T) {
	b := newBus(t)
	s := b.Subscribe(orgA, 0, nil)
	defer s.Close()
	realm := parsec.NewVlobID()
	want := []Event{
		{Org: orgA, Name: "COMMON_CERTIFICATE", Payload: []byte("1"), Audience: Audience{All: true}},
		{Org: orgA, Name: "VLOB", Payload: []byte("2"), Audience: Audience{Realm: &realm, ExceptDevice: parsec.NewDeviceID()}},
		{Org: orgA, Name: "INVITATION", Payload: []byte("3"), Audience: Audience{Admins: true, Users: []parsec.UserID{parsec.NewUserID()}}},
	}
	want[0].ID = b.Publish(want[0])
	for i, id := range b.PublishBatch(want[1:]) {
		want[1+i].ID = id
	}
	var prev uint64
	for i := range want {
		if want[i].ID <= prev {
			t.Fatalf("event %d: ID %d after %d", i, want[i].ID, prev)
		}
		prev = want[i].ID
	}
	if want[0].ID != uint64(t0)+1 {
		t.Errorf("first ID %d, want the clock in µs plus one, %d", want[0].ID, uint64(t0)+1)
	}
	got := eventstest.Pending(s)
	if len(got) != len(want) {
		t.Fatalf("received %d events, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Org != w.Org || g.Name != w.Name || string(g.Payload) != string(w.Payload) ||
			g.Audience.All != w.Audience.All || g.Audience.Admins != w.Audience.Admins ||
			g.Audience.Realm != w.Audience.Realm || !slices.Equal(g.Audience.Users, w.Audience.Users) ||
			g.Audience.ExceptDevice != w.Audience.ExceptDevice {
			t.Errorf("event %d: got %+v, want %+v", i, g, w)
		}
	}
	if s.Missed() || s.Err() != nil {
		t.Errorf("Missed() = %v, Err() = %v; want false, nil", s.Missed(), s.Err())
	}
}

func TestFilter(t *testing.T) {
	b := newBus(t)
	me := parsec.NewUserID()
	myRealm, otherRealm := parsec.NewVlobID(), parsec.NewVlobID()
	// What a server would build for a standard user who is a member of myRealm.
	filter := func(ev *Event) bool {
		a := ev.Audience
		return a.All || slices.Contains(a.Users, me) || a.Realm != nil && *a.Realm == myRealm
	}
	s := b.Subscribe(orgA, 0, filter)
	defer s.Close()
	all := b.Subscribe(orgA, 0, nil)
	defer all.Close()

	tests := []struct {
		name     string
		audience Audience
		want     bool
	}{
		{"everybody", Audience{All: true}, true},
		{"me among users", Audience{Users: []parsec.UserID{parsec.NewUserID(), me}}, true},
		{"other users", Audience{Users: []parsec.UserID{parsec.NewUserID()}}, false},
		{"admins", Audience{Admins: true}, false},
		{"my realm", Audience{Realm: &myRealm}, true},
		{"other realm", Audience{Realm: &otherRealm}, false},
	}
	var want []string
	for _, tc := range tests {
		b.Publish(Event{Org: orgA, Name: tc.name, Audience: tc.audience})
		if tc.want {
			want = append(want, tc.name)
		}
	}
	var got []string
	for _, ev := range eventstest.Pending(s) {
		got = append(got, ev.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("filtered subscription received %q, want %q", got, want)
	}
	if n := len(eventstest.Pending(all)); n != len(tests) {
		t.Errorf("unfiltered subscription received %d events, want %d", n, len(tests))
	}
}

func TestOrganizationsIsolated(t *testing.T) {
	b := newBus(t)
	sa := b.Subscribe(orgA, 0, nil)
	sb := b.Subscribe(orgB, 0, nil)
	defer sa.Close()
	defer sb.Close()
	idB := eventstest.PublishN(b, orgB, 3)
	idA := eventstest.PublishN(b, orgA, 2)
	if got := eventstest.IDs(eventstest.Pending(sa)); !slices.Equal(got, idA) {
		t.Errorf("subscription of %s received %v, want %v", orgA, got, idA)
	}
	if got := eventstest.IDs(eventstest.Pending(sb)); !slices.Equal(got, idB) {
		t.Errorf("subscription of %s received %v, want %v", orgB, got, idB)
	}
	// An ID of another organization is not a resumption point.
	r := b.Subscribe(orgA, idB[1], nil)
	defer r.Close()
	if !r.Missed() || len(eventstest.Pending(r)) != 0 {
		t.Errorf("resuming %s from an event of %s: Missed() = %v, want true and nothing replayed", orgA, orgB, r.Missed())
	}
}

func TestResume(t *testing.T) {
	// Every subtest starts from a bus where the same thing happened, at the same clock.
	setup := func(t *testing.T) (*Memory, []uint64) {
		b := newBus(t)
		published := eventstest.PublishN(b, orgA, 6)
		eventstest.PublishN(b, orgB, 2) // interleaved: IDs of orgA are not consecutive
		return b, append(published, eventstest.PublishN(b, orgA, 2)...)
	}
	_, published := setup(t)
	even := func(ev *Event) bool { return ev.ID%2 == 0 }

	tests := []struct {
		name   string
		last   uint64
		filter func(*Event) bool
		want   []uint64
	}{
		{"middle", published[2], nil, published[3:]},
		{"oldest retained", published[0], nil, published[1:]},
		{"last of the organization", published[len(published)-1], nil, nil},
		{"filtered", published[1], even, slices.DeleteFunc(slices.Clone(published[2:]), func(id uint64) bool { return id%2 != 0 })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := setup(t)
			s := b.Subscribe(orgA, tc.last, tc.filter)
			defer s.Close()
			if s.Missed() {
				t.Fatal("Missed() = true, want false")
			}
			if got := eventstest.IDs(eventstest.Pending(s)); !slices.Equal(got, tc.want) {
				t.Errorf("replayed %v, want %v", got, tc.want)
			}
			// Then live, no gap, no duplicate.
			live := b.Publish(Event{Org: orgA, Name: "live", Payload: []byte{0}})
			got := eventstest.IDs(eventstest.Pending(s))
			if (tc.filter == nil || live%2 == 0) && !slices.Equal(got, []uint64{live}) {
				t.Errorf("after replay received %v, want [%d]", got, live)
			}
		})
	}
}

// TestResumeLastAssigned: the last ID the bus assigned, even in another organization, means
// "up to date" (a server may hand it to a client before any event of its organization).
func TestResumeLastAssigned(t *testing.T) {
	b := newBus(t)
	s := b.Subscribe(orgA, uint64(t0), nil)
	if s.Missed() {
		t.Error("resuming from the starting point of the bus: Missed() = true")
	}
	s.Close()
	last := eventstest.PublishN(b, orgB, 1)[0]
	s = b.Subscribe(orgA, last, nil)
	defer s.Close()
	if s.Missed() || len(eventstest.Pending(s)) != 0 {
		t.Errorf("resuming from the last ID assigned: Missed() = %v, want false and nothing replayed", s.Missed())
	}
	id := b.Publish(Event{Org: orgA})
	if got := eventstest.IDs(eventstest.Pending(s)); !slices.Equal(got, []uint64{id}) {
		t.Errorf("received %v, want [%d]", got, id)
	}
}

func TestResumeMissed(t *testing.T) {
	setup := func(t *testing.T) (*Memory, []uint64) {
		b := newBus(t, Retain(4))
		return b, eventstest.PublishN(b, orgA, 10)
	}
	b, published := setup(t)
	tests := []struct {
		name string
		last uint64
	}{
		{"too old", published[5]}, // the ring holds 6..9: 5 is gone, 6 would be resumable
		{"unknown", 12345},
		{"before the bus started", uint64(t0) - 1},
		{"in the future", published[9] + 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := setup(t)
			s := b.Subscribe(orgA, tc.last, nil)
			defer s.Close()
			if !s.Missed() {
				t.Error("Missed() = false, want true")
			}
			if got := eventstest.Pending(s); len(got) != 0 {
				t.Errorf("replayed %v, want nothing", eventstest.IDs(got))
			}
			id := b.Publish(Event{Org: orgA})
			if got := eventstest.IDs(eventstest.Pending(s)); !slices.Equal(got, []uint64{id}) {
				t.Errorf("live: received %v, want [%d]", got, id)
			}
		})
	}
	s := b.Subscribe(orgA, published[6], nil)
	defer s.Close()
	if s.Missed() {
		t.Error("resuming from the oldest retained event: Missed() = true")
	}
}

// TestResumeWhilePublishing subscribes with a resumption point while another goroutine
// publishes: replay and live delivery must join with neither gap nor duplicate.
func TestResumeWhilePublishing(t *testing.T) {
	const total, resumeAfter = 500, 50
	b := newBus(t, Buffer(total)) // this subscriber reads only at the end
	published := make(chan uint64, total)
	go func() {
		for range total {
			published <- b.Publish(Event{Org: orgA})
		}
		close(published)
	}()
	var all []uint64
	for len(all) < resumeAfter {
		all = append(all, <-published)
	}
	s := b.Subscribe(orgA, all[resumeAfter-1], nil)
	defer s.Close()
	for id := range published {
		all = append(all, id)
	}
	got := eventstest.IDs(eventstest.Pending(s))
	if want := all[resumeAfter:]; !slices.Equal(got, want) {
		t.Errorf("received %d events %v...; want %d events %v...", len(got), got[:min(5, len(got))], len(want), want[:5])
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err() = %v", err)
	}
}

func TestSlowSubscriberDropped(t *testing.T) {
	b := newBus(t, Buffer(4))
	slow := b.Subscribe(orgA, 0, nil)
	fast := b.Subscribe(orgA, 0, nil)
	defer fast.Close()
	var published []uint64
	for range 10 {
		// Would block forever here if Publish waited for the slow subscriber.
		published = append(published, b.Publish(Event{Org: orgA}))
		if got := eventstest.Pending(fast); len(got) != 1 || got[0].ID != published[len(published)-1] {
			t.Fatalf("fast subscriber received %v", eventstest.IDs(got))
		}
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow subscription not ended")
	}
	if !errors.Is(slow.Err(), ErrTooSlow) {
		t.Errorf("Err() = %v, want %v", slow.Err(), ErrTooSlow)
	}
	// What was buffered is still readable, then the channel is closed.
	if got := eventstest.IDs(eventstest.Pending(slow)); !slices.Equal(got, published[:4]) {
		t.Errorf("slow subscriber received %v, want %v", got, published[:4])
	}
	if _, ok := <-slow.C(); ok {
		t.Error("channel of a dropped subscription not closed")
	}
	slow.Close() // harmless
	if !errors.Is(slow.Err(), ErrTooSlow) {
		t.Errorf("Err() after Close = %v, want %v", slow.Err(), ErrTooSlow)
	}
	// It can resume from the last event it got.
	again := b.Subscribe(orgA, published[3], nil)
	defer again.Close()
	if got := eventstest.IDs(eventstest.Pending(again)); again.Missed() || !slices.Equal(got, published[4:]) {
		t.Errorf("resumed: Missed() = %v, replayed %v, want %v", again.Missed(), got, published[4:])
	}
}

func TestSubscriptionClose(t *testing.T) {
	b := newBus(t)
	s := b.Subscribe(orgA, 0, nil)
	if s.Err() != nil {
		t.Fatalf("Err() of a running subscription = %v", s.Err())
	}
	s.Close()
	s.Close()
	<-s.Done()
	if !errors.Is(s.Err(), ErrClosed) {
		t.Errorf("Err() = %v, want %v", s.Err(), ErrClosed)
	}
	b.Publish(Event{Org: orgA}) // must not send on the closed channel
	if _, ok := <-s.C(); ok {
		t.Error("event received after Close")
	}
}

func TestBusClose(t *testing.T) {
	b := New(&parsec.FixedClock{T: t0})
	var subs []*Subscription
	var wg sync.WaitGroup
	for i := range 20 {
		s := b.Subscribe([]parsec.OrganizationID{orgA, orgB}[i%2], 0, nil)
		subs = append(subs, s)
		wg.Go(func() {
			for range s.C() {
			}
		})
	}
	eventstest.PublishN(b, orgA, 10)
	b.Close()
	wg.Wait() // every consumer's channel got closed, so every consumer goroutine returned
	for i, s := range subs {
		if !errors.Is(s.Err(), ErrBusClosed) {
			t.Errorf("subscription %d: Err() = %v, want %v", i, s.Err(), ErrBusClosed)
		}
	}
	if id := b.Publish(Event{Org: orgA}); id != 0 {
		t.Errorf("Publish after Close returned %d, want 0", id)
	}
	s := b.Subscribe(orgA, 0, nil)
	<-s.Done()
	if !errors.Is(s.Err(), ErrBusClosed) {
		t.Errorf("Subscribe after Close: Err() = %v, want %v", s.Err(), ErrBusClosed)
	}
	s.Close()
	b.Close() // harmless
}

func TestConcurrentPublishers(t *testing.T) {
	const publishers, each = 8, 500
	b := newBus(t, Buffer(publishers*each))
	subs := map[parsec.OrganizationID]*Subscription{
		orgA: b.Subscribe(orgA, 0, nil),
		orgB: b.Subscribe(orgB, 0, nil),
	}
	results := make([][]uint64, publishers)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			org := []parsec.OrganizationID{orgA, orgB}[p%2]
			for range each {
				id := b.Publish(Event{Org: org})
				if n := len(results[p]); n > 0 && id <= results[p][n-1] {
					t.Errorf("publisher %d: ID %d after %d", p, id, results[p][n-1])
				}
				results[p] = append(results[p], id)
			}
		})
	}
	// Read concurrently with the publishers.
	received := map[parsec.OrganizationID][]uint64{}
	var rw sync.WaitGroup
	var mu sync.Mutex
	for org, s := range subs {
		rw.Go(func() {
			var got []uint64
			for len(got) < publishers/2*each {
				select {
				case ev := <-s.C():
					got = append(got, ev.ID)
				case <-time.After(10 * time.Second):
					t.Errorf("%s: received only %d events", org, len(got))
					return
				}
			}
			mu.Lock()
			received[org] = got
			mu.Unlock()
		})
	}
	wg.Wait()
	rw.Wait()

	seen := map[uint64]bool{}
	for _, r := range results {
		for _, id := range r {
			if seen[id] {
				t.Fatalf("ID %d assigned twice", id)
			}
			seen[id] = true
		}
	}
	for org, got := range received {
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Errorf("%s: IDs not received in strictly increasing order", org)
		}
	}
}

// TestIDsAcrossRestarts: a bus started later (the server restarted) numbers its events
// after every event of the previous one, and does not take old IDs for its own.
func TestIDsAcrossRestarts(t *testing.T) {
	first := New(&parsec.FixedClock{T: t0})
	old := eventstest.PublishN(first, orgA, 1000)
	first.Close()

	second := New(&parsec.FixedClock{T: t0.Add(time.Second)})
	defer second.Close()
	s := second.Subscribe(orgA, old[len(old)-1], nil)
	defer s.Close()
	if !s.Missed() {
		t.Error("resuming from an ID of the previous server: Missed() = false")
	}
	if id := second.Publish(Event{Org: orgA}); id <= old[len(old)-1] {
		t.Errorf("first ID after restart %d, not after the last one before, %d", id, old[len(old)-1])
	}
}
