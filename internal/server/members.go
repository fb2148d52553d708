package server

import (
	"context"
	"errors"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Managing people: profile changes and revocations are certificates signed by an
// Administrator's device. The server checks them with the same engine as the clients, then
// applies them: a new profile takes effect at once, a revoked user's devices are refused
// (461) and their event streams end.

// signedByCaller decodes a certificate uploaded by the caller and checks its author and time.
func (s *Server) signedByCaller(c *caller, raw []byte) (certif.Certificate, error) {
	cert, err := certif.Decode(raw)
	if err != nil {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "%v", err)
	}
	if signer := cert.Signer(); signer == nil || *signer != c.device.ID {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "%s is not signed by the calling device", cert.Kind())
	}
	if err := s.ballpark(cert.When()); err != nil {
		return nil, err
	}
	return cert, nil
}

// memberStatus maps the engine's rejections of a profile change or revocation to statuses.
func memberStatus(tx metastore.Tx, org parsec.OrganizationID, err error, revoking bool) error {
	switch {
	case errors.Is(err, certif.ErrUnknownUser):
		return protocol.Errorf(protocol.StatusUserNotFound, "%v", err)
	case errors.Is(err, certif.ErrUserRevoked) && revoking:
		last, _ := tx.LastTimestamp(org, metastore.CommonTopic)
		e := protocol.Errorf(protocol.StatusUserAlreadyRevoked, "this user is already revoked")
		e.Detail.LastCertificateTimestamp = last
		return e
	case errors.Is(err, certif.ErrUserRevoked):
		return protocol.Errorf(protocol.StatusUserRevoked, "this user is revoked: its profile cannot change")
	case errors.Is(err, certif.ErrProfileUnchanged):
		return protocol.Errorf(protocol.StatusUserNoChanges, "%v", err)
	case errors.Is(err, certif.ErrAuthorNotAdmin) && revoking:
		return protocol.Errorf(protocol.StatusAuthorNotAllowed, "only an Administrator can revoke users")
	case errors.Is(err, certif.ErrAuthorNotAdmin):
		return protocol.Errorf(protocol.StatusAuthorNotAllowed, "only an Administrator can change profiles")
	}
	return certificateStatus(tx, org, err)
}

func (s *Server) userUpdate(ctx context.Context, c *caller, req *protocol.UserUpdateReq) (any, error) {
	cert, err := s.signedByCaller(c, req.UserUpdateCertificate)
	if err != nil {
		return nil, err
	}
	uc, ok := cert.(*certif.UserUpdateCertificate)
	if !ok {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "user_update needs a user update certificate, not a %s", cert.Kind())
	}
	err = s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		org, err := certifyingOrg(tx, c)
		if err != nil {
			return err
		}
		if _, err := certif.Validate(txState{tx: tx, org: c.org.ID}, crypto.VerifyKey(org.RootVerifyKey), req.UserUpdateCertificate); err != nil {
			return memberStatus(tx, c.org.ID, err, false)
		}
		u, err := tx.User(c.org.ID, uc.UserID)
		if err != nil {
			return err
		}
		u.Profile = uc.NewProfile
		u.ProfileHistory = append(u.ProfileHistory, metastore.ProfileChange{On: uc.Timestamp, By: uc.Author, Profile: uc.NewProfile})
		if err := tx.UpdateUser(c.org.ID, u); err != nil {
			return err
		}
		return tx.AddCertificate(c.org.ID, metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: uc.Timestamp,
			Kind: certif.KindUserUpdate, Data: req.UserUpdateCertificate})
	})
	if err != nil {
		return nil, err
	}
	s.profiles.Store(profileKey{c.org.ID, uc.UserID}, uc.NewProfile)
	s.log.Info("user profile changed", "org", c.org.ID, "user", uc.UserID, "profile", uc.NewProfile, "by", c.user.ID)
	s.publishCertificate(c.org.ID, metastore.CommonTopic, uc.Timestamp)
	return struct{}{}, nil
}

func (s *Server) userRevoke(ctx context.Context, c *caller, req *protocol.UserRevokeReq) (any, error) {
	cert, err := s.signedByCaller(c, req.RevokedUserCertificate)
	if err != nil {
		return nil, err
	}
	rc, ok := cert.(*certif.RevokedUserCertificate)
	if !ok {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "user_revoke needs a revoked user certificate, not a %s", cert.Kind())
	}
	var cancelled []metastore.Invitation
	err = s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		org, err := certifyingOrg(tx, c)
		if err != nil {
			return err
		}
		if _, err := certif.Validate(txState{tx: tx, org: c.org.ID}, crypto.VerifyKey(org.RootVerifyKey), req.RevokedUserCertificate); err != nil {
			return memberStatus(tx, c.org.ID, err, true)
		}
		u, err := tx.User(c.org.ID, rc.UserID)
		if err != nil {
			return err
		}
		by := rc.Author
		u.RevokedOn, u.RevokedBy = rc.Timestamp, &by
		if err := tx.UpdateUser(c.org.ID, u); err != nil {
			return err
		}
		if err := tx.AddCertificate(c.org.ID, metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: rc.Timestamp,
			Kind: certif.KindRevokedUser, Data: req.RevokedUserCertificate}); err != nil {
			return err
		}
		cancelled, err = s.cancelInvitationsOf(tx, c.org.ID, rc.UserID)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("user revoked", "org", c.org.ID, "user", rc.UserID, "by", c.user.ID)
	s.publish(c.org.ID, internalUserBlocked, nil, events.Audience{Users: []parsec.UserID{rc.UserID}})
	s.publishCertificate(c.org.ID, metastore.CommonTopic, rc.Timestamp)
	for _, inv := range cancelled {
		s.publish(c.org.ID, protocol.EventInvitation, protocol.EventInvitationData{Token: inv.Token, Status: protocol.InvitationStatusCanceled},
			s.greetersAudience(ctx, c.org.ID, inv))
	}
	return struct{}{}, nil
}

// cancelInvitationsOf cancels the pending invitations that would give a revoked user a
// device: a new device's, and a shared recovery's, whose claimer would otherwise receive
// the recipients' shares and, with them, the user's keys.
func (s *Server) cancelInvitationsOf(tx metastore.Tx, org parsec.OrganizationID, user parsec.UserID) ([]metastore.Invitation, error) {
	var out []metastore.Invitation
	for _, typ := range []string{metastore.InvitationDevice, metastore.InvitationRecovery} {
		inv, err := tx.PendingInvitationFor(org, typ, user)
		if errors.Is(err, metastore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		inv.DeletedOn, inv.DeletedReason = s.now(), metastore.DeletedCancelled
		if err := tx.UpdateInvitation(org, inv); err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, nil
}

// listFrozenUsers tells Administrators which users the server administrator froze.
func (s *Server) listFrozenUsers(ctx context.Context, c *caller, req *protocol.ListFrozenUsersReq) (any, error) {
	rep := protocol.ListFrozenUsersRep{FrozenUsers: []parsec.UserID{}}
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		me, err := tx.User(c.org.ID, c.user.ID)
		if err != nil {
			return err
		}
		if me.Profile != parsec.ProfileAdmin {
			return protocol.Errorf(protocol.StatusAuthorNotAllowed, "only an Administrator can list frozen users")
		}
		users, err := tx.Users(c.org.ID)
		if err != nil {
			return err
		}
		for _, u := range users {
			if u.Frozen {
				rep.FrozenUsers = append(rep.FrozenUsers, u.ID)
			}
		}
		return nil
	})
	return rep, err
}
