package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/mail"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Invitations: an Administrator invites a person by email (USER), or any user invites a new
// device of their own (DEVICE). Creation is idempotent: the same pending invitation is
// returned for the same email or user. There is no expiry; an invitation lives until it is
// finished (the greeter completes it) or cancelled.

// authenticateInvited checks the invitation token of the invited family: 401 when missing or
// malformed, 403 when unknown, 410 when already finished or cancelled.
func (s *Server) authenticateInvited(ctx context.Context, r *http.Request, c *caller) error {
	token, err := protocol.ParseInvitedAuth(r.Header.Get(protocol.HeaderAuthorization))
	if err != nil {
		return fail(protocol.HTTPUnauthorized, "missing or malformed authorization")
	}
	var claimerRevoked bool
	err = s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		if c.invitation, err = tx.Invitation(c.org.ID, token); err != nil {
			return err
		}
		claimerRevoked, err = invitedUserRevoked(tx, c.org.ID, c.invitation)
		return err
	})
	if errors.Is(err, metastore.ErrNotFound) {
		return fail(protocol.HTTPForbidden, "unknown invitation")
	}
	if err != nil {
		return err
	}
	if !c.invitation.Pending() || claimerRevoked {
		return fail(protocol.HTTPGone, "invitation already used or cancelled")
	}
	return nil
}

// invitedUserRevoked reports whether an invitation gives a device to a user who is revoked
// (a new device's, a shared recovery's): revoking cancels them, and one left pending by an
// older server must not hand the recipients' shares, and the user's keys, to its claimer.
func invitedUserRevoked(tx metastore.Tx, org parsec.OrganizationID, inv metastore.Invitation) (bool, error) {
	if inv.Type != metastore.InvitationDevice && inv.Type != metastore.InvitationRecovery {
		return false, nil
	}
	u, err := tx.User(org, inv.ClaimerUserID)
	if errors.Is(err, metastore.ErrNotFound) {
		return true, nil
	}
	return u.Revoked(), err
}

func invitationStatus(inv metastore.Invitation) string {
	switch inv.DeletedReason {
	case metastore.DeletedFinished:
		return protocol.InvitationStatusFinished
	case metastore.DeletedCancelled:
		return protocol.InvitationStatusCanceled
	}
	return protocol.InvitationStatusPending
}

// greetersAudience is who may greet an invitation: every administrator for a USER
// invitation, the user itself for a DEVICE one, the recipients of the setup in force (and
// the administrators, who may cancel it) for a SHAMIR_RECOVERY one.
func (s *Server) greetersAudience(ctx context.Context, org parsec.OrganizationID, inv metastore.Invitation) events.Audience {
	switch inv.Type {
	case metastore.InvitationDevice:
		return events.Audience{Users: []parsec.UserID{inv.ClaimerUserID}}
	case metastore.InvitationRecovery:
		aud := events.Audience{Admins: true}
		s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
			setup, err := tx.RecoverySetup(org, inv.ClaimerUserID)
			for u := range setup.Shares {
				aud.Users = append(aud.Users, u)
			}
			return err
		})
		return aud
	}
	return events.Audience{Admins: true}
}

// mayGreet reports whether a user may greet an invitation, with their current profile.
func mayGreet(tx metastore.Tx, org parsec.OrganizationID, u metastore.User, inv metastore.Invitation) (bool, error) {
	if u.Revoked() {
		return false, nil
	}
	switch inv.Type {
	case metastore.InvitationDevice:
		return u.ID == inv.ClaimerUserID, nil
	case metastore.InvitationRecovery:
		return isRecipient(tx, org, inv, u.ID)
	}
	return u.Profile == parsec.ProfileAdmin, nil
}

// mayManage reports whether a user may list and cancel an invitation: its greeters, and the
// administrators for a SHAMIR_RECOVERY one (they may create it without being recipients).
func mayManage(tx metastore.Tx, org parsec.OrganizationID, u metastore.User, inv metastore.Invitation) (bool, error) {
	if inv.Type == metastore.InvitationRecovery && !u.Revoked() && u.Profile == parsec.ProfileAdmin {
		return true, nil
	}
	return mayGreet(tx, org, u, inv)
}

func (s *Server) inviteNewUser(ctx context.Context, c *caller, req *protocol.InviteNewUserReq) (any, error) {
	email, err := parsec.ParseEmail(req.ClaimerEmail)
	if err != nil {
		return nil, protocol.Errorf(protocol.StatusBadRequest, "%v", err)
	}
	fresh := metastore.Invitation{Type: metastore.InvitationUser, ClaimerEmail: email}
	return s.newInvitation(ctx, c, fresh, req.SendEmail, func(tx metastore.Tx, me metastore.User) (metastore.Invitation, error) {
		if me.Profile != parsec.ProfileAdmin {
			return metastore.Invitation{}, protocol.Errorf(protocol.StatusAuthorNotAllowed, "only an Administrator can invite users")
		}
		if _, err := tx.ActiveUserByEmail(c.org.ID, email); err == nil {
			return metastore.Invitation{}, protocol.Errorf(protocol.StatusClaimerEmailAlreadyTaken, "%s is already a member of organization %s", email, c.org.ID)
		} else if !errors.Is(err, metastore.ErrNotFound) {
			return metastore.Invitation{}, err
		}
		return tx.PendingUserInvitation(c.org.ID, email)
	})
}

func (s *Server) inviteNewDevice(ctx context.Context, c *caller, req *protocol.InviteNewDeviceReq) (any, error) {
	fresh := metastore.Invitation{Type: metastore.InvitationDevice, ClaimerUserID: c.user.ID}
	return s.newInvitation(ctx, c, fresh, req.SendEmail, func(tx metastore.Tx, _ metastore.User) (metastore.Invitation, error) {
		return tx.PendingInvitationFor(c.org.ID, metastore.InvitationDevice, c.user.ID)
	})
}

// newInvitation returns the pending invitation that pending finds (creation is idempotent),
// or creates fresh when it finds none (ErrNotFound); any other error of pending is returned.
// pending gets the caller's user as of the transaction (its current profile, not the
// handshake's), once checked neither revoked nor frozen since the handshake. newInvitation
// then tells the possible greeters, and emails the link when asked.
func (s *Server) newInvitation(ctx context.Context, c *caller, fresh metastore.Invitation, sendEmail bool,
	pending func(tx metastore.Tx, me metastore.User) (metastore.Invitation, error)) (any, error) {
	var inv metastore.Invitation
	created := false
	err := s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		me, err := currentCaller(tx, c)
		if err != nil {
			return err
		}
		inv, err = pending(tx, me)
		if err == nil || !errors.Is(err, metastore.ErrNotFound) {
			return err
		}
		inv = fresh
		inv.Token, inv.CreatedOn, inv.CreatedBy, inv.CreatedByDevice = parsec.NewAccessToken(), s.now(), c.user.ID, c.device.ID
		created = true
		return tx.InsertInvitation(c.org.ID, inv)
	})
	if err != nil {
		return nil, err
	}
	if created {
		s.log.Info("invitation created", "org", c.org.ID, "type", inv.Type, "by", c.user.ID)
		s.publish(c.org.ID, protocol.EventInvitation, protocol.EventInvitationData{Token: inv.Token, Status: protocol.InvitationStatusPending}, s.greetersAudience(ctx, c.org.ID, inv))
	}
	rep := protocol.InviteNewRep{Token: inv.Token}
	if sendEmail {
		rep.EmailSent = s.sendInvitation(ctx, c, inv, mail.Invitation{
			Organization: string(c.org.ID), GreeterName: c.user.Name, GreeterEmail: c.user.Email, ClaimerEmail: inv.ClaimerEmail,
			Link: s.claimLink(c.org.ID, inv).HTTPRedirect(), Device: inv.Type == metastore.InvitationDevice,
		})
	}
	return rep, nil
}

func (s *Server) claimLink(org parsec.OrganizationID, inv metastore.Invitation) protocol.Link {
	action := protocol.ActionClaimUser
	switch inv.Type {
	case metastore.InvitationDevice:
		action = protocol.ActionClaimDevice
	case metastore.InvitationRecovery:
		action = protocol.ActionClaimRecovery
	}
	return protocol.Link{Server: s.public, Org: org, Action: action, Token: inv.Token}
}

// sendInvitation sends the invitation email. A failure never loses the invitation: the reply
// says the email was not sent, and the inviter passes the link on by hand.
func (s *Server) sendInvitation(ctx context.Context, c *caller, inv metastore.Invitation, m mail.Invitation) string {
	if s.cfg.Mail == nil {
		return protocol.EmailServerUnavailable
	}
	err := s.cfg.Mail.Send(ctx, mail.InvitationMessage(m))
	switch {
	case err == nil:
		return protocol.EmailSent
	case errors.Is(err, mail.ErrRecipientRefused):
		s.log.Warn("invitation email refused by the mail server", "org", c.org.ID, "err", err)
		return protocol.EmailRecipientRefused
	}
	s.log.Warn("invitation email not sent", "org", c.org.ID, "err", err)
	return protocol.EmailServerUnavailable
}

func (s *Server) inviteList(ctx context.Context, c *caller, req *protocol.InviteListReq) (any, error) {
	rep := protocol.InviteListRep{Invitations: []protocol.InvitationInfo{}}
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		me, err := tx.User(c.org.ID, c.user.ID)
		if err != nil {
			return err
		}
		all, err := tx.Invitations(c.org.ID)
		if err != nil {
			return err
		}
		for _, inv := range all {
			if ok, err := mayManage(tx, c.org.ID, me, inv); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			info := protocol.InvitationInfo{Token: inv.Token, Type: inv.Type, CreatedOn: inv.CreatedOn,
				CreatedBy: inv.CreatedBy, Status: invitationStatus(inv), ClaimerEmail: inv.ClaimerEmail}
			if inv.Type != metastore.InvitationUser {
				id := inv.ClaimerUserID
				info.ClaimerUserID = &id
			}
			rep.Invitations = append(rep.Invitations, info)
		}
		return nil
	})
	return rep, err
}

// loadInvitation finds an invitation that the caller may act on as a greeter, or as its
// claimer (the invited email's user, or the device invitation's user).
func loadInvitation(tx metastore.Tx, c *caller, token parsec.AccessToken) (metastore.Invitation, metastore.User, error) {
	inv, err := tx.Invitation(c.org.ID, token)
	if errors.Is(err, metastore.ErrNotFound) {
		return inv, metastore.User{}, protocol.Errorf(protocol.StatusInvitationNotFound, "invitation %s not found", token)
	}
	if err != nil {
		return inv, metastore.User{}, err
	}
	me, err := currentCaller(tx, c)
	if err != nil {
		return inv, me, err
	}
	claimer := (inv.Type == metastore.InvitationUser && inv.ClaimerEmail == me.Email) ||
		(inv.Type == metastore.InvitationRecovery && inv.ClaimerUserID == me.ID)
	manager, err := mayManage(tx, c.org.ID, me, inv)
	if err != nil {
		return inv, me, err
	}
	if !manager && !claimer {
		return inv, me, protocol.Errorf(protocol.StatusAuthorNotAllowed, "you may not act on invitation %s", token)
	}
	return inv, me, nil
}

func (s *Server) inviteCancel(ctx context.Context, c *caller, req *protocol.InviteTokenReq) (any, error) {
	return s.endInvitation(ctx, c, req.Token, metastore.DeletedCancelled)
}

func (s *Server) inviteComplete(ctx context.Context, c *caller, req *protocol.InviteTokenReq) (any, error) {
	return s.endInvitation(ctx, c, req.Token, metastore.DeletedFinished)
}

// endInvitation cancels or finishes a pending invitation, for one of its greeters or its
// claimer. Ending an invitation that already ended is an error saying how it ended.
func (s *Server) endInvitation(ctx context.Context, c *caller, token parsec.AccessToken, reason string) (any, error) {
	var inv metastore.Invitation
	err := s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		var err error
		if inv, _, err = loadInvitation(tx, c, token); err != nil {
			return err
		}
		switch {
		case inv.DeletedReason == metastore.DeletedFinished && reason == metastore.DeletedFinished:
			return protocol.Errorf(protocol.StatusInvitationAlreadyCompleted, "invitation %s is already finished", token)
		case inv.DeletedReason == metastore.DeletedFinished:
			return protocol.Errorf(protocol.StatusInvitationCompleted, "invitation %s is already finished", token)
		case inv.DeletedReason == metastore.DeletedCancelled && reason == metastore.DeletedCancelled:
			return protocol.Errorf(protocol.StatusInvitationAlreadyCancelled, "invitation %s is already cancelled", token)
		case inv.DeletedReason == metastore.DeletedCancelled:
			return protocol.Errorf(protocol.StatusInvitationCancelled, "invitation %s was cancelled", token)
		}
		inv.DeletedOn, inv.DeletedReason = s.now(), reason
		return tx.UpdateInvitation(c.org.ID, inv)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("invitation ended", "org", c.org.ID, "by", c.user.ID, "reason", reason)
	s.publish(c.org.ID, protocol.EventInvitation, protocol.EventInvitationData{Token: inv.Token, Status: invitationStatus(inv)}, s.greetersAudience(ctx, c.org.ID, inv))
	return struct{}{}, nil
}

// inviteInfo tells the claimer who invited them and who may greet them.
func (s *Server) inviteInfo(ctx context.Context, c *caller, req *protocol.InviteInfoReq) (any, error) {
	inv := c.invitation
	rep := protocol.InviteInfoRep{Type: inv.Type, Greeters: []protocol.Greeter{}}
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		creator, err := tx.User(c.org.ID, inv.CreatedBy)
		if err != nil {
			return err
		}
		rep.CreatedBy = userRef(creator)
		attempts, err := tx.GreetingAttempts(c.org.ID, inv.Token)
		if err != nil {
			return err
		}
		lastJoined := map[parsec.UserID]parsec.DateTime{}
		for _, a := range attempts {
			lastJoined[a.Greeter] = max(lastJoined[a.Greeter], a.GreeterJoined)
		}
		if inv.Type != metastore.InvitationUser {
			u, err := tx.User(c.org.ID, inv.ClaimerUserID)
			if err != nil {
				return err
			}
			id, h := u.ID, userRef(u).HumanHandle
			rep.ClaimerUserID, rep.ClaimerHumanHandle = &id, &h
			if inv.Type == metastore.InvitationDevice {
				rep.Greeters = append(rep.Greeters, protocol.Greeter{UserRef: userRef(u), LastAttemptJoinedOn: lastJoined[u.ID]})
				return nil
			}
		}
		if inv.Type == metastore.InvitationRecovery {
			if rep.Recovery, err = recoveryInfo(tx, c.org.ID, inv.ClaimerUserID); err != nil {
				return err
			}
		} else {
			rep.ClaimerEmail = inv.ClaimerEmail
		}
		users, err := tx.Users(c.org.ID)
		if err != nil {
			return err
		}
		for _, u := range users {
			if ok, err := mayGreet(tx, c.org.ID, u, inv); err != nil {
				return err
			} else if ok {
				rep.Greeters = append(rep.Greeters, protocol.Greeter{UserRef: userRef(u), LastAttemptJoinedOn: lastJoined[u.ID]})
			}
		}
		return nil
	})
	return rep, err
}

func userRef(u metastore.User) protocol.UserRef {
	return protocol.UserRef{UserID: u.ID, HumanHandle: parsec.HumanHandle{Email: u.Email, Label: u.Name}}
}

// Greeting attempts. A greeting session is (invitation, greeter); it has at most one active
// attempt. Starting takes the active attempt (creating it if none) and joins it; starting
// again from a side that already joined cancels that attempt (AUTOMATICALLY_CANCELLED) and
// joins a fresh one: the last to start wins, and the peer learns it on its next call.

func (s *Server) startAttempt(tx metastore.Tx, org parsec.OrganizationID, token parsec.AccessToken, greeter parsec.UserID, side string) (metastore.GreetingAttempt, []metastore.GreetingAttempt, error) {
	attempts, err := tx.GreetingAttempts(org, token)
	if err != nil {
		return metastore.GreetingAttempt{}, nil, err
	}
	now := s.now()
	var cancelled []metastore.GreetingAttempt
	var active *metastore.GreetingAttempt
	for i := range attempts {
		if attempts[i].Greeter == greeter && attempts[i].Active() {
			active = &attempts[i]
		}
	}
	joined := func(a *metastore.GreetingAttempt) *parsec.DateTime {
		if side == metastore.SideGreeter {
			return &a.GreeterJoined
		}
		return &a.ClaimerJoined
	}
	if active != nil && joined(active).IsZero() {
		*joined(active) = now
		return *active, nil, tx.UpdateGreetingAttempt(org, *active)
	}
	if active != nil {
		active.CancelledOn, active.CancelledBy, active.CancelReason = now, side, protocol.CancelAutomatically
		if err := tx.UpdateGreetingAttempt(org, *active); err != nil {
			return metastore.GreetingAttempt{}, nil, err
		}
		cancelled = append(cancelled, *active)
	}
	a := metastore.GreetingAttempt{ID: parsec.NewGreetingAttemptID(), Token: token, Greeter: greeter, CreatedOn: now}
	*joined(&a) = now
	return a, cancelled, tx.InsertGreetingAttempt(org, a)
}

func (s *Server) greeterStartAttempt(ctx context.Context, c *caller, req *protocol.GreeterStartAttemptReq) (any, error) {
	var a metastore.GreetingAttempt
	var cancelled []metastore.GreetingAttempt
	err := s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		inv, err := s.greeterInvitation(tx, c, req.Token)
		if err != nil {
			return err
		}
		a, cancelled, err = s.startAttempt(tx, c.org.ID, inv.Token, c.user.ID, metastore.SideGreeter)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.publishCancelled(c.org.ID, cancelled)
	return protocol.StartAttemptRep{GreetingAttempt: a.ID}, nil
}

// greeterInvitation returns a pending invitation the caller may greet.
func (s *Server) greeterInvitation(tx metastore.Tx, c *caller, token parsec.AccessToken) (metastore.Invitation, error) {
	inv, err := tx.Invitation(c.org.ID, token)
	if errors.Is(err, metastore.ErrNotFound) {
		return inv, protocol.Errorf(protocol.StatusInvitationNotFound, "invitation %s not found", token)
	}
	if err != nil {
		return inv, err
	}
	switch inv.DeletedReason {
	case metastore.DeletedFinished:
		return inv, protocol.Errorf(protocol.StatusInvitationCompleted, "invitation %s is already finished", token)
	case metastore.DeletedCancelled:
		return inv, protocol.Errorf(protocol.StatusInvitationCancelled, "invitation %s was cancelled", token)
	}
	if revoked, err := invitedUserRevoked(tx, c.org.ID, inv); err != nil || revoked {
		if err == nil {
			err = protocol.Errorf(protocol.StatusInvitationCancelled, "invitation %s gives a device to a revoked user", token)
		}
		return inv, err
	}
	me, err := currentCaller(tx, c)
	if err != nil {
		return inv, err
	}
	if ok, err := mayGreet(tx, c.org.ID, me, inv); err != nil || !ok {
		switch {
		case err != nil:
			return inv, err
		case inv.Type == metastore.InvitationUser:
			return inv, protocol.Errorf(protocol.StatusAuthorNotAllowed, "only an Administrator can greet a user invitation")
		case inv.Type == metastore.InvitationRecovery:
			return inv, protocol.Errorf(protocol.StatusAuthorNotAllowed, "only a recipient of the shared recovery in force can greet this invitation")
		}
		return inv, protocol.Errorf(protocol.StatusAuthorNotAllowed, "only its own user can greet a device invitation")
	}
	return inv, nil
}

func (s *Server) claimerStartAttempt(ctx context.Context, c *caller, req *protocol.ClaimerStartAttemptReq) (any, error) {
	var a metastore.GreetingAttempt
	var cancelled []metastore.GreetingAttempt
	err := s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		if err := s.checkGreeter(tx, c, req.Greeter); err != nil {
			return err
		}
		var err error
		a, cancelled, err = s.startAttempt(tx, c.org.ID, c.invitation.Token, req.Greeter, metastore.SideClaimer)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.publishCancelled(c.org.ID, cancelled)
	return protocol.StartAttemptRep{GreetingAttempt: a.ID}, nil
}

// checkGreeter checks, for the claimer, that a user may (still) greet its invitation.
func (s *Server) checkGreeter(tx metastore.Tx, c *caller, greeter parsec.UserID) error {
	u, err := tx.User(c.org.ID, greeter)
	if errors.Is(err, metastore.ErrNotFound) {
		return protocol.Errorf(protocol.StatusGreeterNotFound, "greeter %s not found", greeter)
	}
	if err != nil {
		return err
	}
	if u.Revoked() {
		return protocol.Errorf(protocol.StatusGreeterRevoked, "greeter %s has been revoked", u.Name)
	}
	if ok, err := mayGreet(tx, c.org.ID, u, c.invitation); err != nil {
		return err
	} else if !ok {
		return protocol.Errorf(protocol.StatusGreeterNotAllowed, "%s may not greet this invitation", u.Name)
	}
	return nil
}

func (s *Server) publishCancelled(org parsec.OrganizationID, attempts []metastore.GreetingAttempt) {
	for _, a := range attempts {
		s.publish(org, protocol.EventGreetingAttemptCancelled, protocol.EventGreetingAttemptData{Token: a.Token, GreetingAttempt: a.ID},
			events.Audience{Users: []parsec.UserID{a.Greeter}})
	}
}

// attemptFor loads an attempt of the caller's side and checks it may go on.
func (s *Server) attemptFor(tx metastore.Tx, c *caller, id parsec.GreetingAttemptID, side string) (metastore.GreetingAttempt, error) {
	a, err := tx.GreetingAttempt(c.org.ID, id)
	if errors.Is(err, metastore.ErrNotFound) {
		return a, protocol.Errorf(protocol.StatusGreetingAttemptNotFound, "greeting attempt %s not found", id)
	}
	if err != nil {
		return a, err
	}
	if side == metastore.SideGreeter {
		if a.Greeter != c.user.ID {
			return a, protocol.Errorf(protocol.StatusGreetingAttemptNotFound, "greeting attempt %s not found", id)
		}
		if _, err := s.greeterInvitation(tx, c, a.Token); err != nil {
			return a, err
		}
		if a.GreeterJoined.IsZero() {
			return a, protocol.Errorf(protocol.StatusGreetingAttemptNotJoined, "greeting attempt %s not joined", id)
		}
	} else {
		if a.Token != c.invitation.Token {
			return a, protocol.Errorf(protocol.StatusGreetingAttemptNotFound, "greeting attempt %s not found", id)
		}
		if err := s.checkGreeter(tx, c, a.Greeter); err != nil {
			return a, err
		}
		if a.ClaimerJoined.IsZero() {
			return a, protocol.Errorf(protocol.StatusGreetingAttemptNotJoined, "greeting attempt %s not joined", id)
		}
	}
	return a, nil
}

func attemptCancelled(status protocol.Status, a metastore.GreetingAttempt) error {
	e := protocol.Errorf(status, "the greeting attempt was cancelled by the %s (%s)", sideName(a.CancelledBy), a.CancelReason)
	e.Detail.AttemptCancelled = &protocol.AttemptCancelled{Origin: a.CancelledBy, Timestamp: a.CancelledOn, Reason: a.CancelReason}
	return e
}

func sideName(side string) string {
	if side == metastore.SideGreeter {
		return "greeter"
	}
	return "claimer"
}

func (s *Server) cancelAttempt(ctx context.Context, c *caller, req *protocol.CancelAttemptReq, side string) (any, error) {
	if !protocol.ValidCancelReason(req.Reason) {
		return nil, protocol.Errorf(protocol.StatusBadRequest, "unknown cancel reason %q", req.Reason)
	}
	var a metastore.GreetingAttempt
	err := s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		var err error
		if a, err = s.attemptFor(tx, c, req.GreetingAttempt, side); err != nil {
			return err
		}
		if !a.Active() {
			return attemptCancelled(protocol.StatusGreetingAttemptAlreadyDone, a)
		}
		a.CancelledOn, a.CancelledBy, a.CancelReason = s.now(), side, req.Reason
		return tx.UpdateGreetingAttempt(c.org.ID, a)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("greeting attempt cancelled", "org", c.org.ID, "by", side, "reason", req.Reason)
	s.publishCancelled(c.org.ID, []metastore.GreetingAttempt{a})
	return struct{}{}, nil
}

func (s *Server) greeterCancelAttempt(ctx context.Context, c *caller, req *protocol.CancelAttemptReq) (any, error) {
	return s.cancelAttempt(ctx, c, req, metastore.SideGreeter)
}

func (s *Server) claimerCancelAttempt(ctx context.Context, c *caller, req *protocol.CancelAttemptReq) (any, error) {
	return s.cancelAttempt(ctx, c, req, metastore.SideClaimer)
}

// step is the mailbox: side S submits its payload P for step i and gets the other side's.
//
//  1. if S already sent a different payload for step i: step_mismatch (re-sending the same
//     payload is how a side polls);
//  2. if a previous step is not complete on both sides: step_too_advanced;
//  3. S's payload is recorded;
//  4. if the other side has not sent step i yet: not_ready; else ok with its payload.
func (s *Server) step(ctx context.Context, c *caller, req *protocol.StepReq, side string) (any, error) {
	if req.Step < 0 || req.Step > protocol.MaxStep {
		return nil, protocol.Errorf(protocol.StatusBadRequest, "step %d: want 0 to %d", req.Step, protocol.MaxStep)
	}
	if len(req.Payload) > protocol.MaxStepPayload {
		return nil, protocol.Errorf(protocol.StatusBadRequest, "step payload of %d bytes: at most %d", len(req.Payload), protocol.MaxStepPayload)
	}
	var a metastore.GreetingAttempt
	var other []byte
	ready := false
	err := s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		var err error
		if a, err = s.attemptFor(tx, c, req.GreetingAttempt, side); err != nil {
			return err
		}
		if !a.Active() {
			return attemptCancelled(protocol.StatusGreetingAttemptCancelled, a)
		}
		mine, theirs := &a.GreeterSteps, &a.ClaimerSteps
		if side == metastore.SideClaimer {
			mine, theirs = theirs, mine
		}
		i := req.Step
		if i < len(*mine) && !bytes.Equal((*mine)[i], req.Payload) {
			return protocol.Errorf(protocol.StatusStepMismatch, "step %d was already sent with another payload", i)
		}
		if i > len(*mine) || i > len(*theirs) {
			return protocol.Errorf(protocol.StatusStepTooAdvanced, "step %d sent before step %d is complete on both sides", i, i-1)
		}
		if i == len(*mine) {
			*mine = append(*mine, append([]byte{}, req.Payload...))
			if err := tx.UpdateGreetingAttempt(c.org.ID, a); err != nil {
				return err
			}
		}
		if i < len(*theirs) {
			other, ready = (*theirs)[i], true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	audience := events.Audience{Users: []parsec.UserID{a.Greeter}}
	data := protocol.EventGreetingAttemptData{Token: a.Token, GreetingAttempt: a.ID}
	switch {
	case !ready && side == metastore.SideClaimer && req.Step == 0:
		s.publish(c.org.ID, protocol.EventGreetingAttemptReady, data, audience)
	case ready && side == metastore.SideGreeter && req.Step == 0:
		s.publish(c.org.ID, protocol.EventGreetingAttemptJoined, data, audience)
	}
	if !ready {
		return nil, protocol.Errorf(protocol.StatusNotReady, "waiting for the other side")
	}
	return protocol.StepRep{Payload: other}, nil
}

func (s *Server) greeterStep(ctx context.Context, c *caller, req *protocol.StepReq) (any, error) {
	return s.step(ctx, c, req, metastore.SideGreeter)
}

func (s *Server) claimerStep(ctx context.Context, c *caller, req *protocol.StepReq) (any, error) {
	return s.step(ctx, c, req, metastore.SideClaimer)
}
