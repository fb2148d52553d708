package client_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// relay forwards TCP connections from its own address to the server's, and can go down
// (refusing connections and cutting those open) and come back on the same address: a
// server the client loses, then finds again.
type relay struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newRelay(t *testing.T, target string) *relay {
	r := &relay{t: t, target: target}
	r.up("127.0.0.1:0")
	t.Cleanup(r.down)
	return r
}

func (r *relay) up(addr string) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.ln, r.addr = ln, ln.Addr().String()
	r.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", r.target)
			if err != nil {
				c.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, c, s)
			r.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
}

func (r *relay) down() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ln.Close()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// TestWatchSaysServerLost: when the server cannot be reached, Watch says so once (Lost,
// of kind Unavailable), however many times it tries again, and a zero Change follows when
// the server is back.
func TestWatchSaysServerLost(t *testing.T) {
	p := newPeople(t)
	r := newRelay(t, strings.TrimPrefix(p.srv.URL, "http://"))
	dev := *p.alice.Device
	dev.ServerURL = "http://" + r.addr
	c, err := client.Open(t.Context(), p.alice.ConfigDir, &dev, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	changes := make(chan client.Change, 100)
	done := make(chan error, 1)
	go func() { done <- c.Watch(t.Context(), func(ch client.Change) { changes <- ch }) }()
	next := func(what string) client.Change {
		t.Helper()
		select {
		case ch := <-changes:
			return ch
		case <-time.After(15 * time.Second):
			t.Fatalf("no change: want %s", what)
			return client.Change{}
		}
	}
	if ch := next("the first connection"); ch.Lost != nil || !ch.Realm.IsZero() {
		t.Fatalf("first change %+v, want a zero change", ch)
	}

	r.down()
	ch := next("the server lost")
	if ch.Lost == nil || !parsec.IsKind(ch.Lost, parsec.Unavailable) || !ch.IsNews() {
		t.Fatalf("change after the server went away: %+v, want Lost of kind Unavailable", ch)
	}
	// Several attempts fail (250 ms, then 500 ms, 1 s apart): said once.
	time.Sleep(2 * time.Second)
	select {
	case ch := <-changes:
		t.Fatalf("change while the server stays away: %+v, want none", ch)
	default:
	}

	r.up(r.addr)
	if ch := next("the server back"); ch.Lost != nil || ch.IsNews() {
		t.Fatalf("change when the server is back: %+v, want a zero change", ch)
	}
	select {
	case err := <-done:
		t.Fatalf("Watch returned %v while the test runs", err)
	default:
	}
}
