package client_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// With user_profile_outsider_allowed off, the greeter refuses to create an External user and
// tells the claimer why; the invitation stays pending.
func TestInviteExternalNotAllowed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
	defer cancel()
	err := w.srv.Store.Update(ctx, func(tx metastore.Tx) error {
		o, err := tx.Organization("Acme")
		if err != nil {
			return err
		}
		o.Config.UserProfileOutsiderAllowed = false
		return tx.PutOrganization(o)
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := w.c.OrganizationConfig(ctx)
	if err != nil || cfg.UserProfileOutsiderAllowed {
		t.Fatalf("OrganizationConfig = %+v, %v; want External users not allowed", cfg, err)
	}
	inv, dev, greeterErr, claimErr := refusedJoin(t, ctx, w, "mallory@example.com", "Mallory", parsec.ProfileOutsider)
	if parsec.KindOf(greeterErr) != parsec.Permission || !strings.Contains(greeterErr.Error(), "does not allow External users") {
		t.Errorf("greeter: %v, want a refusal of External users", greeterErr)
	}
	if dev != nil || parsec.KindOf(claimErr) != parsec.Permission || !strings.Contains(claimErr.Error(), "does not allow External users") {
		t.Errorf("claimer: %v (device %v), want told that External users are not allowed", claimErr, dev)
	}
	wantUsers(t, w.c, "alice@example.com")
	if got := invitationStatus(t, w.c, inv.Token); got != "PENDING" {
		t.Errorf("invitation is %s, want still pending", got)
	}
}
