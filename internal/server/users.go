package server

import (
	"context"
	"errors"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// certificateStatus turns a rejection by the certificate engine into the reply status: a
// timestamp not after the topic's last one asks the client to restamp and retry.
func certificateStatus(tx metastore.Tx, org parsec.OrganizationID, err error) error {
	var last parsec.DateTime
	switch {
	case errors.Is(err, certif.ErrTimestampNotIncreasing):
		last, _ = tx.LastTimestamp(org, metastore.CommonTopic)
		e := protocol.Errorf(protocol.StatusRequireGreaterTimestamp, "%v", err)
		e.Detail.StrictlyGreaterThan = last
		return e
	case errors.Is(err, certif.ErrUserExists):
		return protocol.Errorf(protocol.StatusUserAlreadyExists, "%v", err)
	case errors.Is(err, certif.ErrDeviceExists):
		return protocol.Errorf(protocol.StatusDeviceAlreadyExists, "%v", err)
	case errors.Is(err, certif.ErrAuthorNotAdmin):
		return protocol.Errorf(protocol.StatusAuthorNotAllowed, "%v", err)
	case parsec.KindOf(err) == parsec.Invalid:
		return protocol.Errorf(protocol.StatusInvalidCertificate, "%v", err)
	}
	return err
}

// checkPair checks a certificate and its redacted copy as uploaded by the caller: signed by
// the caller's device, the copy consistent with the original.
func (s *Server) checkPair(c *caller, full, redacted []byte) (certif.Certificate, error) {
	cert, err := s.signedByCaller(c, full)
	if err != nil {
		return nil, err
	}
	vk, err := crypto.ParseVerifyKey(c.device.VerifyKey)
	if err != nil {
		return nil, err
	}
	if _, err := certif.Verify(redacted, vk); err != nil {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "redacted copy: %v", err)
	}
	if err := certif.CheckRedactedPair(full, redacted); err != nil {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "%v", err)
	}
	return cert, nil
}

// userCreate creates a user and its first device, after a greeter and a claimer exchanged
// their codes. Only an Administrator may; the email must not belong to an active user; the
// organization's active users limit applies.
func (s *Server) userCreate(ctx context.Context, c *caller, req *protocol.UserCreateReq) (any, error) {
	uc, err := s.checkPair(c, req.UserCertificate, req.RedactedUserCertificate)
	if err != nil {
		return nil, err
	}
	dc, err := s.checkPair(c, req.DeviceCertificate, req.RedactedDeviceCertificate)
	if err != nil {
		return nil, err
	}
	user, ok1 := uc.(*certif.UserCertificate)
	dev, ok2 := dc.(*certif.DeviceCertificate)
	if !ok1 || !ok2 {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "user_create needs a user certificate and a device certificate")
	}
	if user.HumanHandle == nil || dev.DeviceLabel == nil {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "the full certificates must not be redacted")
	}
	// Without this, a device of the author's own user, later than the user certificate,
	// would pass the engine's rules: the new user would get no device, the author one more.
	if dev.UserID != user.UserID || dev.Timestamp != user.Timestamp {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "the device certificate must be the new user's first device, at the user certificate's timestamp")
	}
	err = s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		org, err := certifyingOrg(tx, c)
		if err != nil {
			return err
		}
		state := txState{tx: tx, org: c.org.ID}
		if _, err := certif.Validate(state, crypto.VerifyKey(org.RootVerifyKey), req.UserCertificate); err != nil {
			return certificateStatus(tx, c.org.ID, err)
		}
		if _, err := tx.ActiveUserByEmail(c.org.ID, user.HumanHandle.Email); err == nil {
			return protocol.Errorf(protocol.StatusHumanHandleAlreadyTaken, "%s is already the email of a member", user.HumanHandle.Email)
		} else if !errors.Is(err, metastore.ErrNotFound) {
			return err
		}
		if limit := org.Config.ActiveUsersLimit; limit != nil {
			users, err := tx.Users(c.org.ID)
			if err != nil {
				return err
			}
			active := 0
			for _, u := range users {
				if !u.Revoked() {
					active++
				}
			}
			if int64(active) >= *limit {
				return protocol.Errorf(protocol.StatusActiveUsersLimitReached,
					"organization %s has reached its limit of %d active users", c.org.ID, *limit)
			}
		}
		// The first device's rules need its user to be known: store the user, then check the
		// device against that state, all in this transaction.
		if err := tx.InsertUser(c.org.ID, metastore.User{
			ID: user.UserID, Email: user.HumanHandle.Email, Name: user.HumanHandle.Label,
			InitialProfile: user.Profile, Profile: user.Profile, CreatedOn: user.Timestamp, CreatedBy: user.Author,
			Certificate: req.UserCertificate, RedactedCertificate: req.RedactedUserCertificate,
		}); err != nil {
			return err
		}
		if err := tx.AddCertificate(c.org.ID, metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: user.Timestamp,
			Kind: certif.KindUser, Data: req.UserCertificate, Redacted: req.RedactedUserCertificate}); err != nil {
			return err
		}
		if _, err := certif.Validate(state, crypto.VerifyKey(org.RootVerifyKey), req.DeviceCertificate); err != nil {
			return certificateStatus(tx, c.org.ID, err)
		}
		return s.storeDevice(tx, c.org.ID, dev, req.DeviceCertificate, req.RedactedDeviceCertificate)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("user created", "org", c.org.ID, "user", user.UserID, "profile", user.Profile, "by", c.user.ID)
	s.publishCertificate(c.org.ID, metastore.CommonTopic, user.Timestamp)
	return struct{}{}, nil
}

func (s *Server) storeDevice(tx metastore.Tx, org parsec.OrganizationID, dev *certif.DeviceCertificate, full, redacted []byte) error {
	if err := tx.InsertDevice(org, metastore.Device{
		ID: dev.DeviceID, UserID: dev.UserID, Label: *dev.DeviceLabel, VerifyKey: dev.VerifyKey[:],
		CreatedOn: dev.Timestamp, CreatedBy: dev.Author, Certificate: full, RedactedCertificate: redacted,
	}); err != nil {
		return err
	}
	return tx.AddCertificate(org, metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: dev.Timestamp,
		Kind: certif.KindDevice, Data: full, Redacted: redacted})
}

// deviceCreate adds a device to the calling user (after a device invitation).
func (s *Server) deviceCreate(ctx context.Context, c *caller, req *protocol.DeviceCreateReq) (any, error) {
	dc, err := s.checkPair(c, req.DeviceCertificate, req.RedactedDeviceCertificate)
	if err != nil {
		return nil, err
	}
	dev, ok := dc.(*certif.DeviceCertificate)
	if !ok || dev.DeviceLabel == nil {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "device_create needs a full device certificate")
	}
	if dev.UserID != c.user.ID {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "a device can only be created for the calling user")
	}
	err = s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		org, err := certifyingOrg(tx, c)
		if err != nil {
			return err
		}
		if _, err := certif.Validate(txState{tx: tx, org: c.org.ID}, crypto.VerifyKey(org.RootVerifyKey), req.DeviceCertificate); err != nil {
			return certificateStatus(tx, c.org.ID, err)
		}
		return s.storeDevice(tx, c.org.ID, dev, req.DeviceCertificate, req.RedactedDeviceCertificate)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("device created", "org", c.org.ID, "user", c.user.ID, "device", dev.DeviceID)
	s.publishCertificate(c.org.ID, metastore.CommonTopic, dev.Timestamp)
	return struct{}{}, nil
}
