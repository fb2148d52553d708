package server

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// eventsRequest is a well-formed request for m's event stream in org, signed at the given
// time over an empty body.
func (w *world) eventsRequest(t *testing.T, org parsec.OrganizationID, m *member, at parsec.DateTime) *http.Request {
	t.Helper()
	path := protocol.RouteAuthenticated + string(org) + protocol.RouteEventsSuffix
	req := w.newRequest(t, http.MethodGet, path, nil)
	req.Header.Set(protocol.HeaderAPIVersion, protocol.APIVersion)
	req.Header.Set("Accept", protocol.EventStreamType)
	req.Header.Set(protocol.HeaderAuthorization, w.sign(m.key, m.device, http.MethodGet, path, at, nil))
	return req
}

// eventStream is an open event stream. Reading it never waits longer than the test's
// deadline for streams.
type eventStream struct {
	resp *http.Response
	r    *protocol.SSEReader
}

// streamTimeout bounds the wait for a frame: a test waits on frames, never sleeps, and a
// missing frame fails the test instead of hanging it.
const streamTimeout = 20 * time.Second

// openEvents connects m's event stream, resuming after lastEventID when not empty.
func (w *world) openEvents(t *testing.T, m *member, lastEventID string) *eventStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), streamTimeout)
	req := w.eventsRequest(t, m.org, m, w.clock.Now()).WithContext(ctx)
	if lastEventID != "" {
		req.Header.Set(protocol.HeaderLastEventID, lastEventID)
	}
	resp, err := w.hs.Client().Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		resp.Body.Close()
		cancel()
	})
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("event stream: HTTP %d %q", resp.StatusCode, b)
	}
	for h, want := range map[string]string{"Content-Type": protocol.EventStreamType, "Cache-Control": "no-cache"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("event stream: %s %q, want %q", h, got, want)
		}
	}
	return &eventStream{resp: resp, r: protocol.NewSSEReader(resp.Body)}
}

func (s *eventStream) next(t *testing.T) protocol.SSEEvent {
	t.Helper()
	ev, err := s.r.Next()
	if err != nil {
		t.Fatalf("waiting for an event: %v", err)
	}
	return ev
}

// nextEvent reads the next frame and checks that it is a resumable event of the given name.
func (s *eventStream) nextEvent(t *testing.T, name string) (uint64, protocol.SSEEvent) {
	t.Helper()
	ev := s.next(t)
	if ev.Name != name {
		t.Fatalf("event %q (%+v), want %q", ev.Name, ev, name)
	}
	id, err := protocol.ParseEventID(ev.ID)
	if err != nil || id == 0 {
		t.Fatalf("event %q has ID %q, want a positive number", ev.Name, ev.ID)
	}
	return id, ev
}

// wantConfig reads the first frame of a stream: the organization's configuration, without ID.
func (s *eventStream) wantConfig(t *testing.T, want protocol.OrganizationConfig) {
	t.Helper()
	ev := s.next(t)
	if ev.Name != protocol.EventOrganizationConfig || ev.ID != "" {
		t.Fatalf("first frame %q with ID %q, want %q without ID", ev.Name, ev.ID, protocol.EventOrganizationConfig)
	}
	var got protocol.OrganizationConfig
	if err := protocol.DecodeEvent(ev.Data, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("organization config (-want +got):\n%s", diff)
	}
}

// wantEnd checks that the server ends the stream.
func (s *eventStream) wantEnd(t *testing.T) {
	t.Helper()
	ev, err := s.r.Next()
	switch {
	case err == nil:
		t.Fatalf("got event %+v, want the end of the stream", ev)
	case err != io.EOF:
		t.Fatalf("want the end of the stream, got %v", err)
	}
}

var defaultConfig = protocol.OrganizationConfig{UserProfileOutsiderAllowed: true, SSEKeepaliveSeconds: 3600, MinimumArchivingPeriod: 2592000}

// certificateEvent checks the payload of a certificate event.
func certificateEvent(t *testing.T, ev protocol.SSEEvent, ts parsec.DateTime, realm *parsec.VlobID) {
	t.Helper()
	var got protocol.EventCertificateData
	if err := protocol.DecodeEvent(ev.Data, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(protocol.EventCertificateData{Timestamp: ts, RealmID: realm}, got); diff != "" {
		t.Errorf("%s payload (-want +got):\n%s", ev.Name, diff)
	}
}

func TestEventsHandshake(t *testing.T) {
	w := newWorld(t, "alice:admin")
	alice := w.user("alice")
	path := alice.path() + protocol.RouteEventsSuffix
	tests := []struct {
		name   string
		change func(r *http.Request)
		code   int
	}{
		{"no Accept", func(r *http.Request) { r.Header.Del("Accept") }, 406},
		{"Accept JSON", func(r *http.Request) { r.Header.Set("Accept", "application/json") }, 406},
		{"Accept HTML", func(r *http.Request) { r.Header.Set("Accept", "text/html, application/xhtml+xml") }, 406},
		{"Accept anything", func(r *http.Request) { r.Header.Set("Accept", "*/*") }, 200},
		{"Accept with parameters", func(r *http.Request) { r.Header.Set("Accept", "application/json, text/event-stream;q=0.9") }, 200},
		{"no authorization", func(r *http.Request) { r.Header.Del(protocol.HeaderAuthorization) }, 401},
		{"signed over a body", func(r *http.Request) {
			r.Header.Set(protocol.HeaderAuthorization, w.sign(alice.key, alice.device, http.MethodGet, path, w.clock.Now(), []byte("x")))
		}, 403},
		{"signed for POST", func(r *http.Request) {
			r.Header.Set(protocol.HeaderAuthorization, w.sign(alice.key, alice.device, http.MethodPost, path, w.clock.Now(), nil))
		}, 403},
		{"signed for the RPC path", func(r *http.Request) {
			r.Header.Set(protocol.HeaderAuthorization, w.sign(alice.key, alice.device, http.MethodGet, alice.path(), w.clock.Now(), nil))
		}, 403},
		{"signed 10 minutes ago", func(r *http.Request) {
			r.Header.Set(protocol.HeaderAuthorization, w.sign(alice.key, alice.device, http.MethodGet, path, w.clock.Now().Add(-10*time.Minute), nil))
		}, 498},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := w.eventsRequest(t, "Acme", alice, w.clock.Now())
			tc.change(req)
			wantCode(t, w.doStream(t, req), tc.code)
		})
	}
	t.Run("POST", func(t *testing.T) {
		req := w.eventsRequest(t, "Acme", alice, w.clock.Now())
		req.Method = http.MethodPost
		wantCode(t, w.doStream(t, req), http.StatusMethodNotAllowed)
	})
}

func TestEvents(t *testing.T) {
	w := newWorld(t, "alice:admin bob:member")
	alice, bob := w.user("alice"), w.user("bob")
	w.bootstrap(t, "Other", "alice")
	t0 := testStart // alice's certificates
	realm := parsec.NewVlobID()

	s := w.openEvents(t, alice, "")
	s.wantConfig(t, defaultConfig)

	// Events of another organization, for someone else, or that alice's device caused, do
	// not reach her.
	w.srv.publishCertificate("Other", metastore.CommonTopic, t0)
	w.srv.publish("Acme", protocol.EventPinged, protocol.EventPingedData{Ping: "for bob"}, events.Audience{Users: []parsec.UserID{bob.user}})
	w.srv.publish("Acme", protocol.EventPinged, protocol.EventPingedData{Ping: "from alice"}, events.Audience{All: true, ExceptDevice: alice.device})
	w.srv.publish("Acme", protocol.EventPinged, protocol.EventPingedData{Ping: "for admins"}, events.Audience{Admins: true})

	id1, ev := s.nextEvent(t, protocol.EventPinged)
	var ping protocol.EventPingedData
	if err := protocol.DecodeEvent(ev.Data, &ping); err != nil || ping.Ping != "for admins" {
		t.Fatalf("pinged %+v (%v), want the one for admins", ping, err)
	}
	w.srv.publishCertificate("Acme", metastore.CommonTopic, t0.Add(2*time.Second))
	id2, ev := s.nextEvent(t, protocol.EventCommonCertificate)
	certificateEvent(t, ev, t0.Add(2*time.Second), nil)
	w.srv.publishCertificate("Acme", metastore.RealmTopic(realm), t0.Add(3*time.Second))
	id3, ev := s.nextEvent(t, protocol.EventRealmCertificate)
	certificateEvent(t, ev, t0.Add(3*time.Second), &realm)
	if !(id1 < id2 && id2 < id3) {
		t.Errorf("event IDs %d, %d, %d do not increase", id1, id2, id3)
	}

	t.Run("resume", func(t *testing.T) {
		s := w.openEvents(t, alice, protocol.FormatEventID(id1))
		s.wantConfig(t, defaultConfig)
		if id, _ := s.nextEvent(t, protocol.EventCommonCertificate); id != id2 {
			t.Errorf("first event replayed: %d, want %d", id, id2)
		}
		if id, _ := s.nextEvent(t, protocol.EventRealmCertificate); id != id3 {
			t.Errorf("second event replayed: %d, want %d", id, id3)
		}
		w.srv.publishCertificate("Acme", metastore.CommonTopic, t0.Add(4*time.Second))
		if id, _ := s.nextEvent(t, protocol.EventCommonCertificate); id <= id3 {
			t.Errorf("live event after the replay: ID %d, want more than %d", id, id3)
		}
	})
	t.Run("resume up to date", func(t *testing.T) {
		last, _ := s.nextEvent(t, protocol.EventCommonCertificate) // the one published by "resume"
		s := w.openEvents(t, alice, protocol.FormatEventID(last))
		s.wantConfig(t, defaultConfig)
		w.srv.publish("Acme", protocol.EventPinged, protocol.EventPingedData{Ping: "new"}, everyone())
		if _, ev := s.nextEvent(t, protocol.EventPinged); !containsPing(ev, "new") {
			t.Errorf("got %+v, want the new event", ev)
		}
	})
	for _, last := range []string{"12345", "0", "garbage", protocol.FormatEventID(id3 + 1000)} {
		t.Run("resume from unknown ID "+last, func(t *testing.T) {
			s := w.openEvents(t, alice, last)
			s.wantConfig(t, defaultConfig)
			ev := s.next(t)
			if ev.Name != protocol.EventMissed || ev.ID != "" || len(ev.Data) != 0 {
				t.Fatalf("frame %+v, want %q without ID nor data", ev, protocol.EventMissed)
			}
			w.srv.publishCertificate("Acme", metastore.CommonTopic, t0.Add(5*time.Second))
			s.nextEvent(t, protocol.EventCommonCertificate)
		})
	}
	t.Run("configuration changes", func(t *testing.T) {
		w.admin(t, http.MethodPatch, orgPath("Acme"), `{"active_users_limit": 7, "user_profile_outsider_allowed": false}`, http.StatusOK, nil)
		s := w.openEvents(t, bob, "")
		limit := int64(7)
		s.wantConfig(t, protocol.OrganizationConfig{ActiveUsersLimit: &limit, SSEKeepaliveSeconds: 3600, MinimumArchivingPeriod: 2592000})
	})
}

func containsPing(ev protocol.SSEEvent, want string) bool {
	var p protocol.EventPingedData
	return protocol.DecodeEvent(ev.Data, &p) == nil && p.Ping == want
}

func TestEventsEnd(t *testing.T) {
	w := newWorld(t, "alice:admin bob:member")
	alice, bob := w.user("alice"), w.user("bob")
	freeze := func(t *testing.T, m *member, frozen bool) {
		t.Helper()
		w.admin(t, http.MethodPost, orgPath("Acme")+"/users/freeze", map[string]any{"frozen": frozen, "user_id": m.user.String()}, http.StatusOK, nil)
	}
	expire := func(t *testing.T, expired bool) {
		t.Helper()
		w.admin(t, http.MethodPatch, orgPath("Acme"), map[string]any{"is_expired": expired}, http.StatusOK, nil)
	}

	t.Run("frozen user", func(t *testing.T) {
		sa := w.openEvents(t, alice, "")
		sa.wantConfig(t, defaultConfig)
		sb := w.openEvents(t, bob, "")
		sb.wantConfig(t, defaultConfig)
		w.srv.publish("Acme", protocol.EventPinged, protocol.EventPingedData{Ping: "before"}, everyone())
		last, _ := sb.nextEvent(t, protocol.EventPinged)
		sa.nextEvent(t, protocol.EventPinged)

		freeze(t, bob, true)
		sb.wantEnd(t)
		wantCode(t, w.doStream(t, w.eventsRequest(t, "Acme", bob, w.clock.Now())), protocol.HTTPFrozen)
		// Alice's stream goes on.
		w.srv.publish("Acme", protocol.EventPinged, protocol.EventPingedData{Ping: "after"}, everyone())
		if _, ev := sa.nextEvent(t, protocol.EventPinged); !containsPing(ev, "after") {
			t.Errorf("alice got %+v, want the event after the freeze", ev)
		}

		// Unfrozen, bob resumes where he was: the freeze, in the past, does not end his
		// new stream.
		freeze(t, bob, false)
		sb = w.openEvents(t, bob, protocol.FormatEventID(last))
		sb.wantConfig(t, defaultConfig)
		if _, ev := sb.nextEvent(t, protocol.EventPinged); !containsPing(ev, "after") {
			t.Errorf("bob got %+v on resumption, want the event he missed", ev)
		}
		w.srv.publish("Acme", protocol.EventPinged, protocol.EventPingedData{Ping: "later"}, everyone())
		if _, ev := sb.nextEvent(t, protocol.EventPinged); !containsPing(ev, "later") {
			t.Errorf("bob got %+v, want the live event", ev)
		}
	})

	t.Run("expired organization", func(t *testing.T) {
		s := w.openEvents(t, alice, "")
		s.wantConfig(t, defaultConfig)
		w.srv.publish("Acme", protocol.EventPinged, protocol.EventPingedData{Ping: "before"}, everyone())
		last, _ := s.nextEvent(t, protocol.EventPinged)
		expire(t, true)
		s.wantEnd(t)
		wantCode(t, w.doStream(t, w.eventsRequest(t, "Acme", alice, w.clock.Now())), protocol.HTTPExpired)

		expire(t, false)
		s = w.openEvents(t, alice, protocol.FormatEventID(last))
		s.wantConfig(t, defaultConfig)
		w.srv.publish("Acme", protocol.EventPinged, protocol.EventPingedData{Ping: "later"}, everyone())
		if _, ev := s.nextEvent(t, protocol.EventPinged); !containsPing(ev, "later") {
			t.Errorf("got %+v, want the live event", ev)
		}
	})

	t.Run("revoked user", func(t *testing.T) {
		w.setUser(t, bob, func(u *metastore.User) { u.RevokedOn, u.RevokedBy = w.clock.Now(), &alice.device })
		wantCode(t, w.doStream(t, w.eventsRequest(t, "Acme", bob, w.clock.Now())), protocol.HTTPRevoked)
	})
}

func TestEventsServerStopping(t *testing.T) {
	w := newWorld(t, "alice:admin")
	alice := w.user("alice")
	s1 := w.openEvents(t, alice, "")
	s1.wantConfig(t, defaultConfig)
	s2 := w.openEvents(t, alice, "")
	s2.wantConfig(t, defaultConfig)
	w.srv.Stopping()
	s1.wantEnd(t)
	s2.wantEnd(t)
	w.srv.Stopping() // twice is fine
	// RPCs still work while requests in flight finish.
	wantStatus(t, w.call(t, alice, protocol.CmdPing, protocol.PingReq{}, nil), protocol.StatusOK)
}

func TestEventsKeepalive(t *testing.T) {
	w := newWorld(t, "alice:admin", func(c *Config) { c.SSEKeepalive = 10 * time.Millisecond })
	alice := w.user("alice")
	s := w.openEvents(t, alice, "")
	s.next(t) // organization config
	for range 2 {
		ev := s.next(t)
		if ev.Name != protocol.EventKeepalive || ev.ID != "" || len(ev.Data) != 0 {
			t.Fatalf("frame %+v, want %q without ID nor data", ev, protocol.EventKeepalive)
		}
	}
	w.srv.publish("Acme", protocol.EventPinged, protocol.EventPingedData{Ping: "x"}, everyone())
	for {
		if ev := s.next(t); ev.Name == protocol.EventPinged {
			break
		} else if ev.Name != protocol.EventKeepalive {
			t.Fatalf("unexpected frame %+v", ev)
		}
	}
}
