package server

import (
	"testing"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// publicKey is a member's user key, from its user certificate.
func publicKey(t *testing.T, m *member) crypto.UserPublicKey {
	t.Helper()
	c, err := certif.Decode(m.userCert)
	if err != nil {
		t.Fatal(err)
	}
	return c.(*certif.UserCertificate).PublicKey
}

// The shared-recovery commands refuse what the certificate engine refuses, and each share
// certificate that does not belong to the setup; a recipient gets its own share only; the
// reveal token must be the setup's.
func TestSharedRecoveryCommands(t *testing.T) {
	w := newWorld(t, "alice:admin bob:member carol:member erin:member gone:revoked")
	alice, bob, carol, erin, gone := w.user("alice"), w.user("bob"), w.user("carol"), w.user("erin"), w.user("gone")

	type share struct {
		signer    *member
		recipient *member
		at        parsec.DateTime // zero: the setup's
	}
	setupReq := func(t *testing.T, author *member, user parsec.UserID, at parsec.DateTime, recipients []*member, shares []share) protocol.RecoverySetupReq {
		t.Helper()
		rs := make([]certif.RecoveryRecipient, len(recipients))
		for i, r := range recipients {
			rs[i] = certif.RecoveryRecipient{User: r.user, Shares: 1}
		}
		certif.SortRecipients(rs)
		setup := &certif.RecoverySetupCertificate{Author: author.device, Timestamp: at, UserID: user, Threshold: 1, Recipients: rs}
		req := protocol.RecoverySetupReq{Setup: certif.Sign(author.key, setup), CipheredData: []byte("encrypted device"), RevealToken: parsec.NewAccessToken()}
		for _, sh := range shares {
			s := *setup
			if sh.at != 0 {
				s.Timestamp = sh.at
			}
			raw, err := certif.SealShares(sh.signer.key, &s, sh.recipient.user, publicKey(t, sh.recipient), [][]byte{{1, 2, 3}})
			if err != nil {
				t.Fatal(err)
			}
			req.Shares = append(req.Shares, raw)
		}
		return req
	}
	setup := func(t *testing.T, caller *member, req protocol.RecoverySetupReq) error {
		t.Helper()
		return w.call(t, caller, protocol.CmdRecoverySetup, req, nil)
	}
	pair := []*member{bob, carol}
	good := func() []share { return []share{{alice, bob, 0}, {alice, carol, 0}} }

	for _, tc := range []struct {
		name   string
		caller *member
		req    func(t *testing.T) protocol.RecoverySetupReq
		want   protocol.Status
	}{
		{"another device's certificate", bob, func(t *testing.T) protocol.RecoverySetupReq {
			return setupReq(t, alice, alice.user, w.tick(), pair, good())
		}, protocol.StatusInvalidCertificate},
		{"another user's setup", bob, func(t *testing.T) protocol.RecoverySetupReq {
			return setupReq(t, bob, alice.user, w.tick(), []*member{carol}, []share{{bob, carol, 0}})
		}, protocol.StatusInvalidCertificate},
		{"a share missing", alice, func(t *testing.T) protocol.RecoverySetupReq {
			return setupReq(t, alice, alice.user, w.tick(), pair, good()[:1])
		}, protocol.StatusInvalidCertificate},
		{"a share twice", alice, func(t *testing.T) protocol.RecoverySetupReq {
			return setupReq(t, alice, alice.user, w.tick(), pair, []share{{alice, bob, 0}, {alice, bob, 0}})
		}, protocol.StatusInvalidCertificate},
		{"a share for a non-recipient", alice, func(t *testing.T) protocol.RecoverySetupReq {
			return setupReq(t, alice, alice.user, w.tick(), pair, []share{{alice, bob, 0}, {alice, erin, 0}})
		}, protocol.StatusInvalidCertificate},
		{"a share of another timestamp", alice, func(t *testing.T) protocol.RecoverySetupReq {
			at := w.tick()
			return setupReq(t, alice, alice.user, at, pair, []share{{alice, bob, 0}, {alice, carol, at - 1}})
		}, protocol.StatusInvalidCertificate},
		{"a share signed by someone else", alice, func(t *testing.T) protocol.RecoverySetupReq {
			return setupReq(t, alice, alice.user, w.tick(), pair, []share{{alice, bob, 0}, {bob, carol, 0}})
		}, protocol.StatusInvalidCertificate},
		{"no encrypted device", alice, func(t *testing.T) protocol.RecoverySetupReq {
			r := setupReq(t, alice, alice.user, w.tick(), pair, good())
			r.CipheredData = nil
			return r
		}, protocol.StatusBadRequest},
		{"a revoked recipient", alice, func(t *testing.T) protocol.RecoverySetupReq {
			return setupReq(t, alice, alice.user, w.tick(), []*member{bob, gone}, []share{{alice, bob, 0}, {alice, gone, 0}})
		}, protocol.StatusRecipientRevoked},
		{"an unknown recipient", alice, func(t *testing.T) protocol.RecoverySetupReq {
			ghost := &member{user: parsec.NewUserID()}
			ghost.userCert = bob.userCert // a key to seal for; the ID is unknown
			return setupReq(t, alice, alice.user, w.tick(), []*member{bob, ghost}, []share{{alice, bob, 0}, {alice, ghost, 0}})
		}, protocol.StatusRecipientNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, setup(t, tc.caller, tc.req(t)), tc.want)
		})
	}

	// A good setup; a second one is refused.
	req := setupReq(t, alice, alice.user, w.tick(), pair, good())
	wantStatus(t, setup(t, alice, req), protocol.StatusOK)
	wantStatus(t, setup(t, alice, setupReq(t, alice, alice.user, w.tick(), pair, good())), protocol.StatusRecoveryAlreadyExists)

	// Each recipient gets its own share only.
	var rep protocol.RecoveryShareRep
	wantStatus(t, w.call(t, bob, protocol.CmdRecoveryShare, protocol.RecoveryShareReq{User: alice.user}, &rep), protocol.StatusOK)
	if c, err := certif.Decode(rep.Certificate); err != nil || c.(*certif.RecoveryShareCertificate).Recipient != bob.user {
		t.Fatalf("bob's share: %v, %v", c, err)
	}
	wantStatus(t, w.call(t, erin, protocol.CmdRecoveryShare, protocol.RecoveryShareReq{User: alice.user}, &rep), protocol.StatusAuthorNotAllowed)
	wantStatus(t, w.call(t, bob, protocol.CmdRecoveryShare, protocol.RecoveryShareReq{User: carol.user}, &rep), protocol.StatusRecoveryNotFound)

	// Invitations: a recipient may, a non-recipient Member may not; the reveal token must match.
	var inv protocol.InviteNewRep
	wantStatus(t, w.call(t, erin, protocol.CmdInviteNewRecovery, protocol.InviteNewRecoveryReq{ClaimerUserID: alice.user}, &inv), protocol.StatusAuthorNotAllowed)
	wantStatus(t, w.call(t, bob, protocol.CmdInviteNewRecovery, protocol.InviteNewRecoveryReq{ClaimerUserID: carol.user}, &inv), protocol.StatusRecoveryNotFound)
	wantStatus(t, w.call(t, bob, protocol.CmdInviteNewRecovery, protocol.InviteNewRecoveryReq{ClaimerUserID: alice.user}, &inv), protocol.StatusOK)
	var revealed protocol.RecoveryRevealRep
	wantStatus(t, w.claimer(t, inv.Token, protocol.CmdRecoveryReveal, protocol.RecoveryRevealReq{RevealToken: parsec.NewAccessToken()}, &revealed), protocol.StatusBadRevealToken)
	wantStatus(t, w.claimer(t, inv.Token, protocol.CmdRecoveryReveal, protocol.RecoveryRevealReq{RevealToken: req.RevealToken}, &revealed), protocol.StatusOK)
	if string(revealed.CipheredData) != "encrypted device" {
		t.Fatalf("revealed %q", revealed.CipheredData)
	}
	userInv := w.inviteUser(t, alice, "zoe@example.com")
	wantStatus(t, w.claimer(t, userInv, protocol.CmdRecoveryReveal, protocol.RecoveryRevealReq{RevealToken: req.RevealToken}, &revealed), protocol.StatusBadInvitationType)

	// Deletion: by the user only, of the setup in force, with its recipients.
	del := func(author *member, setupAt parsec.DateTime, recipients []parsec.UserID) []byte {
		return certif.Sign(author.key, &certif.RecoveryDeletionCertificate{Author: author.device, Timestamp: w.tick(), UserID: alice.user,
			SetupTimestamp: setupAt, Recipients: recipients})
	}
	setupCert, _ := certif.Decode(req.Setup)
	at := setupCert.When()
	ids := setupCert.(*certif.RecoverySetupCertificate).RecipientIDs()
	wantStatus(t, w.call(t, bob, protocol.CmdRecoveryDelete, protocol.RecoveryDeleteReq{Deletion: del(bob, at, ids)}, nil), protocol.StatusInvalidCertificate)
	wantStatus(t, w.call(t, alice, protocol.CmdRecoveryDelete, protocol.RecoveryDeleteReq{Deletion: del(alice, at, ids[:1])}, nil), protocol.StatusInvalidCertificate)
	wantStatus(t, w.call(t, alice, protocol.CmdRecoveryDelete, protocol.RecoveryDeleteReq{Deletion: del(alice, at-1, ids)}, nil), protocol.StatusRecoveryNotFound)
	wantStatus(t, w.call(t, alice, protocol.CmdRecoveryDelete, protocol.RecoveryDeleteReq{Deletion: del(alice, at, ids)}, nil), protocol.StatusOK)
	wantStatus(t, w.call(t, alice, protocol.CmdRecoveryDelete, protocol.RecoveryDeleteReq{Deletion: del(alice, at, ids)}, nil), protocol.StatusRecoveryNotFound)
	if got := w.invitation(t, inv.Token); got.Pending() {
		t.Error("the recovery invitation is still pending after the deletion")
	}
	wantStatus(t, w.call(t, bob, protocol.CmdRecoveryShare, protocol.RecoveryShareReq{User: alice.user}, &rep), protocol.StatusRecoveryNotFound)
}
