package client

import (
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/manifest"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// The history rules of vlob versions. The server checks them on every write; the client
// checks them again on every read, because a server helping a removed or revoked member
// (who keeps the realm keys it had and its signing key) could store a version that member
// backdates to a time it could still write:
//   - a version's key is the realm key in force at its timestamp (checkKeyInForce);
//   - a version is later than the version before it that the client holds (checkAfter);
//   - a version new since the client's last poll of the change log is later than every
//     certificate the client knew at that poll: the server takes a version only after the
//     certificates it has (protocol.CmdVlobWrite), so one dated before them would have
//     been in that poll (checkNewSincePoll).
// The author's role and revocation at the version's timestamp are checked by openVlob.

// rotationSkew is how much later than a version a rotation may be dated and still have
// been stored after it: a rotation certificate is only required to come after the realm's
// certificates, not after its vlobs, and clients' clocks may be this far apart.
const rotationSkew = (protocol.BallparkEarlySeconds + protocol.BallparkLateSeconds) * time.Second

// checkKeyInForce checks that a version is encrypted with the realm key in force at its
// timestamp: a key introduced before it (the writer could not use a later one), and not
// replaced well before it.
func checkKeyInForce(rotations []certif.RealmKeyRotationCertificate, it protocol.VlobItem) error {
	k := it.KeyIndex
	if k == 0 || k > uint64(len(rotations)) {
		return nil // keys.key refuses it, with the bundle's words
	}
	if introduced := rotations[k-1].Timestamp; introduced >= it.Timestamp {
		return parsec.Errorf(parsec.Tampered, "manifest %s v%d, dated %s, is encrypted with key %d, which only exists since %s",
			parsec.ShortID(it.VlobID), it.Version, it.Timestamp, k, introduced)
	}
	for _, r := range rotations[k:] {
		if r.Timestamp.Add(rotationSkew) < it.Timestamp {
			return parsec.Errorf(parsec.Tampered, "manifest %s v%d, dated %s, is encrypted with key %d, which key %d replaced at %s: only a member removed since keeps the old key",
				parsec.ShortID(it.VlobID), it.Version, it.Timestamp, k, r.KeyIndex, r.Timestamp)
		}
	}
	return nil
}

// checkAfter checks that m, a version of a vlob read from the server, does not go back
// from prev, the last version of it the client holds (nil if none): an older version is
// refused, and a newer one must be dated after prev.
func checkAfter(prev, m manifest.Manifest) error {
	if prev == nil {
		return nil
	}
	p, h := prev.Head(), m.Head()
	switch {
	case h.Version < p.Version:
		return parsec.Errorf(parsec.Tampered, "the server returned version %d of manifest %s, older than the version %d this device holds", h.Version, parsec.ShortID(h.ID), p.Version)
	case h.Version > p.Version && h.Timestamp <= p.Timestamp:
		return parsec.Errorf(parsec.Tampered, "version %d of manifest %s is dated %s, not after version %d (%s): versions are never backdated",
			h.Version, parsec.ShortID(h.ID), h.Timestamp, p.Version, p.Timestamp)
	}
	return nil
}

// checkNewSincePoll checks that m, listed by the change log as changed since a poll at
// which the client knew the certificates up to known, is dated after them.
func checkNewSincePoll(m manifest.Manifest, known parsec.DateTime) error {
	if h := m.Head(); known != 0 && h.Timestamp <= known {
		return parsec.Errorf(parsec.Tampered, "version %d of manifest %s, new since this device's last sync, is dated %s, before certificates it knew then (%s): the server backdated it",
			h.Version, parsec.ShortID(h.ID), h.Timestamp, known)
	}
	return nil
}

// knownCertificates returns the timestamp of the last certificate the client knows of the
// common topic and of a realm's topic, the later of the two.
func (c *Client) knownCertificates(realm parsec.VlobID) parsec.DateTime {
	c.mu.Lock()
	defer c.mu.Unlock()
	common, _ := c.certs.LastTimestamp(certif.CommonTopic)
	own, _ := c.certs.LastTimestamp(certif.RealmTopic(realm))
	return max(common, own)
}
