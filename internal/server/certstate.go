package server

import (
	"errors"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// txState answers the certificate engine's questions from the metadata store, inside the
// transaction that will store the new certificate: the server applies exactly the rules the
// clients apply, against the same history, without races.
type txState struct {
	tx  metastore.Tx
	org parsec.OrganizationID
}

var _ certif.State = txState{}

// certifyingOrg reads the organization, whose root key certif.Validate needs, in the write
// transaction of a command that adds a certificate, once currentCaller has checked that the
// caller was neither revoked nor frozen since the handshake. The engine alone would refuse
// a revoked author's certificate of a later timestamp, not one signed before the revocation
// (a shared-recovery certificate need not be after the common topic's last), and knows
// nothing of frozen users.
func certifyingOrg(tx metastore.Tx, c *caller) (metastore.Organization, error) {
	if _, err := currentCaller(tx, c); err != nil {
		return metastore.Organization{}, err
	}
	return tx.Organization(c.org.ID)
}

func topicOf(t certif.Topic) metastore.Topic {
	if t.IsRecovery() {
		return metastore.RecoveryTopic(t.Recovery)
	}
	if t.IsCommon() {
		return metastore.CommonTopic
	}
	return metastore.RealmTopic(t.Realm)
}

func (s txState) LastTimestamp(t certif.Topic) (parsec.DateTime, error) {
	return s.tx.LastTimestamp(s.org, topicOf(t))
}

func (s txState) LastRecovery(user parsec.UserID) (certif.Certificate, error) {
	topic := metastore.RecoveryTopic(user)
	last, err := s.tx.LastTimestamp(s.org, topic)
	if err != nil || last == 0 {
		return nil, err
	}
	certs, err := s.tx.Certificates(s.org, topic, last-1)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, errors.New("the shared-recovery topic's last certificate is missing")
	}
	return certif.Decode(certs[0].Data)
}

func (s txState) LookupUser(id parsec.UserID) (certif.User, bool, error) {
	u, err := s.tx.User(s.org, id)
	if errors.Is(err, metastore.ErrNotFound) {
		return certif.User{}, false, nil
	}
	if err != nil {
		return certif.User{}, false, err
	}
	c, err := certif.Decode(u.Certificate)
	if err != nil {
		return certif.User{}, false, err
	}
	uc, ok := c.(*certif.UserCertificate)
	if !ok {
		return certif.User{}, false, errors.New("stored user certificate has another kind")
	}
	out := certif.User{
		ID: u.ID, HumanHandle: uc.HumanHandle, PublicKey: uc.PublicKey, CreatedOn: u.CreatedOn, CreatedBy: u.CreatedBy,
		InitialProfile: u.InitialProfile, RevokedOn: u.RevokedOn, RevokedBy: u.RevokedBy,
	}
	for _, ch := range u.ProfileHistory {
		out.Updates = append(out.Updates, certif.ProfileUpdate{On: ch.On, By: ch.By, Profile: ch.Profile})
	}
	devices, err := s.tx.Devices(s.org, id)
	if err != nil {
		return certif.User{}, false, err
	}
	for _, d := range devices {
		out.Devices = append(out.Devices, d.ID)
	}
	return out, true, nil
}

func (s txState) LookupDevice(id parsec.DeviceID) (certif.Device, bool, error) {
	d, err := s.tx.Device(s.org, id)
	if errors.Is(err, metastore.ErrNotFound) {
		return certif.Device{}, false, nil
	}
	if err != nil {
		return certif.Device{}, false, err
	}
	c, err := certif.Decode(d.Certificate)
	if err != nil {
		return certif.Device{}, false, err
	}
	dc, ok := c.(*certif.DeviceCertificate)
	if !ok {
		return certif.Device{}, false, errors.New("stored device certificate has another kind")
	}
	return certif.Device{ID: d.ID, UserID: d.UserID, Label: dc.DeviceLabel, VerifyKey: dc.VerifyKey, Recovery: dc.Purpose != certif.DevicePurpose,
		CreatedOn: d.CreatedOn, CreatedBy: d.CreatedBy}, true, nil
}

func (s txState) RealmRole(realm parsec.VlobID, user parsec.UserID) (parsec.RealmRole, error) {
	return s.tx.CurrentRealmRole(s.org, realm, user)
}

func (s txState) RealmMembers(realm parsec.VlobID) ([]certif.Member, error) {
	members, err := s.tx.RealmMembers(s.org, realm)
	if err != nil {
		return nil, err
	}
	out := make([]certif.Member, len(members))
	for i, m := range members {
		out[i] = certif.Member{UserID: m.User, Role: m.Role, Since: m.On, By: m.By}
	}
	return out, nil
}

func (s txState) RealmKeyIndex(realm parsec.VlobID) (uint64, error) {
	r, err := s.tx.Realm(s.org, realm)
	if errors.Is(err, metastore.ErrNotFound) {
		return 0, nil
	}
	return r.KeyIndex, err
}

// PointAt computes the point of a topic's history from its certificates: the server keeps
// certificates, not digests, and a certificate that signs a view is rare enough (users,
// devices, roles, keys) for the topic's history to be read for it.
func (s txState) PointAt(t certif.Topic, ts parsec.DateTime) (certif.Point, error) {
	certs, err := s.tx.Certificates(s.org, topicOf(t), 0)
	if err != nil {
		return certif.Point{}, err
	}
	raws := make([][]byte, len(certs))
	for i, c := range certs {
		raws[i] = c.Data
	}
	return certif.PointAt(raws, ts)
}
