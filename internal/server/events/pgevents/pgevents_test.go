package pgevents_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/events/eventstest"
	. "github.com/parsec-go/parsec/internal/server/events/pgevents"
	"github.com/parsec-go/parsec/internal/server/metastore/postgres"
	"github.com/parsec-go/parsec/internal/testenv"
)

const (
	orgA = parsec.OrganizationID("Org-A")
	orgB = parsec.OrganizationID("Org-B")
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopPostgres()
	os.Exit(code)
}

// pgBuses returns n buses on one new database, each with its own connections, as n server
// processes would have.
func pgBuses(t testing.TB, n int, opts ...Option) []*Bus {
	t.Helper()
	dsn := testenv.PostgresDSN(t)
	var buses []*Bus
	for range n {
		store, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		b, err := New(t.Context(), store.Pool(), slog.New(slog.DiscardHandler), opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close(); store.Close() })
		buses = append(buses, b)
	}
	return buses
}

// receive waits for n events of s.
func receive(t *testing.T, s *events.Subscription, n int) []events.Event {
	t.Helper()
	var evs []events.Event
	timeout := time.After(10 * time.Second)
	for len(evs) < n {
		select {
		case ev, ok := <-s.C():
			if !ok {
				t.Fatalf("subscription ended after %d events: %v", len(evs), s.Err())
			}
			evs = append(evs, ev)
		case <-timeout:
			t.Fatalf("received %d events, want %d", len(evs), n)
		}
	}
	return evs
}

func TestPostgresAcrossProcesses(t *testing.T) {
	buses := pgBuses(t, 2)
	a, b := buses[0], buses[1]
	subA := a.Subscribe(orgA, 0, nil)
	defer subA.Close()
	subB := b.Subscribe(orgA, 0, nil)
	defer subB.Close()
	other := b.Subscribe(orgB, 0, nil)
	defer other.Close()

	user, realm := parsec.NewUserID(), parsec.NewVlobID()
	// Audiences repeated and not, as a bus reads them back (decoded once per run of one).
	audiences := []events.Audience{{Users: []parsec.UserID{user}}, {Users: []parsec.UserID{user}}, {Realm: &realm},
		{Admins: true, ExceptDevice: parsec.NewDeviceID()}, {Admins: true}, {Users: []parsec.UserID{user}}}
	var published []uint64
	for i := range 6 {
		bus := buses[i%2]
		published = append(published, bus.Publish(events.Event{Org: orgA, Name: "PINGED", Payload: []byte{byte(i)},
			Audience: audiences[i]}))
	}
	if !slices.IsSorted(published) || slices.Contains(published, 0) || len(slices.Compact(slices.Clone(published))) != 6 {
		t.Fatalf("IDs not strictly increasing: %v", published)
	}
	for name, s := range map[string]*events.Subscription{"a": subA, "b": subB} {
		evs := receive(t, s, 6)
		if diff := cmp.Diff(published, eventstest.IDs(evs)); diff != "" {
			t.Errorf("bus %s: IDs (-published +received):\n%s", name, diff)
		}
		if got := evs[3]; got.Org != orgA || got.Name != "PINGED" || !slices.Equal(got.Payload, []byte{3}) {
			t.Errorf("bus %s: event 3 = %+v", name, got)
		}
		for i, ev := range evs {
			if diff := cmp.Diff(audiences[i], ev.Audience, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("bus %s: audience of event %d (-published +received):\n%s", name, i, diff)
			}
		}
	}
	if evs := eventstest.Pending(other); len(evs) != 0 {
		t.Errorf("another organization received %v", eventstest.IDs(evs))
	}
}

// A batch of events is recorded in one transaction (one commit, not one per event) and
// delivered in order, with the IDs PublishBatch returned, to every process.
func TestPostgresPublishBatch(t *testing.T) {
	dsn := testenv.PostgresDSN(t)
	store, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	const n = 700 // more than maxWrite
	var buses []*Bus
	for range 2 {
		b, err := New(t.Context(), store.Pool(), slog.New(slog.DiscardHandler), Buffer(n))
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		buses = append(buses, b)
	}
	sub := buses[1].Subscribe(orgA, 0, nil)
	defer sub.Close()
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = events.Event{Org: orgA, Name: "PINGED", Payload: []byte{byte(i >> 8), byte(i)}, Audience: events.Audience{All: true}}
	}
	ids := buses[0].PublishBatch(evs)
	if len(ids) != len(evs) || !slices.IsSorted(ids) || slices.Contains(ids, 0) || len(slices.Compact(slices.Clone(ids))) != len(evs) {
		t.Fatalf("IDs not strictly increasing: %v", ids)
	}
	got := receive(t, sub, len(evs))
	if diff := cmp.Diff(ids, eventstest.IDs(got)); diff != "" {
		t.Errorf("IDs (-published +received):\n%s", diff)
	}
	// Each ID is its own event's: the events arrive, in the order of their IDs, in the
	// batch's order.
	for i, ev := range got {
		if !slices.Equal(ev.Payload, evs[i].Payload) {
			t.Fatalf("event %d (ID %d) has the payload of another: %v", i, ev.ID, ev.Payload)
		}
	}
	var transactions int
	err = store.Pool().QueryRow(t.Context(), `SELECT count(DISTINCT xmin::text) FROM events WHERE id BETWEEN $1 AND $2`,
		int64(ids[0]), int64(ids[len(ids)-1])).Scan(&transactions)
	if err != nil {
		t.Fatal(err)
	}
	if transactions != 1 {
		t.Errorf("the batch was recorded in %d transactions, want 1", transactions)
	}
	if ids := buses[0].PublishBatch(nil); len(ids) != 0 {
		t.Errorf("an empty batch got IDs %v", ids)
	}
}

func TestPostgresResume(t *testing.T) {
	buses := pgBuses(t, 2)
	a, b := buses[0], buses[1]
	published := eventstest.PublishN(a, orgA, 5)
	eventstest.PublishN(a, orgB, 2)

	// Resuming on the other process, with an ID it may not have read yet.
	s := b.Subscribe(orgA, published[1], func(ev *events.Event) bool { return ev.Payload[0] != '3' })
	defer s.Close()
	if s.Missed() {
		t.Fatal("Missed on resumption from a recorded event")
	}
	more := eventstest.PublishN(a, orgA, 1)
	want := []uint64{published[2], published[4], more[0]}
	if diff := cmp.Diff(want, eventstest.IDs(receive(t, s, 3))); diff != "" {
		t.Errorf("replayed then new (-want +got):\n%s", diff)
	}

	last := b.Subscribe(orgA, more[0], nil)
	defer last.Close()
	if last.Missed() {
		t.Error("Missed on resumption from the last event")
	}
	otherOrg := eventstest.PublishN(a, orgB, 1)[0] // an event of another organization, not the last one
	eventstest.PublishN(a, orgA, 1)
	for _, id := range []uint64{more[0] + 1000, otherOrg, 1_800_000_000_000_000, 1 << 63} {
		s := b.Subscribe(orgA, id, nil)
		if !s.Missed() {
			t.Errorf("resumption from unknown ID %d: not Missed", id)
		}
		s.Close()
	}
}

func TestPostgresPruned(t *testing.T) {
	buses := pgBuses(t, 1, Window(0), PruneByHand())
	b := buses[0]
	// The bus reads the events first (as it does while it runs), so that pruning them
	// later is not a cut of the bus itself (which ends every subscription).
	seen := b.Subscribe(orgA, 0, nil)
	published := eventstest.PublishN(b, orgA, 3)
	receive(t, seen, 3)
	seen.Close()
	if err := b.Prune(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := b.Subscribe(orgA, published[0], nil)
	defer s.Close()
	if !s.Missed() {
		t.Error("resumption from a pruned event: not Missed")
	}
	eventstest.PublishN(b, orgA, 1)
	if evs := receive(t, s, 1); evs[0].ID <= published[2] {
		t.Errorf("after pruning, received %v", eventstest.IDs(evs))
	}
}

func TestPostgresObserveAndClose(t *testing.T) {
	buses := pgBuses(t, 2)
	a, b := buses[0], buses[1]
	seen := make(chan uint64, 10)
	b.Observe(func(_ context.Context, ev *events.Event) { seen <- ev.ID })
	s := b.Subscribe(orgA, 0, nil)
	id := a.Publish(events.Event{Org: orgA, Name: "PINGED"})
	if got := <-seen; got != id {
		t.Errorf("observed %d, want %d", got, id)
	}
	receive(t, s, 1)
	b.Close()
	<-s.Done()
	if s.Err() != events.ErrBusClosed {
		t.Errorf("Err after Close = %v", s.Err())
	}
	if !isEnded(b.Subscribe(orgA, 0, nil)) {
		t.Error("Subscribe after Close: subscription running")
	}
}

func isEnded(s *events.Subscription) bool {
	select {
	case <-s.Done():
		return true
	default:
		return false
	}
}

// Requests of several organizations publish at once on two processes, whose events are
// recorded together: each event gets its own ID, and every process delivers each
// organization's events, all of them, in the order of their IDs, which is the order in which
// each publisher published them.
func TestPostgresConcurrentPublishers(t *testing.T) {
	buses := pgBuses(t, 2)
	orgs := []parsec.OrganizationID{"Org-1", "Org-2", "Org-3", "Org-4"}
	const perPublisher = 50
	var subs []*events.Subscription
	for _, bus := range buses {
		for _, org := range orgs {
			s := bus.Subscribe(org, 0, nil)
			defer s.Close()
			subs = append(subs, s)
		}
	}
	var g errgroup.Group
	published := make([][]uint64, 2*len(orgs))
	for i := range published {
		bus, org := buses[i%2], orgs[i/2]
		g.Go(func() error {
			for j := range perPublisher {
				id := bus.Publish(events.Event{Org: org, Name: "PINGED", Payload: []byte{byte(i), byte(j)}})
				if id == 0 {
					return fmt.Errorf("publisher %d: event %d lost", i, j)
				}
				published[i] = append(published[i], id)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	ids := map[uint64]bool{}
	for i, p := range published {
		if !slices.IsSorted(p) {
			t.Errorf("publisher %d got IDs out of order: %v", i, p)
		}
		for _, id := range p {
			if ids[id] {
				t.Errorf("ID %d given twice", id)
			}
			ids[id] = true
		}
	}
	for i, s := range subs {
		evs := receive(t, s, 2*perPublisher)
		var got []uint64
		for _, ev := range evs {
			got = append(got, ev.ID)
		}
		// The events of the organization's two publishers, merged in the order of the IDs.
		org := i % len(orgs)
		want := slices.Sorted(slices.Values(append(slices.Clone(published[2*org]), published[2*org+1]...)))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("bus %d, %s: events (-published +delivered):\n%s", i/len(orgs), orgs[org], diff)
		}
	}
}

// TestPruneBetweenFloorAndEvents: this process has not read four events yet, three of them
// older than the window, when another process prunes them between this one's reading of
// the floor and of the events (a lock on the table holds it there). Before, the catch-up
// read the floor before the prune and the events after it: the three were lost to every
// subscription here without a word. Now both are read in one snapshot: the four events
// come (or, had the prune come first, the subscriptions would end, ErrTooSlow).
func TestPruneBetweenFloorAndEvents(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	store, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	b, err := New(ctx, store.Pool(), slog.New(slog.DiscardHandler), PruneByHand())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	s := b.Subscribe(orgA, 0, nil)
	defer s.Close()

	other, err := pgx.Connect(ctx, dsn) // another process: records events this one has not read yet
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	// Three events older than the window, then one within it.
	var ids []int64
	for range 4 {
		var id int64
		if err := other.QueryRow(ctx, `INSERT INTO events (org, name, payload, audience) VALUES ($1, 'PINGED', '', '{"All":true}') RETURNING id`, string(orgA)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if _, err := other.Exec(ctx, `UPDATE events SET created = now() - interval '2 days' WHERE id <= $1`, ids[2]); err != nil {
		t.Fatal(err)
	}
	// Another process's prune, holding the events table while this bus catches up.
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE events IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	waker, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer waker.Close(context.Background())
	if _, err := waker.Exec(ctx, `SELECT pg_notify('parsec_events', '')`); err != nil {
		t.Fatal(err)
	}
	// Wait until the bus has read the floor and waits for the events.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting int
		if err := waker.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE relation = 'events'::regclass AND NOT granted`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the bus never read the events")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The same statement as Bus.prune, with the default window (24 h).
	if _, err := tx.Exec(ctx, `WITH old AS (
			DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events WHERE created < now() - make_interval(secs => 86400))
			RETURNING id)
		UPDATE event_floor SET id = GREATEST(id, (SELECT MAX(id) FROM old)) WHERE EXISTS (SELECT 1 FROM old)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Either the catch-up saw the prune (the subscription ends) or it did not (the four
	// events come): never some of them without a word.
	var got []int64
	for len(got) < len(ids) {
		select {
		case ev, ok := <-s.C():
			if !ok {
				if s.Err() != events.ErrTooSlow {
					t.Fatalf("subscription ended with %v, want ErrTooSlow", s.Err())
				}
				return
			}
			got = append(got, int64(ev.ID))
		case <-s.Done():
			if s.Err() != events.ErrTooSlow {
				t.Fatalf("subscription ended with %v, want ErrTooSlow", s.Err())
			}
			return
		case <-time.After(10 * time.Second):
			t.Fatalf("received %v, then nothing", got)
		}
	}
	if !slices.Equal(got, ids) {
		t.Errorf("received %v, want %v or the subscription ended: the others are lost without a word", got, ids)
	}
}
