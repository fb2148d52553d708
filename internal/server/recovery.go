package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Shared recovery (certif/recovery.go; the reference's §9). The server checks the setup and
// deletion certificates with the certificate engine, like every other, and each share
// certificate against its setup; it keeps the encrypted recovery device and the reveal
// token, which it hands out (the device, encrypted) only for the right token.

func (s *Server) recoveryCommands() map[string]handler {
	return map[string]handler{
		protocol.CmdRecoverySetup:     command(s.recoverySetup),
		protocol.CmdRecoveryDelete:    command(s.recoveryDelete),
		protocol.CmdRecoveryShare:     command(s.recoveryShare),
		protocol.CmdInviteNewRecovery: command(s.inviteNewRecovery),
	}
}

// recoveryCertificates adds to a certificate_get reply the shared-recovery topics the caller
// may see: its own, and those of the users whose setups named it as a recipient.
func (s *Server) recoveryCertificates(tx metastore.Tx, c *caller, req *protocol.CertificateGetReq, rep *protocol.CertificateGetRep) error {
	users, err := tx.RecoveryUsersFor(c.org.ID, c.user.ID)
	if err != nil {
		return err
	}
	users = append(users, c.user.ID)
	for _, u := range users {
		certs, err := tx.Certificates(c.org.ID, metastore.RecoveryTopic(u), req.RecoveryAfter[u])
		if err != nil {
			return err
		}
		if len(certs) == 0 {
			continue
		}
		if rep.Recovery == nil {
			rep.Recovery = map[parsec.UserID][][]byte{}
		}
		for _, cert := range certs {
			rep.Recovery[u] = append(rep.Recovery[u], cert.Data)
		}
	}
	return nil
}

// recoveryStatus turns the certificate engine's refusal of a shared-recovery certificate
// into the status that says it.
func recoveryStatus(tx metastore.Tx, org parsec.OrganizationID, user parsec.UserID, err error) error {
	switch {
	case errors.Is(err, certif.ErrTimestampNotIncreasing):
		e := protocol.Errorf(protocol.StatusRequireGreaterTimestamp, "%v", err)
		e.Detail.StrictlyGreaterThan, _ = tx.LastTimestamp(org, metastore.RecoveryTopic(user))
		return e
	case errors.Is(err, certif.ErrRecoveryExists):
		return protocol.Errorf(protocol.StatusRecoveryAlreadyExists, "%v", err)
	case errors.Is(err, certif.ErrNoRecoverySetup):
		return protocol.Errorf(protocol.StatusRecoveryNotFound, "%v", err)
	case errors.Is(err, certif.ErrUnknownUser):
		return protocol.Errorf(protocol.StatusRecipientNotFound, "%v", err)
	case errors.Is(err, certif.ErrRecipientRevoked):
		return protocol.Errorf(protocol.StatusRecipientRevoked, "%v", err)
	}
	return certificateStatus(tx, org, err)
}

func (s *Server) recoverySetup(ctx context.Context, c *caller, req *protocol.RecoverySetupReq) (any, error) {
	cert, err := s.signedByCaller(c, req.Setup)
	if err != nil {
		return nil, err
	}
	setup, ok := cert.(*certif.RecoverySetupCertificate)
	switch {
	case !ok:
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "shamir_recovery_setup needs a setup certificate, not a %s", cert.Kind())
	case len(req.CipheredData) == 0:
		return nil, protocol.Errorf(protocol.StatusBadRequest, "ciphered_data is empty")
	case req.RevealToken == parsec.AccessToken{}:
		return nil, protocol.Errorf(protocol.StatusBadRequest, "reveal_token is zero")
	case len(req.Shares) != len(setup.Recipients):
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "%d share certificates for %d recipients", len(req.Shares), len(setup.Recipients))
	}
	record := metastore.RecoverySetup{User: setup.UserID, Timestamp: setup.Timestamp, CipheredData: req.CipheredData,
		RevealToken: req.RevealToken, Shares: make(map[parsec.UserID][]byte)}
	err = s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		org, err := certifyingOrg(tx, c)
		if err != nil {
			return err
		}
		state := txState{tx: tx, org: c.org.ID}
		if _, err := certif.Validate(state, crypto.VerifyKey(org.RootVerifyKey), req.Setup); err != nil {
			return recoveryStatus(tx, c.org.ID, c.user.ID, err)
		}
		for _, raw := range req.Shares {
			share, err := certif.ValidateShare(state, setup, raw)
			if err != nil {
				return protocol.Errorf(protocol.StatusInvalidCertificate, "%v", err)
			}
			if _, dup := record.Shares[share.Recipient]; dup {
				return protocol.Errorf(protocol.StatusInvalidCertificate, "two share certificates for user %s", share.Recipient)
			}
			record.Shares[share.Recipient] = raw
		}
		if err := tx.AddCertificate(c.org.ID, metastore.Certificate{Topic: metastore.RecoveryTopic(setup.UserID),
			Timestamp: setup.Timestamp, Kind: setup.Kind(), Data: req.Setup}); err != nil {
			return err
		}
		return tx.InsertRecoverySetup(c.org.ID, record)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("shared recovery set up", "org", c.org.ID, "user", c.user.ID, "recipients", len(setup.Recipients), "threshold", setup.Threshold)
	s.publishRecovery(c.org.ID, setup.UserID, setup.Timestamp, setup.RecipientIDs())
	return struct{}{}, nil
}

func (s *Server) recoveryDelete(ctx context.Context, c *caller, req *protocol.RecoveryDeleteReq) (any, error) {
	cert, err := s.signedByCaller(c, req.Deletion)
	if err != nil {
		return nil, err
	}
	del, ok := cert.(*certif.RecoveryDeletionCertificate)
	if !ok {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "shamir_recovery_delete needs a deletion certificate, not a %s", cert.Kind())
	}
	var cancelled []metastore.Invitation
	err = s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		org, err := certifyingOrg(tx, c)
		if err != nil {
			return err
		}
		if _, err := certif.Validate(txState{tx: tx, org: c.org.ID}, crypto.VerifyKey(org.RootVerifyKey), req.Deletion); err != nil {
			return recoveryStatus(tx, c.org.ID, c.user.ID, err)
		}
		if err := tx.AddCertificate(c.org.ID, metastore.Certificate{Topic: metastore.RecoveryTopic(del.UserID),
			Timestamp: del.Timestamp, Kind: del.Kind(), Data: req.Deletion}); err != nil {
			return err
		}
		if err := tx.DeleteRecoverySetup(c.org.ID, del.UserID, del.SetupTimestamp, del.Timestamp); err != nil {
			return err
		}
		// The invitation to recover with this setup can no longer succeed.
		inv, err := tx.PendingInvitationFor(c.org.ID, metastore.InvitationRecovery, del.UserID)
		if errors.Is(err, metastore.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		inv.DeletedOn, inv.DeletedReason = s.now(), metastore.DeletedCancelled
		cancelled = append(cancelled, inv)
		return tx.UpdateInvitation(c.org.ID, inv)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("shared recovery deleted", "org", c.org.ID, "user", c.user.ID)
	s.publishRecovery(c.org.ID, del.UserID, del.Timestamp, del.Recipients)
	for _, inv := range cancelled {
		s.publish(c.org.ID, protocol.EventInvitation, protocol.EventInvitationData{Token: inv.Token, Status: protocol.InvitationStatusCanceled},
			events.Audience{Users: del.Recipients, Admins: true})
	}
	return struct{}{}, nil
}

// publishRecovery tells a user and its recipients that the user's shared-recovery topic has
// a new certificate.
func (s *Server) publishRecovery(org parsec.OrganizationID, user parsec.UserID, ts parsec.DateTime, recipients []parsec.UserID) {
	s.publish(org, protocol.EventCommonCertificate, protocol.EventCertificateData{Timestamp: ts},
		events.Audience{Users: append(slices.Clone(recipients), user)})
}

// recoveryShare hands a recipient its share certificate of a user's setup in force.
func (s *Server) recoveryShare(ctx context.Context, c *caller, req *protocol.RecoveryShareReq) (any, error) {
	var rep protocol.RecoveryShareRep
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		setup, err := tx.RecoverySetup(c.org.ID, req.User)
		if errors.Is(err, metastore.ErrNotFound) || (err == nil && setup.Deleted()) {
			return protocol.Errorf(protocol.StatusRecoveryNotFound, "user %s has no shared recovery in force", req.User)
		}
		if err != nil {
			return err
		}
		share, ok := setup.Shares[c.user.ID]
		if !ok {
			return protocol.Errorf(protocol.StatusAuthorNotAllowed, "you are not a recipient of that user's shared recovery")
		}
		rep.Certificate = share
		return nil
	})
	return rep, err
}

// currentSetup returns a user's setup in force, or a shamir_recovery_not_found refusal.
func currentSetup(tx metastore.Tx, org parsec.OrganizationID, user parsec.UserID) (metastore.RecoverySetup, error) {
	setup, err := tx.RecoverySetup(org, user)
	if errors.Is(err, metastore.ErrNotFound) || (err == nil && setup.Deleted()) {
		return setup, protocol.Errorf(protocol.StatusRecoveryNotFound, "the user has no shared recovery in force")
	}
	return setup, err
}

// inviteNewRecovery invites a user to be recovered by its recipients. An Administrator or
// one of the recipients may ask; the user must have a setup in force. The same pending
// invitation is returned while there is one.
func (s *Server) inviteNewRecovery(ctx context.Context, c *caller, req *protocol.InviteNewRecoveryReq) (any, error) {
	fresh := metastore.Invitation{Type: metastore.InvitationRecovery, ClaimerUserID: req.ClaimerUserID}
	return s.newInvitation(ctx, c, fresh, false, func(tx metastore.Tx, me metastore.User) (metastore.Invitation, error) {
		claimer, err := tx.User(c.org.ID, req.ClaimerUserID)
		if errors.Is(err, metastore.ErrNotFound) {
			return metastore.Invitation{}, protocol.Errorf(protocol.StatusUserNotFound, "user %s not found", req.ClaimerUserID)
		}
		if err != nil {
			return metastore.Invitation{}, err
		}
		if claimer.Revoked() {
			return metastore.Invitation{}, protocol.Errorf(protocol.StatusUserRevoked, "%s is revoked", claimer.Name)
		}
		setup, err := currentSetup(tx, c.org.ID, claimer.ID)
		if err != nil {
			return metastore.Invitation{}, err
		}
		if _, recipient := setup.Shares[me.ID]; !recipient && me.Profile != parsec.ProfileAdmin {
			return metastore.Invitation{}, protocol.Errorf(protocol.StatusAuthorNotAllowed,
				"only an Administrator or one of the recipients can invite %s to recover their account", claimer.Name)
		}
		return tx.PendingInvitationFor(c.org.ID, metastore.InvitationRecovery, claimer.ID)
	})
}

// recoveryReveal gives the claimer of a SHAMIR_RECOVERY invitation the encrypted recovery
// device, once it proves with the reveal token that it rebuilt the secret from enough shares.
func (s *Server) recoveryReveal(ctx context.Context, c *caller, req *protocol.RecoveryRevealReq) (any, error) {
	if c.invitation.Type != metastore.InvitationRecovery {
		return nil, protocol.Errorf(protocol.StatusBadInvitationType, "this is not a shared-recovery invitation")
	}
	var rep protocol.RecoveryRevealRep
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		// Checked again here, where the keys would go: the user may have been revoked since
		// the request's handshake.
		if revoked, err := invitedUserRevoked(tx, c.org.ID, c.invitation); err != nil || revoked {
			if err == nil {
				err = fail(protocol.HTTPGone, "invitation already used or cancelled")
			}
			return err
		}
		setup, err := currentSetup(tx, c.org.ID, c.invitation.ClaimerUserID)
		if err != nil {
			return err
		}
		if subtle.ConstantTimeCompare(setup.RevealToken[:], req.RevealToken[:]) != 1 {
			return protocol.Errorf(protocol.StatusBadRevealToken, "the shares do not rebuild the secret of the setup in force")
		}
		rep.CipheredData = setup.CipheredData
		return nil
	})
	return rep, err
}

// recoveryRecipients lists, for a SHAMIR_RECOVERY invitation's claimer, the recipients of
// its user's setup in force.
func recoveryInfo(tx metastore.Tx, org parsec.OrganizationID, user parsec.UserID) (*protocol.RecoveryInfo, error) {
	setup, err := currentSetup(tx, org, user)
	if err != nil {
		return nil, err
	}
	last, err := txState{tx: tx, org: org}.LastRecovery(user)
	if err != nil {
		return nil, err
	}
	cert, ok := last.(*certif.RecoverySetupCertificate)
	if !ok || cert.Timestamp != setup.Timestamp {
		return nil, errors.New("the setup in force has no certificate")
	}
	info := &protocol.RecoveryInfo{SetupTimestamp: setup.Timestamp, Threshold: cert.Threshold}
	for _, r := range cert.Recipients {
		u, err := tx.User(org, r.User)
		if err != nil {
			return nil, err
		}
		info.Recipients = append(info.Recipients, protocol.RecoveryRecipient{UserRef: userRef(u), Shares: r.Shares, Revoked: u.Revoked()})
	}
	return info, nil
}

// isRecipient reports whether a user holds shares of the setup in force of the user an
// invitation would recover.
func isRecipient(tx metastore.Tx, org parsec.OrganizationID, inv metastore.Invitation, user parsec.UserID) (bool, error) {
	setup, err := tx.RecoverySetup(org, inv.ClaimerUserID)
	if errors.Is(err, metastore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	_, ok := setup.Shares[user]
	return ok && !setup.Deleted(), nil
}
