package gui

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// A broker tells the open pages that something changed (the server announced a change, an
// exchange moved on), through a server-sent event stream; the pages then fetch themselves
// again (static/app.js).
type broker struct {
	mu     sync.Mutex
	subs   map[chan string]struct{}
	closed bool
	seq    uint64 // counts what was published
}

func newBroker() *broker { return &broker{subs: map[chan string]struct{}{}} }

// publish tells every page; a page that is behind only needs the last word.
func (b *broker) publish(ev string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	for ch := range b.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// seen says how many events were published: a page drawn from data read after it was
// said saw them all.
func (b *broker) seen() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seq
}

// seenKey holds in a request's context what the broker had published when the request came.
type seenKey struct{}

func seenOf(r *http.Request) uint64 {
	seen, _ := r.Context().Value(seenKey{}).(uint64)
	return seen
}

func (b *broker) subscribe() (chan string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, false
	}
	ch := make(chan string, 1)
	b.subs[ch] = struct{}{}
	return ch, true
}

func (b *broker) unsubscribe(ch chan string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[ch]; ok {
		delete(b.subs, ch)
		close(ch)
	}
}

func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.subs {
		delete(b.subs, ch)
		close(ch)
	}
}

// serveEvents streams the broker's events to a page. A page says with "seen" how many
// events were published when it was drawn: when more were since (published before it
// listened), it is told at once.
func (a *App) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming not supported", http.StatusInternalServerError)
		return
	}
	ch, ok := a.events.subscribe()
	if !ok {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	defer a.events.unsubscribe(ch)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	if seen, err := strconv.ParseUint(r.URL.Query().Get("seen"), 10, 64); err == nil && seen != a.events.seen() {
		fmt.Fprint(w, "data: changed\n\n")
	}
	fl.Flush()
	keepalive := time.NewTicker(25 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			fmt.Fprintf(w, "data: %s\n\n", ev)
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
		}
		fl.Flush()
	}
}
