// Package metastoretest is the conformance suite that every metastore implementation runs.
package metastoretest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Run runs the suite. open must return an empty store; it is called once per subtest.
func Run(t *testing.T, open func(t *testing.T) metastore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s metastore.Store)
	}{
		{"Organizations", testOrganizations},
		{"Certificates", testCertificates},
		{"Users", testUsers},
		{"Devices", testDevices},
		{"Invitations", testInvitations},
		{"PendingInvitations", testPendingInvitations},
		{"GreetingAttempts", testGreetingAttempts},
		{"Rollback", testRollback},
		{"InvitationRollback", testInvitationRollback},
		{"ReadOnlyView", testReadOnlyView},
		{"SerializedWrites", testSerializedWrites},
		{"CancelledContext", testCancelledContext},
		{"Realms", testRealms},
		{"Data", testData},
		{"Recovery", testRecovery},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

func update(t *testing.T, s metastore.Store, fn func(metastore.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("update: %v", err)
	}
}

func view(t *testing.T, s metastore.Store, fn func(metastore.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("view: %v", err)
	}
}

func sampleOrg(id parsec.OrganizationID) metastore.Organization {
	limit := int64(7)
	return metastore.Organization{
		ID: id, CreatedOn: 1000, BootstrapToken: parsec.NewAccessToken(),
		Config: metastore.OrganizationConfig{UserProfileOutsiderAllowed: true, ActiveUsersLimit: &limit, MinimumArchivingPeriod: 2592000},
	}
}

func testOrganizations(t *testing.T, s metastore.Store) {
	a, b := sampleOrg("Acme"), sampleOrg("Société-1")
	b.Config.ActiveUsersLimit = nil
	update(t, s, func(tx metastore.Tx) error {
		if _, err := tx.Organization("Acme"); !errors.Is(err, metastore.ErrNotFound) || parsec.KindOf(err) != parsec.NotFound {
			return fmt.Errorf("missing organization: got %v, want ErrNotFound with kind NotFound", err)
		}
		if err := tx.PutOrganization(a); err != nil {
			return err
		}
		return tx.PutOrganization(b)
	})
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.Organization("Acme")
		if err != nil {
			return err
		}
		if diff := cmp.Diff(a, got); diff != "" {
			return fmt.Errorf("organization round trip (-want +got):\n%s", diff)
		}
		all, err := tx.Organizations()
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.Organization{a, b}, all); diff != "" {
			return fmt.Errorf("organizations (-want +got):\n%s", diff)
		}
		return nil
	})
	// Replace: bootstrap it.
	a.RootVerifyKey = make([]byte, 32)
	a.RootVerifyKey[0] = 9
	a.BootstrappedOn = 2000
	a.Config.IsExpired = true
	a.Config.ActiveUsersLimit = nil
	update(t, s, func(tx metastore.Tx) error { return tx.PutOrganization(a) })
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.Organization("Acme")
		if err != nil {
			return err
		}
		if !got.Bootstrapped() {
			return fmt.Errorf("organization not bootstrapped after update")
		}
		if diff := cmp.Diff(a, got); diff != "" {
			return fmt.Errorf("organization after replace (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testCertificates(t *testing.T, s metastore.Store) {
	realm := parsec.NewVlobID()
	rt := metastore.RealmTopic(realm)
	if id, ok := rt.Realm(); !ok || id != realm {
		t.Fatalf("RealmTopic(%v).Realm() = %v, %v", realm, id, ok)
	}
	if _, ok := metastore.CommonTopic.Realm(); ok {
		t.Fatal("common topic has a realm")
	}
	certs := []metastore.Certificate{
		{Topic: metastore.CommonTopic, Timestamp: 10, Kind: "user_certificate", Data: []byte("u1"), Redacted: []byte("u1r")},
		{Topic: metastore.CommonTopic, Timestamp: 10, Kind: "device_certificate", Data: []byte("d1"), Redacted: []byte("d1r")},
		{Topic: metastore.CommonTopic, Timestamp: 20, Kind: "user_certificate", Data: []byte("u2"), Redacted: []byte("u2r")},
		{Topic: rt, Timestamp: 15, Kind: "realm_role_certificate", Data: []byte("r1")},
	}
	update(t, s, func(tx metastore.Tx) error {
		for _, org := range []parsec.OrganizationID{"A", "B"} {
			if err := tx.PutOrganization(sampleOrg(org)); err != nil {
				return err
			}
		}
		for _, c := range certs {
			if err := tx.AddCertificate("A", c); err != nil {
				return err
			}
		}
		return tx.AddCertificate("B", metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: 99, Kind: "x", Data: []byte("other")})
	})
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.Certificates("A", metastore.CommonTopic, 0)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(certs[:3], got); diff != "" {
			return fmt.Errorf("common certificates (-want +got):\n%s", diff)
		}
		got, err = tx.Certificates("A", metastore.CommonTopic, 10)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(certs[2:3], got); diff != "" {
			return fmt.Errorf("certificates after 10 (-want +got):\n%s", diff)
		}
		got, err = tx.Certificates("A", rt, 0)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(certs[3:], got); diff != "" {
			return fmt.Errorf("realm certificates (-want +got):\n%s", diff)
		}
		last, err := tx.LastTimestamp("A", metastore.CommonTopic)
		if err != nil || last != 20 {
			return fmt.Errorf("LastTimestamp(common) = %v, %v; want 20", last, err)
		}
		last, err = tx.LastTimestamp("A", metastore.RealmTopic(parsec.NewVlobID()))
		if err != nil || last != 0 {
			return fmt.Errorf("LastTimestamp(empty topic) = %v, %v; want 0", last, err)
		}
		topics, err := tx.RealmTopics("A")
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.Topic{rt}, topics); diff != "" {
			return fmt.Errorf("realm topics (-want +got):\n%s", diff)
		}
		other, err := tx.Certificates("B", metastore.CommonTopic, 0)
		if err != nil || len(other) != 1 || string(other[0].Data) != "other" {
			return fmt.Errorf("organization B sees %v, %v", other, err)
		}
		return nil
	})
}

func sampleUser(email string, created parsec.DateTime) metastore.User {
	dev := parsec.NewDeviceID()
	return metastore.User{
		ID: parsec.NewUserID(), Email: email, Name: "Name of " + email,
		InitialProfile: parsec.ProfileStandard, Profile: parsec.ProfileStandard,
		CreatedOn: created, CreatedBy: &dev, Certificate: []byte("cert-" + email), RedactedCertificate: []byte("red-" + email),
	}
}

func testUsers(t *testing.T, s metastore.Store) {
	alice := sampleUser("alice@example.com", 10)
	alice.CreatedBy = nil
	alice.Profile, alice.InitialProfile = parsec.ProfileAdmin, parsec.ProfileAdmin
	bob := sampleUser("bob@example.com", 20)
	update(t, s, func(tx metastore.Tx) error {
		if err := tx.PutOrganization(sampleOrg("A")); err != nil {
			return err
		}
		if err := tx.PutOrganization(sampleOrg("B")); err != nil {
			return err
		}
		if err := tx.InsertUser("A", alice); err != nil {
			return err
		}
		if err := tx.InsertUser("A", bob); err != nil {
			return err
		}
		if err := tx.InsertUser("A", alice); !errors.Is(err, metastore.ErrExists) || parsec.KindOf(err) != parsec.Exists {
			return fmt.Errorf("duplicate user: got %v, want ErrExists", err)
		}
		return nil
	})
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.User("A", alice.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(alice, got); diff != "" {
			return fmt.Errorf("user round trip (-want +got):\n%s", diff)
		}
		if _, err := tx.User("B", alice.ID); !errors.Is(err, metastore.ErrNotFound) {
			return fmt.Errorf("user visible in another organization: %v", err)
		}
		got, err = tx.ActiveUserByEmail("A", "bob@example.com")
		if err != nil || got.ID != bob.ID {
			return fmt.Errorf("ActiveUserByEmail(bob) = %v, %v", got.ID, err)
		}
		all, err := tx.Users("A")
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.User{alice, bob}, all); diff != "" {
			return fmt.Errorf("users (-want +got):\n%s", diff)
		}
		return nil
	})
	// Revoke bob, then a new bob with the same email.
	by := parsec.NewDeviceID()
	bob.RevokedOn, bob.RevokedBy, bob.Frozen, bob.Profile = 30, &by, true, parsec.ProfileAdmin
	bob.ProfileHistory = []metastore.ProfileChange{{On: 25, By: by, Profile: parsec.ProfileAdmin}}
	bob2 := sampleUser("bob@example.com", 40)
	update(t, s, func(tx metastore.Tx) error {
		if err := tx.UpdateUser("A", bob); err != nil {
			return err
		}
		if err := tx.UpdateUser("A", sampleUser("ghost@example.com", 1)); !errors.Is(err, metastore.ErrNotFound) {
			return fmt.Errorf("update of unknown user: got %v, want ErrNotFound", err)
		}
		if _, err := tx.ActiveUserByEmail("A", "bob@example.com"); !errors.Is(err, metastore.ErrNotFound) {
			return fmt.Errorf("revoked user found by email: %v", err)
		}
		return tx.InsertUser("A", bob2)
	})
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.User("A", bob.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(bob, got); diff != "" {
			return fmt.Errorf("revoked user (-want +got):\n%s", diff)
		}
		if !got.Revoked() {
			return fmt.Errorf("Revoked() = false after revocation")
		}
		got, err = tx.ActiveUserByEmail("A", "bob@example.com")
		if err != nil || got.ID != bob2.ID {
			return fmt.Errorf("ActiveUserByEmail after re-join = %v, %v; want the new user", got.ID, err)
		}
		return nil
	})
}

func testDevices(t *testing.T, s metastore.Store) {
	alice := sampleUser("alice@example.com", 10)
	d1 := metastore.Device{ID: parsec.NewDeviceID(), UserID: alice.ID, Label: "laptop", VerifyKey: make([]byte, 32),
		CreatedOn: 10, Certificate: []byte("c1"), RedactedCertificate: []byte("r1")}
	d2 := d1
	d2.ID, d2.Label, d2.CreatedOn, d2.CreatedBy = parsec.NewDeviceID(), "phone", 20, &d1.ID
	update(t, s, func(tx metastore.Tx) error {
		if err := tx.PutOrganization(sampleOrg("A")); err != nil {
			return err
		}
		if err := tx.InsertUser("A", alice); err != nil {
			return err
		}
		for _, d := range []metastore.Device{d2, d1} {
			if err := tx.InsertDevice("A", d); err != nil {
				return err
			}
		}
		if err := tx.InsertDevice("A", d1); !errors.Is(err, metastore.ErrExists) {
			return fmt.Errorf("duplicate device: got %v, want ErrExists", err)
		}
		return nil
	})
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.Device("A", d2.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(d2, got); diff != "" {
			return fmt.Errorf("device round trip (-want +got):\n%s", diff)
		}
		if _, err := tx.Device("A", parsec.NewDeviceID()); !errors.Is(err, metastore.ErrNotFound) {
			return fmt.Errorf("unknown device: got %v, want ErrNotFound", err)
		}
		all, err := tx.Devices("A", alice.ID)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.Device{d1, d2}, all); diff != "" {
			return fmt.Errorf("devices by creation time (-want +got):\n%s", diff)
		}
		return nil
	})
}

func putOrgs(tx metastore.Tx, ids ...parsec.OrganizationID) error {
	for _, id := range ids {
		if err := tx.PutOrganization(sampleOrg(id)); err != nil {
			return err
		}
	}
	return nil
}

func userInvitation(email string, created parsec.DateTime) metastore.Invitation {
	return metastore.Invitation{
		Token: parsec.NewAccessToken(), Type: metastore.InvitationUser, CreatedOn: created,
		CreatedBy: parsec.NewUserID(), CreatedByDevice: parsec.NewDeviceID(), ClaimerEmail: email,
	}
}

func deviceInvitation(user parsec.UserID, created parsec.DateTime) metastore.Invitation {
	return metastore.Invitation{
		Token: parsec.NewAccessToken(), Type: metastore.InvitationDevice, CreatedOn: created,
		CreatedBy: user, CreatedByDevice: parsec.NewDeviceID(), ClaimerUserID: user,
	}
}

func deleted(inv metastore.Invitation, on parsec.DateTime, reason string) metastore.Invitation {
	inv.DeletedOn, inv.DeletedReason = on, reason
	return inv
}

// errOf drops the value of a lookup and keeps its error.
func errOf[T any](_ T, err error) error { return err }

// wantNotFound checks that err wraps ErrNotFound with kind NotFound.
func wantNotFound(what string, err error) error {
	if !errors.Is(err, metastore.ErrNotFound) || parsec.KindOf(err) != parsec.NotFound {
		return fmt.Errorf("%s: got %v, want ErrNotFound with kind NotFound", what, err)
	}
	return nil
}

// wantExists checks that err wraps ErrExists with kind Exists.
func wantExists(what string, err error) error {
	if !errors.Is(err, metastore.ErrExists) || parsec.KindOf(err) != parsec.Exists {
		return fmt.Errorf("%s: got %v, want ErrExists with kind Exists", what, err)
	}
	return nil
}

func testInvitations(t *testing.T, s metastore.Store) {
	alice := parsec.NewUserID()
	dev := deviceInvitation(alice, 10)
	carol := userInvitation("carol@example.com", 20)
	dave := userInvitation("dave@example.com", 30)
	other := userInvitation("carol@example.com", 5)
	update(t, s, func(tx metastore.Tx) error {
		if err := putOrgs(tx, "A", "B"); err != nil {
			return err
		}
		for _, inv := range []metastore.Invitation{dave, carol, dev} { // not in creation order
			if err := tx.InsertInvitation("A", inv); err != nil {
				return err
			}
		}
		if err := tx.InsertInvitation("B", other); err != nil {
			return err
		}
		dup := userInvitation("erin@example.com", 40)
		dup.Token = carol.Token
		return wantExists("duplicate invitation token", tx.InsertInvitation("A", dup))
	})
	view(t, s, func(tx metastore.Tx) error {
		got, err := tx.Invitation("A", carol.Token)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(carol, got); diff != "" {
			return fmt.Errorf("invitation round trip (-want +got):\n%s", diff)
		}
		if !got.Pending() {
			return fmt.Errorf("new invitation is not pending")
		}
		got, err = tx.Invitation("A", dev.Token)
		if err != nil {
			return err
		}
		if diff := cmp.Diff(dev, got); diff != "" {
			return fmt.Errorf("device invitation round trip (-want +got):\n%s", diff)
		}
		if err := wantNotFound("unknown invitation", errOf(tx.Invitation("A", parsec.NewAccessToken()))); err != nil {
			return err
		}
		if err := wantNotFound("invitation of another organization", errOf(tx.Invitation("A", other.Token))); err != nil {
			return err
		}
		all, err := tx.Invitations("A")
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.Invitation{dev, carol, dave}, all); diff != "" {
			return fmt.Errorf("invitations by creation time (-want +got):\n%s", diff)
		}
		return nil
	})

	carol = deleted(carol, 50, metastore.DeletedFinished)
	dev = deleted(dev, 60, metastore.DeletedCancelled)
	update(t, s, func(tx metastore.Tx) error {
		for _, inv := range []metastore.Invitation{carol, dev} {
			if err := tx.UpdateInvitation("A", inv); err != nil {
				return err
			}
		}
		if err := wantNotFound("update of an unknown invitation", tx.UpdateInvitation("A", userInvitation("x@example.com", 1))); err != nil {
			return err
		}
		return wantNotFound("update of another organization's invitation", tx.UpdateInvitation("A", other))
	})
	view(t, s, func(tx metastore.Tx) error {
		for _, want := range []metastore.Invitation{carol, dev} {
			got, err := tx.Invitation("A", want.Token)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want, got); diff != "" {
				return fmt.Errorf("%s invitation (-want +got):\n%s", want.DeletedReason, diff)
			}
			if got.Pending() {
				return fmt.Errorf("%s invitation is still pending", want.DeletedReason)
			}
		}
		all, err := tx.Invitations("A")
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.Invitation{dev, carol, dave}, all); diff != "" {
			return fmt.Errorf("invitations after finish and cancel (-want +got):\n%s", diff)
		}
		all, err = tx.Invitations("B")
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.Invitation{other}, all); diff != "" {
			return fmt.Errorf("invitations of organization B (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testPendingInvitations(t *testing.T, s metastore.Store) {
	alice, bob, frank := parsec.NewUserID(), parsec.NewUserID(), parsec.NewUserID()
	carol := userInvitation("carol@example.com", 14)
	aliceDevice := deviceInvitation(alice, 20)
	// A device invitation carrying its user's email must not pass for a user invitation.
	aliceDevice.ClaimerEmail = "alice@example.com"
	erin := userInvitation("erin@example.com", 16)
	frankDevice := deviceInvitation(frank, 22)
	update(t, s, func(tx metastore.Tx) error {
		if err := putOrgs(tx, "A", "B"); err != nil {
			return err
		}
		for _, inv := range []metastore.Invitation{
			deleted(userInvitation("carol@example.com", 10), 11, metastore.DeletedFinished),
			deleted(userInvitation("carol@example.com", 12), 13, metastore.DeletedCancelled),
			carol,
			deleted(userInvitation("dave@example.com", 15), 16, metastore.DeletedFinished),
			deleted(deviceInvitation(alice, 18), 19, metastore.DeletedCancelled),
			aliceDevice,
			deleted(deviceInvitation(bob, 21), 22, metastore.DeletedFinished),
		} {
			if err := tx.InsertInvitation("A", inv); err != nil {
				return err
			}
		}
		if err := tx.InsertInvitation("B", erin); err != nil {
			return err
		}
		return tx.InsertInvitation("B", frankDevice)
	})
	byEmail := func(org parsec.OrganizationID, email string) func(metastore.Tx) (metastore.Invitation, error) {
		return func(tx metastore.Tx) (metastore.Invitation, error) { return tx.PendingUserInvitation(org, email) }
	}
	byUser := func(org parsec.OrganizationID, user parsec.UserID) func(metastore.Tx) (metastore.Invitation, error) {
		return func(tx metastore.Tx) (metastore.Invitation, error) {
			return tx.PendingInvitationFor(org, metastore.InvitationDevice, user)
		}
	}
	tests := []struct {
		name   string
		lookup func(metastore.Tx) (metastore.Invitation, error)
		want   *metastore.Invitation // nil: ErrNotFound
	}{
		{"user/pending among finished and cancelled", byEmail("A", "carol@example.com"), &carol},
		{"user/only finished", byEmail("A", "dave@example.com"), nil},
		{"user/of another organization", byEmail("A", "erin@example.com"), nil},
		{"user/in its organization", byEmail("B", "erin@example.com"), &erin},
		{"user/unknown email", byEmail("A", "nobody@example.com"), nil},
		{"user/email of a device invitation", byEmail("A", "alice@example.com"), nil},
		{"device/pending among cancelled", byUser("A", alice), &aliceDevice},
		{"device/only finished", byUser("A", bob), nil},
		{"device/of another organization", byUser("A", frank), nil},
		{"device/in its organization", byUser("B", frank), &frankDevice},
		{"device/unknown user", byUser("A", parsec.NewUserID()), nil},
		{"device/zero user of user invitations", byUser("A", parsec.UserID{}), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			view(t, s, func(tx metastore.Tx) error {
				got, err := tc.lookup(tx)
				if tc.want == nil {
					if err == nil {
						return fmt.Errorf("found %v, want ErrNotFound", got.Token)
					}
					return wantNotFound("lookup", err)
				}
				if err != nil {
					return err
				}
				if diff := cmp.Diff(*tc.want, got); diff != "" {
					return fmt.Errorf("pending invitation (-want +got):\n%s", diff)
				}
				return nil
			})
		})
	}
}

func greetingAttempt(token parsec.AccessToken, greeter parsec.UserID, created parsec.DateTime) metastore.GreetingAttempt {
	return metastore.GreetingAttempt{ID: parsec.NewGreetingAttemptID(), Token: token, Greeter: greeter, CreatedOn: created}
}

// filled returns n bytes derived from seed, so that payloads differ.
func filled(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func testGreetingAttempts(t *testing.T, s metastore.Store) {
	inv := userInvitation("carol@example.com", 1)
	otherInv := userInvitation("dave@example.com", 2)
	g1, g2 := parsec.NewUserID(), parsec.NewUserID()
	a1 := greetingAttempt(inv.Token, g1, 10)
	a2 := greetingAttempt(inv.Token, g2, 20)
	a3 := greetingAttempt(inv.Token, g1, 30)
	other := greetingAttempt(otherInv.Token, g1, 15)
	update(t, s, func(tx metastore.Tx) error {
		if err := putOrgs(tx, "A", "B"); err != nil {
			return err
		}
		for _, i := range []metastore.Invitation{inv, otherInv} {
			if err := tx.InsertInvitation("A", i); err != nil {
				return err
			}
		}
		for _, a := range []metastore.GreetingAttempt{a3, other, a1, a2} { // not in creation order
			if err := tx.InsertGreetingAttempt("A", a); err != nil {
				return err
			}
		}
		dup := greetingAttempt(inv.Token, g2, 40)
		dup.ID = a1.ID
		return wantExists("duplicate greeting attempt ID", tx.InsertGreetingAttempt("A", dup))
	})
	check := func(t *testing.T, want metastore.GreetingAttempt) {
		t.Helper()
		view(t, s, func(tx metastore.Tx) error {
			got, err := tx.GreetingAttempt("A", want.ID)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				return fmt.Errorf("greeting attempt (-want +got):\n%s", diff)
			}
			if got.Active() != want.CancelledOn.IsZero() {
				return fmt.Errorf("Active() = %v with CancelledOn = %d", got.Active(), got.CancelledOn)
			}
			return nil
		})
	}
	check(t, a1)
	view(t, s, func(tx metastore.Tx) error {
		if err := wantNotFound("unknown greeting attempt", errOf(tx.GreetingAttempt("A", parsec.NewGreetingAttemptID()))); err != nil {
			return err
		}
		return wantNotFound("greeting attempt of another organization", errOf(tx.GreetingAttempt("B", a1.ID)))
	})

	t.Run("Exchange", func(t *testing.T) {
		// Both sides join, then append their steps one by one, as the step handlers do:
		// 32-byte keys, 64-byte nonces, empty steps and ~2 KiB encrypted payloads.
		steps := []struct{ greeter, claimer []byte }{
			{filled(32, 1), filled(32, 2)},
			{nil, filled(32, 3)},
			{filled(64, 4), []byte{}},
			{[]byte{}, filled(64, 5)},
			{nil, nil},
			{[]byte{}, []byte{}},
			{nil, filled(2100, 6)},
			{filled(2048, 7), nil},
			{nil, nil},
		}
		a2.GreeterJoined = 21
		update(t, s, func(tx metastore.Tx) error { return tx.UpdateGreetingAttempt("A", a2) })
		check(t, a2)
		a2.ClaimerJoined = 22
		update(t, s, func(tx metastore.Tx) error { return tx.UpdateGreetingAttempt("A", a2) })
		check(t, a2)
		for _, st := range steps {
			a2.GreeterSteps = append(a2.GreeterSteps, st.greeter)
			update(t, s, func(tx metastore.Tx) error { return tx.UpdateGreetingAttempt("A", a2) })
			check(t, a2)
			a2.ClaimerSteps = append(a2.ClaimerSteps, st.claimer)
			update(t, s, func(tx metastore.Tx) error { return tx.UpdateGreetingAttempt("A", a2) })
			check(t, a2)
		}
		view(t, s, func(tx metastore.Tx) error {
			got, err := tx.GreetingAttempt("A", a2.ID)
			if err != nil {
				return err
			}
			if len(got.GreeterSteps) != len(steps) || len(got.ClaimerSteps) != len(steps) {
				return fmt.Errorf("%d greeter and %d claimer steps stored, want %d each",
					len(got.GreeterSteps), len(got.ClaimerSteps), len(steps))
			}
			return nil
		})
	})

	t.Run("Cancel", func(t *testing.T) {
		a1.GreeterJoined = 11
		a1.GreeterSteps = [][]byte{filled(32, 8)}
		a1.CancelledOn, a1.CancelledBy, a1.CancelReason = 40, metastore.SideClaimer, "MANUALLY_CANCELLED"
		update(t, s, func(tx metastore.Tx) error { return tx.UpdateGreetingAttempt("A", a1) })
		check(t, a1)
	})

	update(t, s, func(tx metastore.Tx) error {
		if err := wantNotFound("update of an unknown greeting attempt",
			tx.UpdateGreetingAttempt("A", greetingAttempt(inv.Token, g1, 50))); err != nil {
			return err
		}
		return wantNotFound("update of another organization's greeting attempt", tx.UpdateGreetingAttempt("B", a3))
	})

	view(t, s, func(tx metastore.Tx) error {
		lists := []struct {
			org   parsec.OrganizationID
			token parsec.AccessToken
			want  []metastore.GreetingAttempt
		}{
			{"A", inv.Token, []metastore.GreetingAttempt{a1, a2, a3}},
			{"A", otherInv.Token, []metastore.GreetingAttempt{other}},
			{"A", parsec.NewAccessToken(), nil},
			{"B", inv.Token, nil},
		}
		for _, l := range lists {
			got, err := tx.GreetingAttempts(l.org, l.token)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(l.want, got, cmpopts.EquateEmpty()); diff != "" {
				return fmt.Errorf("greeting attempts of %s/%v (-want +got):\n%s", l.org, l.token, diff)
			}
		}
		return nil
	})
}

// testInvitationRollback checks that a failed Update keeps none of its invitation and
// greeting attempt writes.
func testInvitationRollback(t *testing.T, s metastore.Store) {
	inv := userInvitation("carol@example.com", 10)
	a := greetingAttempt(inv.Token, parsec.NewUserID(), 11)
	update(t, s, func(tx metastore.Tx) error {
		if err := putOrgs(tx, "A"); err != nil {
			return err
		}
		if err := tx.InsertInvitation("A", inv); err != nil {
			return err
		}
		return tx.InsertGreetingAttempt("A", a)
	})
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx metastore.Tx) error {
		if err := tx.UpdateInvitation("A", deleted(inv, 20, metastore.DeletedFinished)); err != nil {
			return err
		}
		added := userInvitation("dave@example.com", 21)
		if err := tx.InsertInvitation("A", added); err != nil {
			return err
		}
		joined := a
		joined.GreeterJoined, joined.GreeterSteps = 22, [][]byte{filled(32, 1)}
		if err := tx.UpdateGreetingAttempt("A", joined); err != nil {
			return err
		}
		if err := tx.InsertGreetingAttempt("A", greetingAttempt(added.Token, parsec.NewUserID(), 23)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	view(t, s, func(tx metastore.Tx) error {
		invs, err := tx.Invitations("A")
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.Invitation{inv}, invs); diff != "" {
			return fmt.Errorf("invitations after a failed transaction (-want +got):\n%s", diff)
		}
		attempts, err := tx.GreetingAttempts("A", inv.Token)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]metastore.GreetingAttempt{a}, attempts, cmpopts.EquateEmpty()); diff != "" {
			return fmt.Errorf("greeting attempts after a failed transaction (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testRollback(t *testing.T, s metastore.Store) {
	boom := errors.New("boom")
	err := s.Update(t.Context(), func(tx metastore.Tx) error {
		if err := tx.PutOrganization(sampleOrg("A")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	view(t, s, func(tx metastore.Tx) error {
		if _, err := tx.Organization("A"); !errors.Is(err, metastore.ErrNotFound) {
			return fmt.Errorf("write of a failed transaction is visible: %v", err)
		}
		return nil
	})
}

func testReadOnlyView(t *testing.T, s metastore.Store) {
	err := s.View(t.Context(), func(tx metastore.Tx) error { return tx.PutOrganization(sampleOrg("A")) })
	if err == nil {
		t.Fatal("write in a View transaction succeeded")
	}
	view(t, s, func(tx metastore.Tx) error {
		if _, err := tx.Organization("A"); !errors.Is(err, metastore.ErrNotFound) {
			return fmt.Errorf("write of a View transaction is visible: %v", err)
		}
		return nil
	})
}

// testSerializedWrites runs many read-check-write transactions at once: each reads the last
// timestamp of a topic and appends one greater. If two ran interleaved, two certificates
// would share a timestamp.
func testSerializedWrites(t *testing.T, s metastore.Store) {
	update(t, s, func(tx metastore.Tx) error { return tx.PutOrganization(sampleOrg("A")) })
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Update(context.Background(), func(tx metastore.Tx) error {
				last, err := tx.LastTimestamp("A", metastore.CommonTopic)
				if err != nil {
					return err
				}
				return tx.AddCertificate("A", metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: last + 1, Kind: "x", Data: []byte("x")})
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	view(t, s, func(tx metastore.Tx) error {
		all, err := tx.Certificates("A", metastore.CommonTopic, 0)
		if err != nil {
			return err
		}
		if len(all) != n {
			return fmt.Errorf("%d certificates, want %d", len(all), n)
		}
		for i, c := range all {
			if c.Timestamp != parsec.DateTime(i+1) {
				return fmt.Errorf("certificate %d has timestamp %d: writes were not serialized", i, c.Timestamp)
			}
		}
		return nil
	})
}

func testCancelledContext(t *testing.T, s metastore.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Update(ctx, func(tx metastore.Tx) error { return tx.PutOrganization(sampleOrg("A")) }); err == nil {
		t.Fatal("Update with a cancelled context succeeded")
	}
}
