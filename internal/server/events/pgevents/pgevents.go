package pgevents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/events"
)

// channel is the PostgreSQL notification channel that wakes the buses of every process when
// an event was recorded. Notifications carry nothing: the events are read from the table.
const channel = "parsec_events"

// publishLock is the key of the transaction-level advisory lock under which publishers number
// and record their events. It makes the order of the IDs the order of the commits: a reader
// that sees an event sees every event of a smaller ID. Being one lock for every organization
// and process, it is taken once for many events: each process records the events published
// meanwhile, by every request of every organization, in one transaction (see write).
const publishLock int64 = 0x7061727365637631 // "parsecv1"

// maxWrite is how many events the recording goroutine gathers from concurrent publishers
// for one transaction; one PublishBatch larger than that is recorded whole, in one.
const maxWrite = 512

const (
	defaultWindow = 24 * time.Hour
	pollEvery     = 30 * time.Second // catch up even without notification, and prune
	pageSize      = 512
)

// Option adjusts a bus made by New.
type Option func(*Bus)

// Window makes the bus keep events for resumption for d, instead of 24 hours. A subscriber
// resuming from an event older than that misses events (events.Subscription.Missed).
func Window(d time.Duration) Option { return func(b *Bus) { b.window = d } }

// Buffer is events.Buffer for New.
func Buffer(n int) Option { return func(b *Bus) { b.buffer = max(n, 1) } }

// Bus is the events.Bus of server processes sharing one PostgreSQL database (the tables
// events and event_floor of the metastore's schema, see
// internal/server/metastore/postgres/migrations). Publish records the event in the table
// and notifies the channel parsec_events; each process's bus listens to the channel, reads
// the events recorded since the last one it delivered and delivers them to its own
// subscribers. Event IDs come from the table: strictly increasing across every process, so
// a subscriber may resume on any process with the ID of the last event it received. Events
// older than the window are deleted.
//
// A bus starts two goroutines: one holds a connection of the pool for LISTEN, the other records
// the events published; Close stops them.
type Bus struct {
	pool   *pgxpool.Pool
	log    *slog.Logger
	window time.Duration
	buffer int
	// pruneEvery is how often the listening goroutine prunes (pollEvery; tests that prune
	// themselves with a window of 0 turn it off, or it would prune the events they publish
	// before this process reads them).
	pruneEvery time.Duration
	ctx        context.Context // ends at Close
	cancel     context.CancelFunc
	stopped    chan struct{}
	// publish takes the events to record to the goroutine that records them (write).
	publish chan *publications
	written chan struct{} // closed when that goroutine has stopped

	// mu orders deliveries and subscriptions: cursor is the ID of the last event read from
	// the table, all of them delivered to the subscriptions of this process (fan).
	mu      sync.Mutex
	cursor  int64
	fan     *events.Fanout
	observe func(context.Context, *events.Event)
}

var _ events.Bus = (*Bus)(nil)

// New returns a bus recording its events in the database of pool, whose schema the
// metastore created. It delivers the events published from now on (or resumed from).
func New(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, opts ...Option) (*Bus, error) {
	b := &Bus{pool: pool, log: log, window: defaultWindow, pruneEvery: pollEvery,
		stopped: make(chan struct{}), publish: make(chan *publications), written: make(chan struct{})}
	for _, o := range opts {
		o(b)
	}
	b.fan = events.NewFanout(b.buffer)
	if err := pool.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM events`).Scan(&b.cursor); err != nil {
		return nil, err
	}
	b.ctx, b.cancel = context.WithCancel(context.WithoutCancel(ctx))
	go b.listen()
	go b.write()
	return b, nil
}

// Observe makes the bus call f with each event it reads from the table, whichever process
// published it, before delivering it to the subscriptions of this process. The server
// updates there what its subscribers' filters read (such as the members of a realm). f
// runs on one goroutine at a time, in the order of the IDs, and may read the database.
func (b *Bus) Observe(f func(context.Context, *events.Event)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.observe = f
}

// Publish implements events.Bus. It waits for the event to be recorded, not for its delivery.
func (b *Bus) Publish(ev events.Event) uint64 {
	return b.PublishBatch([]events.Event{ev})[0]
}

// PublishBatch implements events.Bus: the events are recorded in one transaction (with
// those of other publishers meanwhile). It waits for them to be recorded, not for their
// delivery.
func (b *Bus) PublishBatch(evs []events.Event) []uint64 {
	ids := make([]uint64, len(evs))
	if len(evs) == 0 {
		return ids
	}
	ps := make([]publication, 0, len(evs))
	for _, ev := range evs {
		audience, err := json.Marshal(ev.Audience)
		if err != nil {
			b.log.Error("publish event", "err", err)
			return ids
		}
		ps = append(ps, publication{ev: ev, audience: audience})
	}
	g := &publications{ps: ps, ids: make(chan []int64, 1)}
	select {
	case b.publish <- g:
	case <-b.ctx.Done():
		return ids
	}
	for i, id := range <-g.ids {
		ids[i] = uint64(id)
	}
	return ids
}

// publication is an event to record.
type publication struct {
	ev       events.Event
	audience []byte
}

// publications are the events of one call to PublishBatch, and where their IDs go once they
// are recorded (zeros: they were not).
type publications struct {
	ps  []publication
	ids chan []int64
}

// write records the events of Publish until the bus closes: the events published while it
// records some are recorded together, in the next transaction, so that a publisher waits for
// at most two transactions whatever the number of publishers, and the lock of every
// publisher of the database is taken once per transaction rather than once per event.
func (b *Bus) write() {
	defer close(b.written)
	for {
		var groups []*publications
		n := 0
		select {
		case g := <-b.publish:
			groups, n = append(groups, g), len(g.ps)
		case <-b.ctx.Done():
			return
		}
	more:
		for n < maxWrite {
			select {
			case g := <-b.publish:
				groups, n = append(groups, g), n+len(g.ps)
			default:
				break more
			}
		}
		batch := make([]*publication, 0, n)
		for _, g := range groups {
			for i := range g.ps {
				batch = append(batch, &g.ps[i])
			}
		}
		ids, err := b.record(batch)
		if err != nil && b.ctx.Err() == nil {
			b.log.Error("publish events: the events are lost", "events", len(batch), "org", batch[0].ev.Org,
				"event", batch[0].ev.Name, "err", err)
		}
		for _, g := range groups {
			got := make([]int64, len(g.ps))
			if err == nil {
				copy(got, ids)
			}
			ids = ids[len(g.ps):]
			g.ids <- got
		}
	}
}

// record records a batch of events in one transaction, under the publishers' lock, notifies
// the channel once, and returns their IDs. The events go in one statement, in their order:
// the identity column numbers the rows as the insertion takes them, so the batch's IDs
// increase in the batch's order (and past every ID recorded before, under the lock).
func (b *Bus) record(batch []*publication) ([]int64, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	orgs, names, payloads, audiences := make([]string, len(batch)), make([]string, len(batch)), make([][]byte, len(batch)), make([][]byte, len(batch))
	for i, p := range batch {
		orgs[i], names[i], payloads[i], audiences[i] = string(p.ev.Org), p.ev.Name, p.ev.Payload, p.audience
	}
	ids := make([]int64, 0, len(batch))
	err := pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		ids = ids[:0]
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, publishLock); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `INSERT INTO events (org, name, payload, audience)
			SELECT org, name, payload, audience
			FROM unnest($1::text[], $2::text[], $3::bytea[], $4::bytea[]) WITH ORDINALITY AS e (org, name, payload, audience, n)
			ORDER BY n
			RETURNING id`, orgs, names, payloads, audiences)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) != len(batch) {
			return fmt.Errorf("recorded %d events of %d", len(ids), len(batch))
		}
		slices.Sort(ids)
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, '')`, channel)
		return err
	})
	if err != nil {
		return make([]int64, len(batch)), err
	}
	return ids, nil
}

// Subscribe implements events.Bus. It reads the database: first the events published before
// the call and not yet delivered here, then those to replay.
func (b *Bus) Subscribe(orgID parsec.OrganizationID, lastEventID uint64, filter func(*events.Event) bool) *events.Subscription {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx.Err() != nil {
		return events.Ended(events.ErrBusClosed)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	// Every event the subscriber may have received is now delivered here, so that
	// lastEventID is at most the cursor, and the events after the cursor reach the new
	// subscription through catchUp.
	if err := b.catchUp(ctx); err != nil {
		b.log.Error("event subscription", "err", err)
		return events.Ended(events.ErrBusClosed)
	}
	var replay []events.Event
	missed := false
	if lastEventID != 0 && lastEventID != uint64(b.cursor) {
		err := pgx.BeginTxFunc(ctx, b.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			// The subscriber received lastEventID, an event of this organization: if
			// the table still holds it, it holds every later one.
			replay, missed = nil, false
			var known bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events WHERE org = $1 AND id = $2)`,
				string(orgID), int64(min(lastEventID, 1<<63-1))).Scan(&known); err != nil {
				return err
			}
			if !known || lastEventID > uint64(b.cursor) {
				missed = true
				return nil
			}
			rows, err := tx.Query(ctx, `SELECT id, org, name, payload, audience FROM events
				WHERE org = $1 AND id > $2 AND id <= $3 ORDER BY id`, string(orgID), int64(lastEventID), b.cursor)
			if err != nil {
				return err
			}
			evs, err := scanEvents(rows)
			for _, ev := range evs {
				if filter == nil || filter(&ev) {
					replay = append(replay, ev)
				}
			}
			return err
		})
		if err != nil {
			b.log.Error("event subscription: replay", "err", err)
			return events.Ended(events.ErrBusClosed)
		}
	}
	return b.fan.Subscribe(orgID, replay, missed, filter)
}

// Close implements events.Bus. It waits for the bus's goroutines to stop.
func (b *Bus) Close() {
	b.cancel()
	<-b.stopped
	<-b.written
	b.fan.Close()
}

// listen waits for notifications and catches up after each, and every pollEvery, reconnecting
// when the connection fails. It prunes old events every pollEvery.
func (b *Bus) listen() {
	defer close(b.stopped)
	lastPrune := time.Time{}
	for b.ctx.Err() == nil {
		conn, err := b.pool.Acquire(b.ctx)
		if err == nil {
			_, err = conn.Exec(b.ctx, `LISTEN `+channel)
		}
		for err == nil {
			// LISTEN comes first, so that no event recorded after this catch-up goes
			// unnoticed.
			b.mu.Lock()
			err = b.catchUp(b.ctx)
			b.mu.Unlock()
			if err != nil {
				break
			}
			if b.pruneEvery > 0 && time.Since(lastPrune) >= b.pruneEvery {
				if err := b.prune(b.ctx); err != nil && b.ctx.Err() == nil {
					b.log.Warn("prune old events", "err", err)
				}
				lastPrune = time.Now()
			}
			wait, cancel := context.WithTimeout(b.ctx, pollEvery)
			_, err = conn.Conn().WaitForNotification(wait)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) && b.ctx.Err() == nil && !conn.Conn().IsClosed() {
				err = nil
			}
		}
		if conn != nil {
			// A connection still listening must not go back to the pool.
			conn.Conn().Close(context.WithoutCancel(b.ctx))
			conn.Release()
		}
		if b.ctx.Err() != nil {
			return
		}
		b.log.Warn("event bus: connection to the database lost, retrying", "err", err)
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// catchUp reads the events recorded after the cursor and delivers them. If some were pruned
// before this process read them (it was cut from the database for longer than the window),
// every subscription ends: their subscribers resume, and learn they missed events. The
// caller holds b.mu.
func (b *Bus) catchUp(ctx context.Context) error {
	// The floor and the events in one snapshot: read apart, a prune committed in between
	// deleted events this process had not read, and raised the floor past the cursor unseen.
	tx, err := b.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var floor int64
	if err := tx.QueryRow(ctx, `SELECT id FROM event_floor`).Scan(&floor); err != nil {
		return err
	}
	if floor > b.cursor {
		b.fan.End(events.ErrTooSlow)
		b.cursor = floor
	}
	for {
		rows, err := tx.Query(ctx, `SELECT id, org, name, payload, audience FROM events WHERE id > $1 ORDER BY id LIMIT $2`,
			b.cursor, pageSize)
		if err != nil {
			return err
		}
		evs, err := scanEvents(rows)
		if err != nil {
			return err
		}
		for i := range evs {
			ev := &evs[i]
			b.cursor = int64(ev.ID)
			if b.observe != nil {
				b.observe(ctx, ev)
			}
			b.fan.Deliver(*ev)
		}
		if len(evs) < pageSize {
			return nil
		}
	}
}

// prune deletes the events older than the window, smallest IDs first, and raises the floor.
func (b *Bus) prune(ctx context.Context) error {
	_, err := b.pool.Exec(ctx, `WITH old AS (
			DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events WHERE created < now() - make_interval(secs => $1))
			RETURNING id)
		UPDATE event_floor SET id = GREATEST(id, (SELECT MAX(id) FROM old)) WHERE EXISTS (SELECT 1 FROM old)`,
		b.window.Seconds())
	return err
}

func scanEvents(rows pgx.Rows) ([]events.Event, error) {
	defer rows.Close()
	var evs []events.Event
	// The events of one change (a file each, of a copy of many) have one audience: it is
	// decoded once, and shared, as receivers only read it.
	var lastRaw []byte
	var last events.Audience
	for rows.Next() {
		var (
			id                int64
			org, name         string
			payload, audience []byte
		)
		if err := rows.Scan(&id, &org, &name, &payload, &audience); err != nil {
			return nil, err
		}
		ev := events.Event{ID: uint64(id), Org: parsec.OrganizationID(org), Name: name, Payload: payload}
		if lastRaw == nil || !bytes.Equal(audience, lastRaw) {
			last = events.Audience{}
			if err := json.Unmarshal(audience, &last); err != nil {
				return nil, err
			}
			lastRaw = append(lastRaw[:0:0], audience...)
		}
		ev.Audience = last
		evs = append(evs, ev)
	}
	return evs, rows.Err()
}
