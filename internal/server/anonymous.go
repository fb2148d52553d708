package server

import (
	"context"
	"crypto/subtle"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// organizationBootstrap creates the first user (an administrator) and device. The four
// certificates must be signed by the root key sent along, pass the same validation a client
// does on an empty organization, and come in consistent full and redacted pairs.
func (s *Server) organizationBootstrap(ctx context.Context, c *caller, req *protocol.OrganizationBootstrapReq) (any, error) {
	root, err := crypto.ParseVerifyKey(req.RootVerifyKey)
	if err != nil {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "invalid root verify key: %v", err)
	}
	chain := certif.NewMemory(root, false)
	userC, err := chain.Add(req.UserCertificate)
	if err != nil {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "%v", err)
	}
	deviceC, err := chain.Add(req.DeviceCertificate)
	if err != nil {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "%v", err)
	}
	user, ok1 := userC.(*certif.UserCertificate)
	device, ok2 := deviceC.(*certif.DeviceCertificate)
	if !ok1 || !ok2 {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "bootstrap needs a user certificate then a device certificate")
	}
	// The redacted copies are what External users will receive: they must be signed by the
	// same key and say the same thing, minus the names.
	for _, pair := range [][2][]byte{
		{req.UserCertificate, req.RedactedUserCertificate},
		{req.DeviceCertificate, req.RedactedDeviceCertificate},
	} {
		if _, err := certif.Verify(pair[1], root); err != nil {
			return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "redacted copy: %v", err)
		}
		if err := certif.CheckRedactedPair(pair[0], pair[1]); err != nil {
			return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "%v", err)
		}
	}
	if err := s.ballpark(user.Timestamp); err != nil {
		return nil, err
	}

	err = s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		org, err := tx.Organization(c.org.ID)
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(org.BootstrapToken[:], req.BootstrapToken[:]) != 1 {
			return protocol.Errorf(protocol.StatusInvalidBootstrapToken, "invalid bootstrap token for organization %s: ask the server administrator for a new bootstrap link", org.ID)
		}
		if org.Bootstrapped() {
			return protocol.Errorf(protocol.StatusAlreadyBootstrapped, "organization %s is already bootstrapped", org.ID)
		}
		org.RootVerifyKey = root[:]
		org.BootstrappedOn = user.Timestamp
		if err := tx.PutOrganization(org); err != nil {
			return err
		}
		if err := tx.InsertUser(org.ID, metastore.User{
			ID: user.UserID, Email: user.HumanHandle.Email, Name: user.HumanHandle.Label,
			InitialProfile: user.Profile, Profile: user.Profile, CreatedOn: user.Timestamp,
			Certificate: req.UserCertificate, RedactedCertificate: req.RedactedUserCertificate,
		}); err != nil {
			return err
		}
		if err := tx.InsertDevice(org.ID, metastore.Device{
			ID: device.DeviceID, UserID: device.UserID, Label: *device.DeviceLabel,
			VerifyKey: device.VerifyKey[:], CreatedOn: device.Timestamp,
			Certificate: req.DeviceCertificate, RedactedCertificate: req.RedactedDeviceCertificate,
		}); err != nil {
			return err
		}
		if err := tx.AddCertificate(org.ID, metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: user.Timestamp,
			Kind: certif.KindUser, Data: req.UserCertificate, Redacted: req.RedactedUserCertificate}); err != nil {
			return err
		}
		return tx.AddCertificate(org.ID, metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: device.Timestamp,
			Kind: certif.KindDevice, Data: req.DeviceCertificate, Redacted: req.RedactedDeviceCertificate})
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("organization bootstrapped", "org", c.org.ID, "user", user.UserID, "device", device.DeviceID)
	s.publishCertificate(c.org.ID, metastore.CommonTopic, user.Timestamp)
	return protocol.OrganizationBootstrapRep{}, nil
}

// publishCertificate tells members that a topic has a new certificate.
func (s *Server) publishCertificate(org parsec.OrganizationID, topic metastore.Topic, ts parsec.DateTime) {
	data := protocol.EventCertificateData{Timestamp: ts}
	name := protocol.EventCommonCertificate
	if realm, ok := topic.Realm(); ok {
		data.RealmID = &realm
		name = protocol.EventRealmCertificate
	}
	s.publish(org, name, data, everyone())
}
