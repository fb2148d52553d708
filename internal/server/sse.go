package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Internal events are not sent to clients: they tell the event streams of the server
// itself to end.
const (
	internalUserBlocked = "internal/user_blocked" // a user was revoked or frozen
	internalOrgExpired  = "internal/org_expired"  // the organization expired
)

func everyone() events.Audience { return events.Audience{All: true} }

func (s *Server) publish(org parsec.OrganizationID, name string, payload any, to events.Audience) {
	s.cfg.Bus.Publish(event(org, name, payload, to))
}

// event is the event named name of org, with payload encoded, for the audience to.
func event(org parsec.OrganizationID, name string, payload any, to events.Audience) events.Event {
	var data []byte
	if payload != nil {
		data = codec.MustMarshal(payload)
	}
	return events.Event{Org: org, Name: name, Payload: data, Audience: to}
}

// events streams server-sent events to an authenticated device. The first frame is the
// organization configuration; each later frame carries an ID the client may send back in
// Last-Event-ID to resume after a disconnection. The stream ends when the user is revoked or
// frozen, when the organization expires, and when the server shuts down.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(protocol.HeaderAPIVersion, protocol.APIVersion)
	fail := func(err error) {
		if he, ok := err.(*httpError); ok {
			he.write(w)
			return
		}
		s.streamFailed(w, err)
	}
	if _, err := checkVersion(r); err != nil {
		fail(err)
		return
	}
	if !acceptsEventStream(r) {
		fail(&httpError{code: protocol.HTTPNotAcceptable, msg: "the events route needs Accept: " + protocol.EventStreamType})
		return
	}
	ctx := r.Context()
	c, err := s.handshakeOrg(ctx, r)
	if err != nil {
		fail(err)
		return
	}
	auth, err := s.authenticate(ctx, r, c)
	if err == nil && auth.CheckBody(nil, protocol.APIMinor) != nil {
		err = &httpError{code: protocol.HTTPForbidden, msg: "bad request signature: the events route has no body"}
	}
	if err != nil {
		fail(err)
		return
	}
	key := deviceKey(c)
	if !s.deviceStreams.take(key) {
		fail(overLimit("event streams open for this device", s.limits.StreamsPerDevice))
		return
	}
	defer s.deviceStreams.give(key)
	var last uint64
	if h := r.Header.Get(protocol.HeaderLastEventID); h != "" {
		last, _ = protocol.ParseEventID(h) // an unparsable ID is an unknown one: missed events
		if last == 0 {
			last = 1
		}
	}
	me, initial := c.user.ID, c.user.Profile
	sub := s.cfg.Bus.Subscribe(c.org.ID, last, func(ev *events.Event) bool {
		a := ev.Audience
		if ev.Audience.ExceptDevice == c.device.ID {
			return false
		}
		return a.All || (a.Admins && s.profileOf(c.org.ID, me, initial) == parsec.ProfileAdmin) || slices.Contains(a.Users, me) ||
			(a.Realm != nil && s.inRealm(c.org.ID, *a.Realm, me))
	})
	defer sub.Close()
	// A freeze or revocation between the handshake and the subscription would otherwise go
	// unnoticed by this stream.
	if err := s.blocked(ctx, c); err != nil {
		fail(err)
		return
	}

	// A stream lasts: no deadline on reading (the server's read of the idle connection would
	// end it), and a write deadline renewed before each frame, so that a client that stops
	// taking frames is dropped.
	rc := http.NewResponseController(w)
	rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", protocol.EventStreamType)
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(ev protocol.SSEEvent) bool {
		rc.SetWriteDeadline(time.Now().Add(s.limits.BodyIdle))
		if err := protocol.WriteSSE(w, ev); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(protocol.SSEEvent{Name: protocol.EventOrganizationConfig, Data: codec.MustMarshal(s.configOf(c.org))}) {
		return
	}
	if sub.Missed() && !send(protocol.SSEEvent{Name: protocol.EventMissed}) {
		return
	}
	keepalive := time.NewTicker(s.cfg.SSEKeepalive)
	defer keepalive.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stopping:
			return
		case <-keepalive.C:
			if !send(protocol.SSEEvent{Name: protocol.EventKeepalive}) {
				return
			}
		case ev, ok := <-sub.C():
			if !ok {
				return // dropped (too slow) or bus closed: the client reconnects and resumes
			}
			switch ev.Name {
			case internalUserBlocked, internalOrgExpired:
				// The bus retains these events and replays them to a stream that resumes
				// from an earlier ID, maybe after the user was unfrozen or the organization
				// renewed: they say to look at the current state, not to end.
				if s.blocked(ctx, c) != nil {
					return
				}
				continue
			}
			if !send(protocol.SSEEvent{ID: protocol.FormatEventID(ev.ID), Name: ev.Name, Data: ev.Payload}) {
				return
			}
			keepalive.Reset(s.cfg.SSEKeepalive)
		}
	}
}

// blocked returns the handshake error that the caller of an event stream would now get —
// organization expired, user revoked or frozen — or nil if it may still receive events.
func (s *Server) blocked(ctx context.Context, c *caller) error {
	var org metastore.Organization
	var user metastore.User
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		var err error
		if org, err = tx.Organization(c.org.ID); err != nil {
			return err
		}
		user, err = tx.User(c.org.ID, c.user.ID)
		return err
	})
	switch {
	case err != nil:
		return err
	case org.Config.IsExpired:
		return fail(protocol.HTTPExpired, "organization expired")
	}
	return userBlocked(user)
}

func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range splitComma(v) {
			if part == protocol.EventStreamType || part == "*/*" || part == "text/*" {
				return true
			}
		}
	}
	return false
}

func splitComma(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		part, _, _ = strings.Cut(part, ";")
		out = append(out, strings.TrimSpace(part))
	}
	return out
}

// profileOf returns a user's current profile as far as event streams are concerned: the one
// of its last profile change made through this server, else the one known when its stream
// opened. Profile changes record it before replying, so that an event published after a
// demotion never reaches the demoted user as an Administrator.
func (s *Server) profileOf(org parsec.OrganizationID, user parsec.UserID, known parsec.UserProfile) parsec.UserProfile {
	if p, ok := s.profiles.Load(profileKey{org, user}); ok {
		return p.(parsec.UserProfile)
	}
	return known
}

type profileKey struct {
	org  parsec.OrganizationID
	user parsec.UserID
}

// Realm events reach the realm's current members. Event stream filters run while the bus
// holds a lock and must not read the database: they read an in-memory view of each realm's
// members. The realm handlers store a new view after each commit; a handler publishing
// another event to a realm's members (a vlob write) calls loadRealmView first, which reads
// the view from the store when this server does not hold it yet (after a restart).

type realmKey struct {
	org   parsec.OrganizationID
	realm parsec.VlobID
}

// realmView is the membership of a realm right after its certificate of timestamp asOf. A
// stored view is never modified: a change stores a new one.
type realmView struct {
	asOf    parsec.DateTime
	members map[parsec.UserID]bool
}

// setRealmView records the members of a realm as of its certificate of timestamp asOf,
// unless the view already stored is as recent. A realm's certificates have strictly
// increasing timestamps, so concurrent handlers (and lazy loads) finishing in any order
// leave the view of the last certificate.
func (s *Server) setRealmView(org parsec.OrganizationID, realm parsec.VlobID, asOf parsec.DateTime, members []parsec.UserID) {
	v := &realmView{asOf: asOf, members: make(map[parsec.UserID]bool, len(members))}
	for _, m := range members {
		v.members[m] = true
	}
	k := realmKey{org, realm}
	for {
		cur, loaded := s.realms.LoadOrStore(k, v)
		if !loaded {
			return
		}
		old := cur.(*realmView)
		if old.asOf >= asOf || s.realms.CompareAndSwap(k, old, v) {
			return
		}
	}
}

// loadRealmView reads a realm's members from the store when this server has no view of
// them.
func (s *Server) loadRealmView(ctx context.Context, org parsec.OrganizationID, realm parsec.VlobID) error {
	if _, ok := s.realms.Load(realmKey{org, realm}); ok {
		return nil
	}
	return s.readRealmView(ctx, org, realm)
}

// readRealmView reads a realm's members from the store.
func (s *Server) readRealmView(ctx context.Context, org parsec.OrganizationID, realm parsec.VlobID) error {
	var members []parsec.UserID
	var asOf parsec.DateTime
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		var err error
		if asOf, err = tx.LastTimestamp(org, metastore.RealmTopic(realm)); err != nil {
			return err
		}
		members, err = realmMembers(tx, org, realm)
		return err
	})
	if err != nil {
		return err
	}
	s.setRealmView(org, realm, asOf, members)
	return nil
}

// observeEvent keeps the realm views up to date with the events of the other server
// processes on the same database: their bus calls it with every event, before delivering it
// to the event streams of this process (see pgevents.Bus.Observe). A realm event needs
// the realm's view, which this process may not have read yet; a realm certificate from
// elsewhere changes it; a user update certificate changes who receives the administrators'
// events.
func (s *Server) observeEvent(ctx context.Context, ev *events.Event) {
	if ev.Name == protocol.EventCommonCertificate {
		s.observeProfiles(ctx, ev)
		return
	}
	if ev.Name != protocol.EventRealmCertificate {
		if r := ev.Audience.Realm; r != nil {
			if err := s.loadRealmView(ctx, ev.Org, *r); err != nil {
				s.log.Warn("read the members of a realm", "org", ev.Org, "realm", *r, "err", err)
			}
		}
		return
	}
	var d protocol.EventCertificateData
	if codec.Unmarshal(ev.Payload, &d) != nil || d.RealmID == nil {
		return
	}
	if v, ok := s.realms.Load(realmKey{ev.Org, *d.RealmID}); ok && v.(*realmView).asOf >= d.Timestamp {
		return // this process committed it, or already read it
	}
	if err := s.readRealmView(ctx, ev.Org, *d.RealmID); err != nil {
		s.log.Warn("read the members of a realm changed by another server process", "org", ev.Org, "realm", *d.RealmID, "err", err)
	}
}

// observeProfiles records the profiles that the user update certificates of a common
// certificate event set.
func (s *Server) observeProfiles(ctx context.Context, ev *events.Event) {
	var d protocol.EventCertificateData
	if codec.Unmarshal(ev.Payload, &d) != nil {
		return
	}
	var certs []metastore.Certificate
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		var err error
		certs, err = tx.Certificates(ev.Org, metastore.CommonTopic, d.Timestamp-1)
		return err
	})
	if err != nil {
		s.log.Warn("read the certificates of another server process", "org", ev.Org, "err", err)
		return
	}
	for _, c := range certs {
		if c.Timestamp != d.Timestamp || c.Kind != certif.KindUserUpdate {
			continue
		}
		if uc, err := certif.Decode(c.Data); err == nil {
			if uc, ok := uc.(*certif.UserUpdateCertificate); ok {
				s.profiles.Store(profileKey{ev.Org, uc.UserID}, uc.NewProfile)
			}
		}
	}
}

// inRealm reports whether a user is a member of a realm, as far as event streams are
// concerned. It never reads the store.
func (s *Server) inRealm(org parsec.OrganizationID, realm parsec.VlobID, user parsec.UserID) bool {
	v, ok := s.realms.Load(realmKey{org, realm})
	return ok && v.(*realmView).members[user]
}

// realmChanged records a realm's members after one of its certificates was committed, then
// announces the certificate to them and to also (the target of a share or unshare, which
// must learn it was removed).
func (s *Server) realmChanged(org parsec.OrganizationID, realm parsec.VlobID, ts parsec.DateTime, members []parsec.UserID, also ...parsec.UserID) {
	s.setRealmView(org, realm, ts, members)
	id := realm
	s.publish(org, protocol.EventRealmCertificate, protocol.EventCertificateData{Timestamp: ts, RealmID: &id},
		events.Audience{Realm: &id, Users: also})
}
