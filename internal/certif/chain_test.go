package certif_test

import (
	"errors"
	"testing"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/certif/certiftest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// The chained digests: the same history gives the same points in both flavours; a point
// not reached yet is withheld; a different history at the same point is a fork; a rejected
// batch leaves the chain as it was.
func TestChainPoints(t *testing.T) {
	o := certiftest.NewOrg()
	alice := o.Bootstrap("alice")
	bob := o.NewUser(alice, "bob", parsec.ProfileStandard)
	mallory := o.NewUser(alice, "mallory", parsec.ProfileOutsider)
	realm := o.NewRealm(alice)
	o.Share(alice, realm, bob.User, parsec.RoleContributor)
	seen := len(o.Log)

	full := certif.NewMemory(o.RootVerifyKey(), false)
	if _, err := full.AddBatch(o.Full()); err != nil {
		t.Fatal(err)
	}
	redacted := certif.NewMemory(o.RootVerifyKey(), true)
	if _, err := redacted.AddBatch(o.Redacted()); err != nil {
		t.Fatal(err)
	}
	common, inRealm := full.Head(certif.Topic{}), full.Head(certif.RealmTopic(realm))
	if common.IsZero() || inRealm.IsZero() || common == inRealm {
		t.Fatalf("heads: common %+v, realm %+v", common, inRealm)
	}
	if redacted.Head(certif.Topic{}) != common || redacted.Head(certif.RealmTopic(realm)) != inRealm {
		t.Error("an External user's memory does not reach the digests of the full flavour")
	}

	// Alice revokes Mallory. A fork: Bob's server hides the revocation and shows him, at the
	// same time, another certificate Alice signed (a profile change, say).
	o.Revoke(alice, mallory.User)
	other := certif.Sign(alice.Key, &certif.UserUpdateCertificate{Author: alice.ID, Timestamp: o.Now, UserID: bob.User.ID, NewProfile: parsec.ProfileAdmin})
	aliceView := certif.NewMemory(o.RootVerifyKey(), false)
	if _, err := aliceView.AddBatch(o.Full()); err != nil {
		t.Fatal(err)
	}
	point := aliceView.Head(certif.Topic{})
	if err := aliceView.CheckView(certif.CommonTopic, certif.View{Common: point}); err != nil {
		t.Errorf("a memory disagrees with itself: %v", err)
	}
	if err := aliceView.CheckView(certif.CommonTopic, certif.View{Common: common}); err != nil {
		t.Errorf("an earlier point of the same history: %v", err)
	}
	// Bob has not seen the revocation yet: withheld (until fetched).
	if err := full.CheckView(certif.CommonTopic, certif.View{Common: point}); !errors.Is(err, certif.ErrWithheld) || !parsec.IsKind(err, parsec.Invalid) {
		t.Errorf("a point beyond this memory's history: %v, want ErrWithheld", err)
	}
	bobView := certif.NewMemory(o.RootVerifyKey(), false)
	if _, err := bobView.AddBatch(append(o.Full()[:seen:seen], other)); err != nil {
		t.Fatal(err)
	}
	if err := bobView.CheckView(certif.CommonTopic, certif.View{Common: common}); err != nil {
		t.Errorf("the common past of both histories: %v", err)
	}
	if err := bobView.CheckView(certif.CommonTopic, certif.View{Common: point}); !errors.Is(err, certif.ErrFork) || !parsec.IsKind(err, parsec.Invalid) {
		t.Errorf("another certificate where the author saw the revocation: %v, want ErrFork", err)
	}
	// A point at a timestamp where this history has no certificate at all is a fork too.
	if err := bobView.CheckView(certif.CommonTopic, certif.View{Common: certif.Point{Timestamp: common.Timestamp - 1, Digest: common.Digest}}); !errors.Is(err, certif.ErrFork) {
		t.Errorf("a point between two certificates: %v, want ErrFork", err)
	}

	// A rejected batch leaves the chain as it was.
	before := full.Head(certif.Topic{})
	bad := append([][]byte{}, o.Full()[seen:]...)
	bad = append(bad, o.Full()[0]) // the first certificate again: rejected
	if _, err := full.AddBatch(bad); err == nil {
		t.Fatal("a batch ending with a replayed certificate was accepted")
	}
	if full.Head(certif.Topic{}) != before {
		t.Error("a rejected batch moved the chain")
	}
}

// A certificate signed with the view its author had: accepted where the histories agree;
// refused as a fork where the reader's history differs at that point, and as withheld
// where the reader has not reached it; a view naming the future of the certificate itself
// is malformed.
func TestSignedViews(t *testing.T) {
	o := certiftest.NewOrg()
	alice := o.Bootstrap("alice")
	bob := o.NewUser(alice, "bob", parsec.ProfileStandard)
	realm := o.NewRealm(alice)
	honest := certif.NewMemory(o.RootVerifyKey(), false)
	if _, err := honest.AddBatch(o.Full()); err != nil {
		t.Fatal(err)
	}
	view := honest.View(certif.RealmTopic(realm))
	if view.Common.IsZero() || view.Realm.IsZero() {
		t.Fatalf("view %+v", view)
	}
	share := func(v certif.View, role parsec.RealmRole) []byte {
		c := &certif.RealmRoleCertificate{Author: alice.ID, Timestamp: o.Tick(), RealmID: realm, UserID: bob.User.ID, Role: role}
		c.View = &v
		return certif.Sign(alice.Key, c)
	}
	if _, err := honest.Add(share(view, parsec.RoleReader)); err != nil {
		t.Fatalf("a certificate with its author's true view: %v", err)
	}

	forged := view
	forged.Common.Digest[0] ^= 1
	if _, err := honest.Add(share(forged, parsec.RoleContributor)); !errors.Is(err, certif.ErrFork) {
		t.Errorf("a view of another common history: %v, want ErrFork", err)
	}
	ahead := honest.View(certif.RealmTopic(realm))
	ahead.Realm.Timestamp = o.Now + 1 // beyond what the reader holds (and set after the signing below)
	c := &certif.RealmRoleCertificate{Author: alice.ID, Timestamp: o.Now + 2, RealmID: realm, UserID: bob.User.ID, Role: parsec.RoleContributor}
	c.View = &ahead
	if _, err := honest.Add(certif.Sign(alice.Key, c)); !errors.Is(err, certif.ErrWithheld) {
		t.Errorf("a view beyond the reader's history: %v, want ErrWithheld", err)
	}
	future := honest.View(certif.RealmTopic(realm))
	future.Common.Timestamp = o.Now + 10_000_000 // ten seconds, after the next tick
	if _, err := honest.Add(share(future, parsec.RoleContributor)); !errors.Is(err, certif.ErrInvalidField) {
		t.Errorf("a view after the certificate itself: %v, want ErrInvalidField", err)
	}
	// A common certificate names no realm point.
	rv := honest.View(certif.RealmTopic(realm))
	u := &certif.UserUpdateCertificate{Author: alice.ID, Timestamp: o.Tick(), UserID: bob.User.ID, NewProfile: parsec.ProfileAdmin}
	u.View = &rv
	if _, err := certif.Decode(certif.Sign(alice.Key, u)); !errors.Is(err, certif.ErrInvalidField) {
		t.Errorf("a common certificate with a realm point: %v, want ErrInvalidField", err)
	}
}
