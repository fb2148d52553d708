package certif

import (
	"crypto/sha256"
	"sort"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
)

// The history of each topic is chained: after its n-th certificate, a topic's digest is
//
//	D(n) = SHA-256("parsec/1/chain" ‖ D(n-1) ‖ SHA-256(redacted body of certificate n))
//
// with D(0) all zeros. A Point names a place in that history (the timestamp of a certificate
// and the digest after it). Two devices that hold the same certificates up to a timestamp
// have the same digest there; a server that shows them different histories (a fork: a
// revocation hidden from some members, say) cannot make the digests agree.
//
// The digest covers the redacted flavour of user and device certificates (without human
// handles and device labels), so that External users, who only get that flavour, reach the
// same digests as everyone else.

// Digest is a topic's chained digest at a point of its history.
type Digest [sha256.Size]byte

// Point is a place in a topic's history: the timestamp of its last certificate then, and the
// topic's digest after it. The zero Point is the empty history.
type Point struct {
	Timestamp parsec.DateTime `cbor:"timestamp"`
	Digest    Digest          `cbor:"digest"`
}

// IsZero reports whether p is the empty history.
func (p Point) IsZero() bool { return p == Point{} }

// View is what a signer had validated when it signed: a point of the common topic's history
// and, for what belongs to a realm, one of the realm's. Certificates carry one (Seen), and so
// do manifests.
type View struct {
	Common Point `cbor:"common"`
	Realm  Point `cbor:"realm"` // zero for the common topic's certificates
}

// checkSeen checks a certificate's view on its own: no point after the certificate itself,
// and no realm point for a certificate of the common topic.
func checkSeen(c Certificate) error {
	v := c.SeenView()
	switch {
	case v == nil:
		return nil
	case v.Common.Timestamp < 0 || v.Realm.Timestamp < 0:
		return fieldError("seen: a negative timestamp")
	case v.Common.Timestamp > c.When() || v.Realm.Timestamp > c.When():
		return fieldError("seen: a point after the certificate itself")
	case c.Topic().IsCommon() && !v.Realm.IsZero():
		return fieldError("seen: a realm point in a certificate of the common topic")
	}
	return nil
}

// View returns this Memory's view for signing something of topic t (t's realm point, and
// the common one).
func (m *Memory) View(t Topic) View {
	v := View{Common: m.Head(CommonTopic)}
	if !t.IsCommon() {
		v.Realm = m.Head(t)
	}
	return v
}

// Head returns the last point of a topic's history that this Memory holds (the zero Point
// when it holds none of the topic's certificates).
func (m *Memory) Head(t Topic) Point {
	m.mu.RLock()
	defer m.mu.RUnlock()
	points := m.chains[t]
	if len(points) == 0 {
		return Point{}
	}
	return points[len(points)-1]
}

// CheckView checks a view signed in something of topic t (a manifest, say) against this
// Memory's history: see checkView.
func (m *Memory) CheckView(t Topic, v View) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return checkView(memState{m}, t, v)
}

// checkView checks that s's history agrees with a view another device signed in something of
// topic t: the common point, and the realm point for a realm's topic. It fails with
// ErrWithheld when s has not reached a point's timestamp yet (a reader fetches the
// certificates up to it, then checks again: if the server cannot deliver them, it withholds
// them), and with ErrFork when s's history has no certificate at that timestamp or another
// digest there. Both have kind parsec.Invalid, like every rejection of this package: a
// client reports what the server sent it as tampering.
func checkView(s State, t Topic, v View) error {
	if err := checkPoint(s, CommonTopic, v.Common); err != nil {
		return err
	}
	if t.IsCommon() {
		return nil
	}
	return checkPoint(s, t, v.Realm)
}

func checkPoint(s State, t Topic, p Point) error {
	if p.IsZero() {
		return nil
	}
	head, err := s.LastTimestamp(t)
	if err != nil {
		return err
	}
	if head < p.Timestamp {
		return parsec.Errorf(parsec.Invalid, "%w: the author had seen the %s certificates up to %s, this device only up to %s",
			ErrWithheld, topicName(t), p.Timestamp, head)
	}
	got, err := s.PointAt(t, p.Timestamp)
	if err != nil {
		return err
	}
	if got != p {
		return parsec.Errorf(parsec.Invalid, "%w: the server shows this device another history of the %s certificates than the author saw at %s",
			ErrFork, topicName(t), p.Timestamp)
	}
	return nil
}

// pointAt finds, in a topic's points, the one after the last certificate of timestamp ts
// (the zero Point when there is none at ts): certificates that share a timestamp (a user and
// its first device) are added together, and a view is only ever taken after both.
func pointAt(points []Point, ts parsec.DateTime) Point {
	i := sort.Search(len(points), func(i int) bool { return points[i].Timestamp > ts }) - 1
	if i < 0 || points[i].Timestamp != ts {
		return Point{}
	}
	return points[i]
}

// PointAt computes, from a topic's certificates in order (signed bytes, either flavour), the
// point after the last certificate of timestamp ts (the zero Point when none has it). A
// server that keeps certificates rather than digests answers State.PointAt with it.
func PointAt(raws [][]byte, ts parsec.DateTime) (Point, error) {
	var points []Point
	var d Digest
	for _, raw := range raws {
		c, err := Decode(raw)
		if err != nil {
			return Point{}, err
		}
		if c.When() > ts {
			break
		}
		d = d.next(c)
		points = append(points, Point{Timestamp: c.When(), Digest: d})
	}
	return pointAt(points, ts), nil
}

const chainDomain = "parsec/1/chain"

// next returns the digest after c, following d.
func (d Digest) next(c Certificate) Digest {
	body := sha256.Sum256(codec.MustMarshal(redactedTwin(c)))
	h := sha256.New()
	h.Write([]byte(chainDomain))
	h.Write(d[:])
	h.Write(body[:])
	var out Digest
	h.Sum(out[:0])
	return out
}

// redactedTwin returns c as its redacted flavour would be (c itself for the kinds that have
// only one flavour).
func redactedTwin(c Certificate) Certificate {
	switch c := c.(type) {
	case *UserCertificate:
		r := *c
		r.HumanHandle = nil
		return &r
	case *DeviceCertificate:
		r := *c
		r.DeviceLabel = nil
		return &r
	}
	return c
}

// extendChain records c at the end of its topic's history (under m.mu, from apply).
func (m *Memory) extendChain(c Certificate, j *journal) {
	topic := c.Topic()
	points := m.chains[topic]
	var prev Digest
	if len(points) > 0 {
		prev = points[len(points)-1].Digest
	}
	m.chains[topic] = append(points, Point{Timestamp: c.When(), Digest: prev.next(c)})
	j.push(func() { m.chains[topic] = m.chains[topic][:len(points)] })
}
