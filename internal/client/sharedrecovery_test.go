package client_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/testenv"
)

// recoveryWorld is alice (Administrator) with a workspace, and three colleagues.
type recoveryWorld struct {
	*world
	bob, carol, dave       *testenv.User
	bobC, carolC, daveC    *client.Client
	ws                     parsec.VlobID
	bobID, carolID, daveID parsec.UserID
}

func newRecoveryWorld(t *testing.T) *recoveryWorld {
	w := &recoveryWorld{world: newWorld(t)}
	w.bob = testenv.Join(t, w.c, "bob@example.com", "Bob", parsec.ProfileStandard)
	w.carol = testenv.Join(t, w.c, "carol@example.com", "Carol", parsec.ProfileStandard)
	w.dave = testenv.Join(t, w.c, "dave@example.com", "Dave", parsec.ProfileStandard)
	w.bobC, w.carolC, w.daveC = w.bob.Open(t), w.carol.Open(t), w.dave.Open(t)
	w.bobID, w.carolID, w.daveID = w.bob.Device.UserID, w.carol.Device.UserID, w.dave.Device.UserID
	ws, err := w.c.CreateWorkspace(t.Context(), "Plans")
	if err != nil {
		t.Fatal(err)
	}
	w.ws = ws
	return w
}

// giveShares runs one SHAMIR_RECOVERY exchange: the recipient greets in a goroutine, the
// claimer in this one; each person picks the other's right code. It returns the claimer's
// outcome, and the greeter's error.
func giveShares(ctx context.Context, greeter *client.Client, token parsec.AccessToken, cl *client.Claim) (int, error, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	greeterCode, claimerCode := make(chan crypto.SASCode, 1), make(chan crypto.SASCode, 1)
	sent := make(chan error, 1)
	go func() {
		err := func() error {
			g, err := greeter.Greet(ctx, token)
			if err != nil {
				return err
			}
			greeterCode <- g.Code()
			if err := g.WaitClaimerTrust(ctx); err != nil {
				return err
			}
			if err := g.ConfirmClaimerCode(ctx, <-claimerCode); err != nil {
				return err
			}
			_, err = g.SendShares(ctx)
			return err
		}()
		if err != nil {
			cancel()
		}
		sent <- err
	}()
	n, err := func() (int, error) {
		if err := cl.Start(ctx); err != nil {
			return 0, err
		}
		var code crypto.SASCode
		select {
		case code = <-greeterCode:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if err := cl.ConfirmGreeterCode(ctx, code); err != nil {
			return 0, err
		}
		claimerCode <- cl.Code()
		if err := cl.WaitGreeterTrust(ctx); err != nil {
			return 0, err
		}
		return cl.ReceiveShares(ctx)
	}()
	return n, err, <-sent
}

func TestSharedRecovery(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*exchangeTimeout)
	defer cancel()
	w := newRecoveryWorld(t)
	if err := w.c.SetupSharedRecovery(ctx, []client.SharedRecipient{{User: w.bobID, Shares: 1}, {User: w.carolID, Shares: 1}, {User: w.daveID, Shares: 1}}, 2); err != nil {
		t.Fatal(err)
	}
	// A second setup is refused: delete the first one before.
	if err := w.c.SetupSharedRecovery(ctx, []client.SharedRecipient{{User: w.bobID, Shares: 1}}, 1); parsec.KindOf(err) != parsec.Exists {
		t.Fatalf("second setup: %v, want kind Exists", err)
	}
	own, _, err := w.c.SharedRecoveries(ctx)
	if err != nil || own == nil || own.Threshold != 2 || len(own.Recipients) != 3 || !own.Usable() {
		t.Fatalf("alice's setup: %+v, %v", own, err)
	}
	_, theirs, err := w.bobC.SharedRecoveries(ctx)
	if err != nil || len(theirs) != 1 || theirs[0].User.ID != w.alice.Device.UserID {
		t.Fatalf("setups bob holds shares of: %+v, %v", theirs, err)
	}
	// The setup made a recovery device of alice's.
	var recovery int
	for _, d := range w.c.Users()[0].Devices {
		if d.Recovery {
			recovery++
		}
	}
	if recovery != 1 {
		t.Fatalf("alice has %d recovery devices, want 1", recovery)
	}

	// Dave leaves: 2 shares of 3 remain, enough.
	if err := w.c.RevokeUser(ctx, w.daveID); err != nil {
		t.Fatal(err)
	}
	own, _, _ = w.c.SharedRecoveries(ctx)
	if own.Reachable() != 2 || !own.Usable() {
		t.Fatalf("after dave's revocation: %d shares reachable, usable %v", own.Reachable(), own.Usable())
	}

	// Alice loses her device. Bob, a recipient, invites her back.
	inv, err := w.bobC.InviteSharedRecovery(ctx, w.alice.Device.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Link.Action != protocol.ActionClaimRecovery {
		t.Fatalf("link action %q", inv.Link.Action)
	}
	// Dave, revoked, cannot greet any more; carol is no Administrator but a recipient: she
	// sees the invitation.
	invs, err := w.carolC.Invitations(ctx)
	if err != nil || len(invs) != 1 || invs[0].Type != protocol.InvitationTypeRecovery {
		t.Fatalf("carol's invitations: %+v, %v", invs, err)
	}
	cl, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cl.SharesNeeded() != 2 {
		t.Fatalf("shares needed %d", cl.SharesNeeded())
	}
	dir := t.TempDir()
	if _, err := cl.Recover(ctx, dir, "laptop", []byte("new password")); parsec.KindOf(err) != parsec.Invalid {
		t.Fatalf("recover without shares: %v", err)
	}
	if n, err, gerr := giveShares(ctx, w.bobC, inv.Token, cl); err != nil || gerr != nil || n != 1 {
		t.Fatalf("bob's shares: %d, %v (greeter: %v)", n, err, gerr)
	}
	if _, err := cl.Recover(ctx, dir, "laptop", []byte("new password")); parsec.KindOf(err) != parsec.Invalid {
		t.Fatalf("recover with 1 share of 2: %v", err)
	}
	if n, err, gerr := giveShares(ctx, w.carolC, inv.Token, cl); err != nil || gerr != nil || n != 1 {
		t.Fatalf("carol's shares: %d, %v (greeter: %v)", n, err, gerr)
	}
	dev, err := cl.Recover(ctx, dir, "laptop", []byte("new password"))
	if err != nil {
		t.Fatal(err)
	}
	if dev.UserID != w.alice.Device.UserID || dev.DeviceID == w.alice.Device.DeviceID {
		t.Fatalf("recovered device %s of user %s", dev.DeviceID, dev.UserID)
	}
	// The new device reads alice's workspace.
	back := (&testenv.User{ConfigDir: dir, Device: dev, Password: []byte("new password")}).Open(t)
	if _, err := back.PollCertificates(ctx); err != nil {
		t.Fatal(err)
	}
	infos, err := back.Workspaces(ctx)
	if err != nil || len(infos) != 1 || infos[0].ID != w.ws {
		t.Fatalf("workspaces of the recovered device: %+v, %v", infos, err)
	}
	if s := invitationStatus(t, w.bobC, inv.Token); s != protocol.InvitationStatusFinished {
		t.Fatalf("invitation %s after recovery", s)
	}

	// The setup can be deleted, then replaced.
	if err := back.DeleteSharedRecovery(ctx); err != nil {
		t.Fatal(err)
	}
	if err := back.DeleteSharedRecovery(ctx); parsec.KindOf(err) != parsec.NotFound {
		t.Fatalf("second deletion: %v", err)
	}
	if _, theirs, _ := w.bobC.SharedRecoveries(ctx); len(theirs) != 0 {
		t.Fatalf("bob still holds shares after the deletion: %+v", theirs)
	}
	if _, err := w.bobC.InviteSharedRecovery(ctx, w.alice.Device.UserID); parsec.KindOf(err) != parsec.NotFound {
		t.Fatalf("invitation without a setup: %v", err)
	}
	if err := back.SetupSharedRecovery(ctx, []client.SharedRecipient{{User: w.carolID, Shares: 2}}, 1); err != nil {
		t.Fatal(err)
	}
}

func TestSharedRecoveryRefusals(t *testing.T) {
	ctx := t.Context()
	w := newRecoveryWorld(t)
	for _, tc := range []struct {
		name       string
		recipients []client.SharedRecipient
		threshold  int
		kind       parsec.Kind
	}{
		{"no recipient", nil, 1, parsec.Invalid},
		{"self", []client.SharedRecipient{{User: w.alice.Device.UserID, Shares: 1}}, 1, parsec.Invalid},
		{"threshold above the shares", []client.SharedRecipient{{User: w.bobID, Shares: 1}}, 2, parsec.Invalid},
		{"zero threshold", []client.SharedRecipient{{User: w.bobID, Shares: 1}}, 0, parsec.Invalid},
		{"too many shares", []client.SharedRecipient{{User: w.bobID, Shares: 200}, {User: w.carolID, Shares: 100}}, 1, parsec.Invalid},
		{"unknown user", []client.SharedRecipient{{User: parsec.NewUserID(), Shares: 1}}, 1, parsec.NotFound},
		{"twice", []client.SharedRecipient{{User: w.bobID, Shares: 1}, {User: w.bobID, Shares: 1}}, 1, parsec.Invalid},
	} {
		if err := w.c.SetupSharedRecovery(ctx, tc.recipients, tc.threshold); parsec.KindOf(err) != tc.kind {
			t.Errorf("%s: %v, want kind %v", tc.name, err, tc.kind)
		}
	}
	if err := w.c.DeleteSharedRecovery(ctx); parsec.KindOf(err) != parsec.NotFound {
		t.Errorf("deleting no setup: %v", err)
	}
	if err := w.c.SetupSharedRecovery(ctx, []client.SharedRecipient{{User: w.bobID, Shares: 1}}, 1); err != nil {
		t.Fatal(err)
	}
	// Carol is neither an Administrator nor a recipient.
	if _, err := w.carolC.InviteSharedRecovery(ctx, w.alice.Device.UserID); parsec.KindOf(err) != parsec.Permission {
		t.Errorf("invitation by a non-recipient: %v", err)
	}
	inv, err := w.c.InviteSharedRecovery(ctx, w.alice.Device.UserID)
	if err != nil {
		t.Fatal(err)
	}
	// Carol may not greet it either.
	if _, err := w.carolC.Greet(ctx, inv.Token); parsec.KindOf(err) != parsec.NotFound {
		t.Errorf("greeting by a non-recipient: %v", err)
	}
	// Deleting the setup cancels the invitation.
	if err := w.c.DeleteSharedRecovery(ctx); err != nil {
		t.Fatal(err)
	}
	if s := invitationStatus(t, w.c, inv.Token); s != protocol.InvitationStatusCanceled {
		t.Errorf("invitation %s after the deletion", s)
	}
}

// A server that hands a recipient another recipient's share certificate is caught by the
// recipient, who sends nothing.
func TestSharedRecoveryServerSwapsShares(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*exchangeTimeout)
	defer cancel()
	w := newRecoveryWorld(t)
	if err := w.c.SetupSharedRecovery(ctx, []client.SharedRecipient{{User: w.bobID, Shares: 1}, {User: w.carolID, Shares: 1}}, 2); err != nil {
		t.Fatal(err)
	}
	var carols protocol.RecoveryShareRep
	if err := w.carolC.Call(ctx, protocol.CmdRecoveryShare, protocol.RecoveryShareReq{User: w.alice.Device.UserID}, &carols); err != nil {
		t.Fatal(err)
	}
	w.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd != protocol.CmdRecoveryShare {
			return reply
		}
		out, _ := protocol.OK(carols)
		return out
	}
	inv, err := w.c.InviteSharedRecovery(ctx, w.alice.Device.UserID)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err, gerr := giveShares(ctx, w.bobC, inv.Token, cl)
	if parsec.KindOf(gerr) != parsec.Tampered || err == nil {
		t.Fatalf("bob given carol's share: %v, want kind Tampered (claimer: %v)", gerr, err)
	}
	if cl.SharesCollected() != 0 {
		t.Fatalf("the claimer got %d shares", cl.SharesCollected())
	}
}

// A server that replays an old setup — it tells the claimer of the deleted one, or hands
// the old encrypted device for the new shares — is caught.
func TestSharedRecoveryServerReplaysOldSetup(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*exchangeTimeout)
	defer cancel()
	w := newRecoveryWorld(t)
	recipients := []client.SharedRecipient{{User: w.bobID, Shares: 1}, {User: w.carolID, Shares: 1}}
	if err := w.c.SetupSharedRecovery(ctx, recipients, 1); err != nil {
		t.Fatal(err)
	}
	old, err := w.c.InviteSharedRecovery(ctx, w.alice.Device.UserID)
	if err != nil {
		t.Fatal(err)
	}
	oldClaim, err := client.NewClaim(ctx, old.Link, client.ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldInfo := oldClaim.Info()
	var oldDevice []byte
	w.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdRecoveryReveal && oldDevice == nil {
			var rep protocol.RecoveryRevealRep
			protocol.DecodeReply(reply, &rep)
			oldDevice = rep.CipheredData
		}
		return reply
	}
	if _, err, gerr := giveShares(ctx, w.bobC, old.Token, oldClaim); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if _, err := oldClaim.Recover(ctx, t.TempDir(), "spare", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	// A new setup replaces the old one.
	if err := w.c.DeleteSharedRecovery(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.c.SetupSharedRecovery(ctx, recipients, 1); err != nil {
		t.Fatal(err)
	}
	inv, err := w.c.InviteSharedRecovery(ctx, w.alice.Device.UserID)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("old setup announced", func(t *testing.T) {
		w.srv.Lie = func(cmd string, reply []byte) []byte {
			if cmd != protocol.CmdInviteInfo {
				return reply
			}
			var rep protocol.InviteInfoRep
			protocol.DecodeReply(reply, &rep)
			rep.Recovery.SetupTimestamp = oldInfo.Recovery.SetupTimestamp
			out, _ := protocol.OK(rep)
			return out
		}
		cl, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{})
		w.srv.Lie = nil
		if err != nil {
			t.Fatal(err)
		}
		if _, err, _ := giveShares(ctx, w.bobC, inv.Token, cl); parsec.KindOf(err) != parsec.Tampered {
			t.Fatalf("shares of the new setup for the old one: %v, want kind Tampered", err)
		}
	})
	t.Run("old device revealed", func(t *testing.T) {
		cl, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err, gerr := giveShares(ctx, w.carolC, inv.Token, cl); err != nil || gerr != nil {
			t.Fatal(err, gerr)
		}
		w.srv.Lie = func(cmd string, reply []byte) []byte {
			if cmd != protocol.CmdRecoveryReveal {
				return reply
			}
			out, _ := protocol.OK(protocol.RecoveryRevealRep{CipheredData: oldDevice})
			return out
		}
		if _, err := cl.Recover(ctx, t.TempDir(), "laptop", []byte("pw")); parsec.KindOf(err) != parsec.Tampered {
			t.Fatalf("old device for the new shares: %v, want kind Tampered", err)
		}
	})
}

func TestDefaultThreshold(t *testing.T) {
	for _, tc := range []struct{ total, want int }{{1, 1}, {2, 2}, {3, 2}, {4, 3}, {5, 3}, {255, 128}} {
		if got := client.DefaultThreshold(tc.total); got != tc.want {
			t.Errorf("DefaultThreshold(%d) = %d, want %d (a majority)", tc.total, got, tc.want)
		}
	}
}

// TestRecoveryInvitationEndsWithRevocation: carol invites bob, her recipient, to recover
// his account; alice revokes bob. Before, the invitation stayed pending: whoever held its
// link could still claim it, carol's client sent her share, and the server revealed bob's
// encrypted recovery device, which the shares open: bob's keys. Now revoking a user cancels
// the invitations that would give him a device, and the server refuses the claimer of one
// whose user is revoked (410): the link says so and no share leaves carol's device.
func TestRecoveryInvitationEndsWithRevocation(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*exchangeTimeout)
	defer cancel()
	w := newRecoveryWorld(t)
	if err := w.bobC.SetupSharedRecovery(ctx, []client.SharedRecipient{{User: w.carolID, Shares: 1}}, 1); err != nil {
		t.Fatal(err)
	}
	inv, err := w.carolC.InviteSharedRecovery(ctx, w.bobID)
	if err != nil {
		t.Fatal(err)
	}
	device, err := w.bobC.InviteDevice(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.c.RevokeUser(ctx, w.bobID); err != nil {
		t.Fatal(err)
	}
	if s := invitationStatus(t, w.carolC, inv.Token); s != protocol.InvitationStatusCanceled {
		t.Errorf("the recovery invitation of revoked bob is %s, want %s", s, protocol.InvitationStatusCanceled)
	}
	var revealed atomic.Bool
	w.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdRecoveryReveal {
			revealed.Store(true)
		}
		return reply
	}
	for name, link := range map[string]protocol.Link{"recovery": inv.Link, "device": device.Link} {
		if _, err := client.NewClaim(ctx, link, client.ClaimOptions{}); parsec.KindOf(err) != parsec.Gone {
			t.Errorf("claiming bob's %s invitation after his revocation: %v, want it gone", name, err)
		}
	}
	if _, err := w.carolC.Greet(ctx, inv.Token); err == nil {
		t.Error("carol could greet the recovery of revoked bob")
	}
	if revealed.Load() {
		t.Error("the server revealed revoked bob's encrypted recovery device")
	}
}
