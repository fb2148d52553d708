// Package metastoretest is the conformance suite that every metastore implementation runs.
package metastoretest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

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
		{"Rollback", testRollback},
		{"ReadOnlyView", testReadOnlyView},
		{"SerializedWrites", testSerializedWrites},
		{"CancelledContext", testCancelledContext},
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
