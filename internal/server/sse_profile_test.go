package server

import (
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// A demoted Administrator's open event stream stops receiving what only Administrators
// receive (invitation events carry tokens), from the moment the demotion is acknowledged;
// a promoted user's stream starts receiving them.
func TestEventsFollowProfileChanges(t *testing.T) {
	w := newWorld(t, "alice:admin bob:admin")
	alice, bob := w.user("alice"), w.user("bob")
	stream := w.openEvents(t, bob, "")
	stream.wantConfig(t, defaultConfig)

	if err := w.updateProfile(t, alice, updateCert(alice, bob.user, parsec.ProfileStandard, w.tick())); err != nil {
		t.Fatal(err)
	}
	stream.nextEvent(t, protocol.EventCommonCertificate)
	if err := w.newInvitation(t, alice, "carol@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := w.updateProfile(t, alice, updateCert(alice, bob.user, parsec.ProfileAdmin, w.tick())); err != nil {
		t.Fatal(err)
	}
	// The invitation event went to Administrators only: bob, then a Member, did not get it.
	stream.nextEvent(t, protocol.EventCommonCertificate)
	if err := w.newInvitation(t, alice, "dave@example.com"); err != nil {
		t.Fatal(err)
	}
	_, ev := stream.nextEvent(t, protocol.EventInvitation)
	var data protocol.EventInvitationData
	if err := protocol.DecodeEvent(ev.Data, &data); err != nil || data.Status != protocol.InvitationStatusPending {
		t.Fatalf("invitation event %+v, %v", data, err)
	}
}
