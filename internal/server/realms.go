package server

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Realms (workspaces). Every command carries a certificate of the realm's topic, signed by
// the calling device. A handler answers, in this order:
//
//   - what the engine cannot say, or not precisely: the realm does not exist, the change is
//     already made (idempotent outcomes, with the topic's last timestamp so the client
//     converges), the permission rules with their own statuses, the request's key index or
//     participants are wrong;
//   - require_greater_timestamp when the certificate is not after everything it depends on
//     (requireAfter): from then on the state at the certificate's timestamp is the current
//     state, the one the checks above read;
//   - the engine's verdict (certif.Validate, the clients' rules), in the write transaction,
//     so that the server never accepts a certificate a client would refuse.
//
// It then stores the certificate with what later requests need checked quickly (the realm
// record, the role changes, the key bundles), and after the commit updates the event
// streams' view of the realm's members and announces the certificate.

// realmCommands are the realm (workspace) commands of the authenticated family.
func (s *Server) realmCommands() map[string]handler {
	return map[string]handler{
		protocol.CmdRealmCreate:          command(s.realmCreate),
		protocol.CmdRealmShare:           command(s.realmShare),
		protocol.CmdRealmUnshare:         command(s.realmUnshare),
		protocol.CmdRealmSelfPromote:     command(s.realmSelfPromote),
		protocol.CmdRealmRename:          command(s.realmRename),
		protocol.CmdRealmRotateKey:       command(s.realmRotateKey),
		protocol.CmdRealmGetKeysBundle:   command(s.realmGetKeysBundle),
		protocol.CmdRealmUpdateArchiving: command(s.realmUpdateArchiving),
	}
}

// decodeAs decodes a certificate uploaded by the caller (signed by its device, within the
// ballpark) and checks that it is of the kind the command needs.
func decodeAs[T certif.Certificate](s *Server, c *caller, cmd string, raw []byte) (T, error) {
	var want T
	cert, err := s.signedByCaller(c, raw)
	if err != nil {
		return want, err
	}
	got, ok := cert.(T)
	if !ok {
		return want, protocol.Errorf(protocol.StatusInvalidCertificate, "%s needs a %s, not a %s", cmd, want.Kind(), cert.Kind())
	}
	return got, nil
}

// realmState is what a command on an existing realm knows inside its transaction.
type realmState struct {
	tx    metastore.Tx
	org   metastore.Organization
	me    metastore.User // the caller, as of this transaction
	realm metastore.Realm
	role  parsec.RealmRole // the caller's current role
	last  parsec.DateTime  // the last certificate of the realm's topic
}

// openRealm loads the state of an existing realm for the caller: realm_not_found if there
// is no such realm, the handshake's refusal if the caller was revoked or frozen since.
func openRealm(tx metastore.Tx, c *caller, id parsec.VlobID) (*realmState, error) {
	st := &realmState{tx: tx}
	var err error
	if st.org, err = tx.Organization(c.org.ID); err != nil {
		return nil, err
	}
	if st.me, err = currentCaller(tx, c); err != nil {
		return nil, err
	}
	st.realm, err = tx.Realm(c.org.ID, id)
	if errors.Is(err, metastore.ErrNotFound) {
		return nil, protocol.Errorf(protocol.StatusRealmNotFound, "workspace %s not found", id)
	}
	if err != nil {
		return nil, err
	}
	if st.role, err = tx.CurrentRealmRole(c.org.ID, id, c.user.ID); err != nil {
		return nil, err
	}
	if st.last, err = tx.LastTimestamp(c.org.ID, metastore.RealmTopic(id)); err != nil {
		return nil, err
	}
	return st, nil
}

// withLast builds a status whose detail is the realm topic's last certificate timestamp,
// so that the client fetches the certificates it lacks and converges.
func (st *realmState) withLast(status protocol.Status, format string, args ...any) error {
	e := protocol.Errorf(status, format, args...)
	e.Detail.LastCertificateTimestamp = st.last
	return e
}

// requireOwner refuses a caller who is not OWNER of the realm.
func (st *realmState) requireOwner(what string) error {
	if st.role != parsec.RoleOwner {
		return protocol.Errorf(protocol.StatusAuthorNotAllowed, "only an owner of the workspace can %s", what)
	}
	return nil
}

// validate answers require_greater_timestamp to a certificate of timestamp ts not after
// realmBound, then runs the certificate engine. outsider is the status of an External
// user's role the engine refuses, which depends on the command.
func (st *realmState) validate(raw []byte, realm parsec.VlobID, ts parsec.DateTime, roleCert bool, outsider protocol.Status) error {
	if err := requireAfter(st.tx, st.org.ID, realm, roleCert, ts); err != nil {
		return err
	}
	_, err := certif.Validate(txState{tx: st.tx, org: st.org.ID}, crypto.VerifyKey(st.org.RootVerifyKey), raw)
	if err != nil {
		return realmStatus(st.tx, st.org.ID, realm, roleCert, outsider, err)
	}
	return nil
}

// realmBound is the timestamp a new certificate of a realm must be strictly after: the last
// certificate of the common topic, of the realm's topic and, for role certificates, the last
// vlob of the realm. Clients check a realm certificate against the users, devices and roles
// as they were at its timestamp: a certificate older than what the server already holds
// would change the past (make a revoked author valid, an accepted manifest unauthorized).
func realmBound(tx metastore.Tx, org parsec.OrganizationID, realm parsec.VlobID, roleCert bool) (parsec.DateTime, error) {
	common, err := tx.LastTimestamp(org, metastore.CommonTopic)
	if err != nil {
		return 0, err
	}
	own, err := tx.LastTimestamp(org, metastore.RealmTopic(realm))
	if err != nil {
		return 0, err
	}
	bound := max(common, own)
	if roleCert {
		vlob, err := tx.LastVlobTimestamp(org, realm)
		if err != nil {
			return 0, err
		}
		bound = max(bound, vlob)
	}
	return bound, nil
}

// requireAfter answers require_greater_timestamp to a certificate not after realmBound.
func requireAfter(tx metastore.Tx, org parsec.OrganizationID, realm parsec.VlobID, roleCert bool, ts parsec.DateTime) error {
	bound, err := realmBound(tx, org, realm, roleCert)
	if err != nil {
		return err
	}
	if ts <= bound {
		e := protocol.Errorf(protocol.StatusRequireGreaterTimestamp, "certificate of %v is not after %v, the last change it depends on", ts, bound)
		e.Detail.StrictlyGreaterThan = bound
		return e
	}
	return nil
}

// realmStatus maps the engine's rejection of a realm certificate to a status; outsider is
// the status for certif.ErrOutsiderRole, which depends on the command. The handlers check
// the realm rules themselves first, to answer precise statuses in a useful order: this
// mapping decides the status should the engine still refuse on one of them.
func realmStatus(tx metastore.Tx, org parsec.OrganizationID, realm parsec.VlobID, roleCert bool, outsider protocol.Status, err error) error {
	switch {
	case errors.Is(err, certif.ErrTimestampNotIncreasing):
		bound, berr := realmBound(tx, org, realm, roleCert)
		if berr != nil {
			return berr
		}
		e := protocol.Errorf(protocol.StatusRequireGreaterTimestamp, "%v", err)
		e.Detail.StrictlyGreaterThan = bound
		return e
	case errors.Is(err, certif.ErrAuthorNoRole), errors.Is(err, certif.ErrRoleNotAllowed),
		errors.Is(err, certif.ErrNotOwner), errors.Is(err, certif.ErrSelfPromotion):
		return protocol.Errorf(protocol.StatusAuthorNotAllowed, "%v", err)
	case errors.Is(err, certif.ErrOutsiderRole):
		return protocol.Errorf(outsider, "%v", err)
	case errors.Is(err, certif.ErrUserRevoked):
		return protocol.Errorf(protocol.StatusRecipientRevoked, "%v", err)
	case errors.Is(err, certif.ErrUnknownUser):
		return protocol.Errorf(protocol.StatusRecipientNotFound, "%v", err)
	case errors.Is(err, certif.ErrUnknownRealm):
		return protocol.Errorf(protocol.StatusRealmNotFound, "%v", err)
	case errors.Is(err, certif.ErrKeyIndex):
		last, lerr := tx.LastTimestamp(org, metastore.RealmTopic(realm))
		if lerr != nil {
			return lerr
		}
		e := protocol.Errorf(protocol.StatusBadKeyIndex, "%v", err)
		e.Detail.LastCertificateTimestamp = last
		return e
	}
	return certificateStatus(tx, org, err)
}

// addCertificate stores a realm certificate in the realm's topic.
func (st *realmState) addCertificate(realm parsec.VlobID, c certif.Certificate, raw []byte) error {
	return st.tx.AddCertificate(st.org.ID, metastore.Certificate{Topic: metastore.RealmTopic(realm), Timestamp: c.When(), Kind: c.Kind(), Data: raw})
}

// addRole stores a role certificate: the role change, and the certificate in the realm's topic.
func (st *realmState) addRole(rc *certif.RealmRoleCertificate, raw []byte) error {
	if err := st.tx.AddRealmRole(st.org.ID, rc.RealmID, metastore.RealmRole{User: rc.UserID, Role: rc.Role, On: rc.Timestamp, By: rc.Author}); err != nil {
		return err
	}
	return st.addCertificate(rc.RealmID, rc, raw)
}

// realmMembers lists the realm's members after the transaction's changes.
func realmMembers(tx metastore.Tx, org parsec.OrganizationID, realm parsec.VlobID) ([]parsec.UserID, error) {
	ms, err := tx.RealmMembers(org, realm)
	if err != nil {
		return nil, err
	}
	out := make([]parsec.UserID, len(ms))
	for i, m := range ms {
		out[i] = m.User
	}
	return out, nil
}

// commitRealm runs change, a realm command, in a write transaction. Once it is committed it
// logs msg with the organization, the realm and attrs, updates the event streams' view of the
// realm's members and announces the realm's certificate of timestamp ts to them and to also
// (the user whose role changed, who may no longer be a member).
func (s *Server) commitRealm(ctx context.Context, c *caller, realm parsec.VlobID, ts parsec.DateTime, also []parsec.UserID,
	change func(tx metastore.Tx) error, msg string, attrs ...any) (any, error) {
	var after []parsec.UserID
	err := s.cfg.Store.Update(ctx, func(tx metastore.Tx) error {
		if err := change(tx); err != nil {
			return err
		}
		var err error
		after, err = realmMembers(tx, c.org.ID, realm)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info(msg, append([]any{"org", c.org.ID, "realm", realm}, attrs...)...)
	s.realmChanged(c.org.ID, realm, ts, after, also...)
	return protocol.RealmRep{}, nil
}

// updateRealm is commitRealm for a command on an existing realm: change gets the realm's
// state (realm_not_found if there is no such realm).
func (s *Server) updateRealm(ctx context.Context, c *caller, realm parsec.VlobID, ts parsec.DateTime, also []parsec.UserID,
	change func(st *realmState) error, msg string, attrs ...any) (any, error) {
	return s.commitRealm(ctx, c, realm, ts, also, func(tx metastore.Tx) error {
		st, err := openRealm(tx, c, realm)
		if err != nil {
			return err
		}
		return change(st)
	}, msg, attrs...)
}

// realmCreate creates a realm with its first role certificate: the author makes itself
// OWNER. External users cannot create workspaces.
func (s *Server) realmCreate(ctx context.Context, c *caller, req *protocol.RealmCreateReq) (any, error) {
	rc, err := decodeAs[*certif.RealmRoleCertificate](s, c, protocol.CmdRealmCreate, req.RealmRoleCertificate)
	if err != nil {
		return nil, err
	}
	if rc.UserID != c.user.ID || rc.Role != parsec.RoleOwner {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "a workspace is created by its author making itself owner")
	}
	return s.commitRealm(ctx, c, rc.RealmID, rc.Timestamp, nil, func(tx metastore.Tx) error {
		org, err := tx.Organization(c.org.ID)
		if err != nil {
			return err
		}
		me, err := currentCaller(tx, c)
		if err != nil {
			return err
		}
		if !parsec.CanCreateRealm(me.Profile) {
			return protocol.Errorf(protocol.StatusAuthorNotAllowed, "External users cannot create workspaces")
		}
		if _, err := tx.Realm(c.org.ID, rc.RealmID); err == nil {
			last, err := tx.LastTimestamp(c.org.ID, metastore.RealmTopic(rc.RealmID))
			if err != nil {
				return err
			}
			e := protocol.Errorf(protocol.StatusRealmAlreadyExists, "workspace %s already exists", rc.RealmID)
			e.Detail.LastCertificateTimestamp = last
			return e
		} else if !errors.Is(err, metastore.ErrNotFound) {
			return err
		}
		st := &realmState{tx: tx, org: org, me: me}
		if err := st.validate(req.RealmRoleCertificate, rc.RealmID, rc.Timestamp, true, protocol.StatusAuthorNotAllowed); err != nil {
			return err
		}
		if err := tx.InsertRealm(org.ID, metastore.Realm{ID: rc.RealmID, CreatedOn: rc.Timestamp, Archiving: metastore.ArchivingAvailable}); err != nil {
			return err
		}
		return st.addRole(rc, req.RealmRoleCertificate)
	}, "workspace created", "by", c.user.ID)
}

// realmShare gives a user a role, or changes it. The request carries the recipient's access
// to the bundle of the realm's last key, which the server keeps for it.
func (s *Server) realmShare(ctx context.Context, c *caller, req *protocol.RealmShareReq) (any, error) {
	rc, err := decodeAs[*certif.RealmRoleCertificate](s, c, protocol.CmdRealmShare, req.RealmRoleCertificate)
	if err != nil {
		return nil, err
	}
	switch {
	case rc.Role == parsec.RoleNone:
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "realm_share needs a role (realm_unshare removes one)")
	case rc.UserID == c.user.ID:
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "a member cannot change its own role (except by self-promotion)")
	case len(req.RecipientKeysBundleAccess) == 0:
		return nil, protocol.Errorf(protocol.StatusBadRequest, "realm_share needs the recipient's keys bundle access")
	}
	return s.updateRealm(ctx, c, rc.RealmID, rc.Timestamp, []parsec.UserID{rc.UserID}, func(st *realmState) error {
		if err := st.checkRoleChange(rc); err != nil {
			return err
		}
		switch {
		case st.realm.KeyIndex == 0:
			return st.withLast(protocol.StatusBadKeyIndex, "workspace %s has no key yet: it cannot be shared before its first key rotation", rc.RealmID)
		case req.KeyIndex != st.realm.KeyIndex:
			return st.withLast(protocol.StatusBadKeyIndex, "the access is to key %d, the workspace's last key is %d", req.KeyIndex, st.realm.KeyIndex)
		}
		if err := st.validate(req.RealmRoleCertificate, rc.RealmID, rc.Timestamp, true, protocol.StatusRoleIncompatibleWithOutsider); err != nil {
			return err
		}
		if err := st.addRole(rc, req.RealmRoleCertificate); err != nil {
			return err
		}
		return st.tx.PutKeysBundleAccess(st.org.ID, rc.RealmID, st.realm.KeyIndex, rc.UserID, req.RecipientKeysBundleAccess)
	}, "workspace shared", "user", rc.UserID, "role", rc.Role, "by", c.user.ID)
}

// checkRoleChange checks the change of another user's role that rc asks for (realm_share,
// realm_unshare) by the rules of parsec.RoleChange, and answers their refusal's status. A
// target that is no user is recipient_not_found, once the author is known to be a member.
func (st *realmState) checkRoleChange(rc *certif.RealmRoleCertificate) error {
	target, err := st.tx.User(st.org.ID, rc.UserID)
	known := !errors.Is(err, metastore.ErrNotFound)
	if known && err != nil {
		return err
	}
	current := parsec.RoleNone
	if known {
		if current, err = st.tx.CurrentRealmRole(st.org.ID, st.realm.ID, rc.UserID); err != nil {
			return err
		}
	}
	change := parsec.RoleChange{Author: st.role, Self: rc.UserID == st.me.ID, Current: current, Next: rc.Role, Target: target.Profile, Revoked: target.Revoked()}
	r := change.Check()
	switch {
	case r == parsec.RefusalNotMember:
		return protocol.Errorf(protocol.StatusAuthorNotAllowed, "only members of a workspace can share and unshare it")
	case !known:
		return protocol.Errorf(protocol.StatusRecipientNotFound, "user %s not found", rc.UserID)
	case r == parsec.RefusalNone:
		return nil
	case r == parsec.RefusalOwnRole: // realm_share and realm_unshare refuse it before
		return protocol.Errorf(protocol.StatusInvalidCertificate, "a member cannot change its own role (except by self-promotion)")
	case r == parsec.RefusalRevoked:
		return protocol.Errorf(protocol.StatusRecipientRevoked, "user %s is revoked", rc.UserID)
	case r == parsec.RefusalOutsiderCap:
		return protocol.Errorf(protocol.StatusRoleIncompatibleWithOutsider, "an External user can only be reader or contributor, not %s", rc.Role.Label())
	case r == parsec.RefusalUnchanged && rc.Role == parsec.RoleNone:
		return st.withLast(protocol.StatusRecipientAlreadyUnshared, "the user has no role in workspace %s", rc.RealmID)
	case r == parsec.RefusalUnchanged:
		return st.withLast(protocol.StatusRoleAlreadyGranted, "the user is already %s", rc.Role.Label())
	}
	return protocol.Errorf(protocol.StatusAuthorNotAllowed, "a %s cannot change a role from %s to %s", st.role.Label(), current.Label(), rc.Role.Label())
}

// realmUnshare removes a user's role. A revoked user's role may (and should) be removed.
func (s *Server) realmUnshare(ctx context.Context, c *caller, req *protocol.RealmUnshareReq) (any, error) {
	rc, err := decodeAs[*certif.RealmRoleCertificate](s, c, protocol.CmdRealmUnshare, req.RealmRoleCertificate)
	if err != nil {
		return nil, err
	}
	switch {
	case rc.Role != parsec.RoleNone:
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "realm_unshare needs a certificate without role (realm_share gives one)")
	case rc.UserID == c.user.ID:
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "a member cannot remove its own role")
	}
	return s.updateRealm(ctx, c, rc.RealmID, rc.Timestamp, []parsec.UserID{rc.UserID}, func(st *realmState) error {
		if err := st.checkRoleChange(rc); err != nil {
			return err
		}
		if err := st.validate(req.RealmRoleCertificate, rc.RealmID, rc.Timestamp, true, protocol.StatusInvalidCertificate); err != nil {
			return err
		}
		return st.addRole(rc, req.RealmRoleCertificate)
	}, "workspace unshared", "user", rc.UserID, "by", c.user.ID)
}

// realmSelfPromote makes its author OWNER of a realm whose owners are all revoked, when no
// active member holds a higher role than the author.
func (s *Server) realmSelfPromote(ctx context.Context, c *caller, req *protocol.RealmSelfPromoteReq) (any, error) {
	rc, err := decodeAs[*certif.RealmRoleCertificate](s, c, protocol.CmdRealmSelfPromote, req.RealmRoleCertificate)
	if err != nil {
		return nil, err
	}
	if rc.UserID != c.user.ID || rc.Role != parsec.RoleOwner {
		return nil, protocol.Errorf(protocol.StatusInvalidCertificate, "a self-promotion makes its author owner")
	}
	return s.updateRealm(ctx, c, rc.RealmID, rc.Timestamp, nil, func(st *realmState) error {
		if err := st.checkSelfPromotion(); err != nil {
			return err
		}
		if err := st.validate(req.RealmRoleCertificate, rc.RealmID, rc.Timestamp, true, protocol.StatusAuthorIsOutsider); err != nil {
			return err
		}
		return st.addRole(rc, req.RealmRoleCertificate)
	}, "workspace owner self-promoted", "user", c.user.ID)
}

// checkSelfPromotion checks the caller's promotion to OWNER by the rule of
// parsec.SelfPromotion, applied to the realm's current members, and answers its refusal's
// status.
func (st *realmState) checkSelfPromotion() error {
	members, err := st.tx.RealmMembers(st.org.ID, st.realm.ID)
	if err != nil {
		return err
	}
	var others []parsec.Member
	for _, m := range members {
		if m.User == st.me.ID {
			continue
		}
		u, err := st.tx.User(st.org.ID, m.User)
		if err != nil {
			return err
		}
		others = append(others, parsec.Member{Role: m.Role, Profile: u.Profile, Revoked: u.Revoked()})
	}
	switch parsec.SelfPromotion(st.role, st.me.Profile, others) {
	case parsec.RefusalNone:
		return nil
	case parsec.RefusalOutsiderCap:
		return protocol.Errorf(protocol.StatusAuthorIsOutsider, "External users cannot become owners")
	case parsec.RefusalNotMember:
		return protocol.Errorf(protocol.StatusAuthorNotAllowed, "only members of a workspace can promote themselves")
	case parsec.RefusalUnchanged:
		return st.withLast(protocol.StatusActiveOwnerAlreadyExists, "you are already an owner")
	case parsec.RefusalActiveOwner:
		return st.withLast(protocol.StatusActiveOwnerAlreadyExists, "workspace %s still has an active owner", st.realm.ID)
	}
	return protocol.Errorf(protocol.StatusAuthorNotAllowed, "an active member has a higher role than your %s", st.role.Label())
}

// realmRename names a realm (the name is encrypted with one of its keys). With
// InitialNameOrFail it only names a realm that has no name yet.
func (s *Server) realmRename(ctx context.Context, c *caller, req *protocol.RealmRenameReq) (any, error) {
	nc, err := decodeAs[*certif.RealmNameCertificate](s, c, protocol.CmdRealmRename, req.RealmNameCertificate)
	if err != nil {
		return nil, err
	}
	return s.updateRealm(ctx, c, nc.RealmID, nc.Timestamp, nil, func(st *realmState) error {
		if err := st.requireOwner("rename it"); err != nil {
			return err
		}
		switch {
		case req.InitialNameOrFail && st.realm.Named:
			return st.withLast(protocol.StatusInitialNameAlreadyExists, "workspace %s already has a name", nc.RealmID)
		case nc.KeyIndex > st.realm.KeyIndex:
			return st.withLast(protocol.StatusBadKeyIndex, "the name is encrypted with key %d, the workspace's last key is %d", nc.KeyIndex, st.realm.KeyIndex)
		}
		if err := st.validate(req.RealmNameCertificate, nc.RealmID, nc.Timestamp, false, protocol.StatusInvalidCertificate); err != nil {
			return err
		}
		if err := st.addCertificate(nc.RealmID, nc, req.RealmNameCertificate); err != nil {
			return err
		}
		st.realm.Named = true
		return st.tx.UpdateRealm(st.org.ID, st.realm)
	}, "workspace renamed", "by", c.user.ID)
}

// realmRotateKey introduces the realm's next key: the bundle of every key so far, with an
// access for each current member, exactly.
func (s *Server) realmRotateKey(ctx context.Context, c *caller, req *protocol.RealmRotateKeyReq) (any, error) {
	kc, err := decodeAs[*certif.RealmKeyRotationCertificate](s, c, protocol.CmdRealmRotateKey, req.RealmKeyRotationCertificate)
	if err != nil {
		return nil, err
	}
	if len(req.KeysBundle) == 0 {
		return nil, protocol.Errorf(protocol.StatusBadRequest, "realm_rotate_key needs the keys bundle")
	}
	for u, a := range req.PerParticipantKeysBundleAccess {
		if len(a) == 0 {
			return nil, protocol.Errorf(protocol.StatusBadRequest, "the keys bundle access of user %s is empty", u)
		}
	}
	return s.updateRealm(ctx, c, kc.RealmID, kc.Timestamp, nil, func(st *realmState) error {
		if err := st.requireOwner("rotate its key"); err != nil {
			return err
		}
		if kc.KeyIndex != st.realm.KeyIndex+1 {
			return st.withLast(protocol.StatusBadKeyIndex, "key %d cannot follow key %d", kc.KeyIndex, st.realm.KeyIndex)
		}
		members, err := realmMembers(st.tx, st.org.ID, kc.RealmID)
		if err != nil {
			return err
		}
		given := slices.Collect(maps.Keys(req.PerParticipantKeysBundleAccess))
		if !sameUsers(members, given) {
			return st.withLast(protocol.StatusParticipantMismatch, "the keys bundle accesses are for %d user(s), not exactly the workspace's %d member(s)", len(given), len(members))
		}
		if err := st.validate(req.RealmKeyRotationCertificate, kc.RealmID, kc.Timestamp, false, protocol.StatusInvalidCertificate); err != nil {
			return err
		}
		if err := st.addCertificate(kc.RealmID, kc, req.RealmKeyRotationCertificate); err != nil {
			return err
		}
		if err := st.tx.InsertKeysBundle(st.org.ID, kc.RealmID, metastore.KeysBundle{
			KeyIndex: kc.KeyIndex, On: kc.Timestamp, By: kc.Author, Canary: kc.KeyCanary, Bundle: req.KeysBundle,
		}, req.PerParticipantKeysBundleAccess); err != nil {
			return err
		}
		st.realm.KeyIndex = kc.KeyIndex
		return st.tx.UpdateRealm(st.org.ID, st.realm)
	}, "workspace key rotated", "key_index", kc.KeyIndex, "by", c.user.ID)
}

// sameUsers reports whether a and b hold the same users (b may hold each at most once: it
// comes from a map's keys).
func sameUsers(a, b []parsec.UserID) bool {
	if len(a) != len(b) {
		return false
	}
	for _, u := range b {
		if !slices.Contains(a, u) {
			return false
		}
	}
	return true
}

// realmGetKeysBundle returns the bundle of a key index with the caller's latest access to it.
func (s *Server) realmGetKeysBundle(ctx context.Context, c *caller, req *protocol.RealmGetKeysBundleReq) (any, error) {
	var rep protocol.RealmGetKeysBundleRep
	err := s.cfg.Store.View(ctx, func(tx metastore.Tx) error {
		st, err := openRealm(tx, c, req.RealmID)
		if err != nil {
			return err
		}
		if st.role == parsec.RoleNone {
			return protocol.Errorf(protocol.StatusAuthorNotAllowed, "only members of a workspace can get its keys")
		}
		b, err := tx.KeysBundle(st.org.ID, req.RealmID, req.KeyIndex)
		if errors.Is(err, metastore.ErrNotFound) {
			return st.withLast(protocol.StatusBadKeyIndex, "workspace %s has no key %d (its last key is %d)", req.RealmID, req.KeyIndex, st.realm.KeyIndex)
		}
		if err != nil {
			return err
		}
		access, err := tx.KeysBundleAccess(st.org.ID, req.RealmID, req.KeyIndex, c.user.ID)
		if errors.Is(err, metastore.ErrNotFound) {
			return protocol.Errorf(protocol.StatusAccessNotAvailableForAuthor, "you were not given access to key %d of workspace %s", req.KeyIndex, req.RealmID)
		}
		if err != nil {
			return err
		}
		rep = protocol.RealmGetKeysBundleRep{KeysBundleAccess: access, KeysBundle: b.Bundle}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// realmUpdateArchiving changes a realm's archiving configuration. A deletion must be planned
// at least the organization's minimum archiving period after the certificate.
func (s *Server) realmUpdateArchiving(ctx context.Context, c *caller, req *protocol.RealmUpdateArchivingReq) (any, error) {
	ac, err := decodeAs[*certif.RealmArchivingCertificate](s, c, protocol.CmdRealmUpdateArchiving, req.RealmArchivingCertificate)
	if err != nil {
		return nil, err
	}
	return s.updateRealm(ctx, c, ac.RealmID, ac.Timestamp, nil, func(st *realmState) error {
		if err := st.requireOwner("archive it"); err != nil {
			return err
		}
		if ac.Configuration == certif.ArchivingDeletionPlanned {
			period := time.Duration(st.org.Config.MinimumArchivingPeriod) * time.Second
			if earliest := ac.Timestamp.Add(period); ac.DeletionDate < earliest {
				return protocol.Errorf(protocol.StatusArchivingPeriodTooShort,
					"the deletion cannot be planned before %v: the organization keeps archived workspaces at least %v", earliest, period)
			}
		}
		if err := st.validate(req.RealmArchivingCertificate, ac.RealmID, ac.Timestamp, false, protocol.StatusInvalidCertificate); err != nil {
			return err
		}
		if err := st.addCertificate(ac.RealmID, ac, req.RealmArchivingCertificate); err != nil {
			return err
		}
		st.realm.Archiving, st.realm.DeletionDate = ac.Configuration, ac.DeletionDate
		return st.tx.UpdateRealm(st.org.ID, st.realm)
	}, "workspace archiving changed", "configuration", ac.Configuration, "by", c.user.ID)
}
