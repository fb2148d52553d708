package client_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/testenv"
)

// choices is what RoleChoices should answer for a user whose role is current: every role
// allowed but those refused, with the rules' sentence as the reason.
func choices(current parsec.RealmRole, refused map[parsec.RealmRole]parsec.Refusal) []client.RoleChoice {
	var out []client.RoleChoice
	for _, r := range []parsec.RealmRole{parsec.RoleNone, parsec.RoleReader, parsec.RoleContributor, parsec.RoleManager, parsec.RoleOwner} {
		refusal := refused[r]
		out = append(out, client.RoleChoice{Role: r, Current: r == current, Allowed: refusal == parsec.RefusalNone, Reason: refusal.String()})
	}
	return out
}

// all refuses every role for the same reason.
func all(r parsec.Refusal) map[parsec.RealmRole]parsec.Refusal {
	return map[parsec.RealmRole]parsec.Refusal{
		parsec.RoleNone: r, parsec.RoleReader: r, parsec.RoleContributor: r, parsec.RoleManager: r, parsec.RoleOwner: r,
	}
}

func wantChoices(t *testing.T, c *client.Client, ws parsec.VlobID, user parsec.UserID, want []client.RoleChoice) {
	t.Helper()
	got, err := c.RoleChoices(ws, user)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RoleChoices (-want +got):\n%s", diff)
	}
}

// canSelfPromote returns what c's workspace list says of promoting itself in ws.
func canSelfPromote(t *testing.T, c *client.Client, ws parsec.VlobID) bool {
	t.Helper()
	poll(t, c)
	infos, err := c.Workspaces(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range infos {
		if w.ID == ws {
			return w.CanSelfPromote
		}
	}
	t.Fatalf("workspace %s not listed", ws)
	return false
}

func TestRoleChoices(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	carol := testenv.Join(t, p.ac, "carol@example.com", "Carol", parsec.ProfileStandard)
	cc := carol.Open(t)
	alice, bob, mallory, carolID := p.alice.Device.UserID, p.bob.Device.UserID, p.mallory.Device.UserID, carol.Device.UserID

	ws, err := p.ac.CreateWorkspace(ctx, "Team")
	if err != nil {
		t.Fatal(err)
	}
	for user, role := range map[parsec.UserID]parsec.RealmRole{bob: parsec.RoleManager, carolID: parsec.RoleManager, mallory: parsec.RoleReader} {
		if err := p.ac.ShareWorkspace(ctx, ws, user, role); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*client.Client{p.ac, p.bc, p.mc, cc} {
		poll(t, c)
	}

	t.Run("owner looking at a member", func(t *testing.T) {
		wantChoices(t, p.ac, ws, bob, choices(parsec.RoleManager, map[parsec.RealmRole]parsec.Refusal{
			parsec.RoleManager: parsec.RefusalUnchanged,
		}))
	})
	t.Run("manager looking at a manager", func(t *testing.T) {
		wantChoices(t, p.bc, ws, carolID, choices(parsec.RoleManager, all(parsec.RefusalOwnerOnly)))
		// The server refuses what the choices refuse.
		wantRefused(t, p.bc.ShareWorkspace(ctx, ws, carolID, parsec.RoleReader), protocol.StatusAuthorNotAllowed)
	})
	t.Run("anyone looking at themselves", func(t *testing.T) {
		for _, tc := range []struct {
			c    *client.Client
			user parsec.UserID
			role parsec.RealmRole
		}{{p.ac, alice, parsec.RoleOwner}, {p.bc, bob, parsec.RoleManager}, {p.mc, mallory, parsec.RoleReader}} {
			wantChoices(t, tc.c, ws, tc.user, choices(tc.role, all(parsec.RefusalOwnRole)))
		}
	})
	t.Run("External user", func(t *testing.T) {
		want := choices(parsec.RoleReader, map[parsec.RealmRole]parsec.Refusal{
			parsec.RoleReader:  parsec.RefusalUnchanged,
			parsec.RoleManager: parsec.RefusalOutsiderCap,
			parsec.RoleOwner:   parsec.RefusalOutsiderCap,
		})
		if got := want[4].Reason; got != "External users can be at most Contributor" {
			t.Errorf("the External reason reads %q", got)
		}
		wantChoices(t, p.ac, ws, mallory, want) // by the owner
		wantChoices(t, p.bc, ws, mallory, want) // by a manager
	})
	t.Run("reader looking at anyone", func(t *testing.T) {
		wantChoices(t, p.mc, ws, carolID, choices(parsec.RoleManager, all(parsec.RefusalNotOwnerOrManager)))
	})
	t.Run("unknown workspace or user", func(t *testing.T) {
		if _, err := p.ac.RoleChoices(parsec.NewVlobID(), bob); parsec.KindOf(err) != parsec.NotFound {
			t.Errorf("unknown workspace: %v", err)
		}
		if _, err := p.ac.RoleChoices(ws, parsec.NewUserID()); parsec.KindOf(err) != parsec.NotFound {
			t.Errorf("unknown user: %v", err)
		}
	})

	// Self-promotion follows the server's rule: an active External OWNER (made OWNER before
	// becoming External) keeps the others from promoting themselves.
	if err := p.ac.UpdateProfile(ctx, bob, parsec.ProfileAdmin); err != nil {
		t.Fatal(err)
	}
	if err := p.ac.ShareWorkspace(ctx, ws, carolID, parsec.RoleOwner); err != nil {
		t.Fatal(err)
	}
	poll(t, p.bc)
	if err := p.bc.UpdateProfile(ctx, carolID, parsec.ProfileOutsider); err != nil {
		t.Fatal(err)
	}
	if err := p.bc.RevokeUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if canSelfPromote(t, p.bc, ws) {
		t.Error("bob may promote himself beside an active External owner")
	}
	wantRefused(t, p.bc.SelfPromote(ctx, ws), protocol.StatusActiveOwnerAlreadyExists)

	if err := p.bc.RevokeUser(ctx, carolID); err != nil {
		t.Fatal(err)
	}
	if !canSelfPromote(t, p.bc, ws) {
		t.Error("bob, the highest active member, may not promote himself")
	}
	if canSelfPromote(t, p.mc, ws) {
		t.Error("an External reader may promote herself")
	}
	if err := p.bc.SelfPromote(ctx, ws); err != nil {
		t.Fatal(err)
	}

	t.Run("owner looking at a revoked user", func(t *testing.T) {
		// bob's promotion removed the revoked members.
		refused := all(parsec.RefusalRevoked)
		refused[parsec.RoleNone] = parsec.RefusalUnchanged
		wantChoices(t, p.bc, ws, alice, choices(parsec.RoleNone, refused))
	})
}
