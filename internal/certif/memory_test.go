package certif_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/certif/certiftest"
	"github.com/parsec-go/parsec/internal/parsec"
)

var _ certif.State = (*certif.Memory)(nil)

// chain is a realistic history: bootstrap, users of every profile, a second device, a
// realm's whole life, a profile change, a revocation and a self-promotion.
type chain struct {
	o                  *certiftest.Org
	alice, bob, bob2   *certiftest.Device
	mallory            *certiftest.Device
	realm              parsec.VlobID
	revokedOn, lastRlm parsec.DateTime
}

func newChain() *chain {
	o := certiftest.NewOrg()
	c := &chain{o: o}
	c.alice = o.Bootstrap("alice")
	c.bob = o.NewUser(c.alice, "bob", parsec.ProfileStandard)
	c.bob2 = o.NewDevice(c.bob)
	c.mallory = o.NewUser(c.alice, "mallory", parsec.ProfileOutsider)
	c.realm = o.NewRealm(c.alice)
	o.RotateKey(c.alice, c.realm)
	o.Rename(c.alice, c.realm, "Projects")
	o.Share(c.alice, c.realm, c.bob.User, parsec.RoleManager)
	o.Share(c.bob2, c.realm, c.mallory.User, parsec.RoleReader)
	o.RotateKey(c.alice, c.realm)
	o.Archive(c.alice, c.realm, certif.ArchivingArchived, 0)
	o.Archive(c.alice, c.realm, certif.ArchivingAvailable, 0)
	o.Share(c.bob, c.realm, c.mallory.User, parsec.RoleNone)
	o.UpdateProfile(c.alice, c.bob.User, parsec.ProfileAdmin)
	o.Revoke(c.bob, c.alice.User)
	c.revokedOn = o.Now
	o.Share(c.bob, c.realm, c.bob.User, parsec.RoleOwner) // self-promotion: the only OWNER is revoked
	o.Share(c.bob, c.realm, c.alice.User, parsec.RoleNone)
	o.RotateKey(c.bob, c.realm)
	o.Archive(c.bob, c.realm, certif.ArchivingDeletionPlanned, o.Now.Add(30*24*time.Hour))
	c.lastRlm = o.Now
	return c
}

type userSummary struct {
	Handle    parsec.HumanHandle
	Profile   parsec.UserProfile
	CreatedBy *parsec.DeviceID
	RevokedOn parsec.DateTime
	RevokedBy *parsec.DeviceID
	Devices   []string
}

func summarize(m *certif.Memory) []userSummary {
	var out []userSummary
	for _, u := range m.Users() {
		s := userSummary{Handle: u.Handle(), Profile: u.Profile(), CreatedBy: u.CreatedBy, RevokedOn: u.RevokedOn, RevokedBy: u.RevokedBy}
		for _, d := range m.Devices(u.ID) {
			s.Devices = append(s.Devices, d.DisplayLabel())
		}
		out = append(out, s)
	}
	return out
}

func TestChainAccepted(t *testing.T) {
	c := newChain()
	a, b, mal := c.alice, c.bob, c.mallory
	full := []userSummary{
		{Handle: a.User.Handle, Profile: parsec.ProfileAdmin, RevokedOn: c.revokedOn, RevokedBy: &b.ID, Devices: []string{"alice-dev1"}},
		{Handle: b.User.Handle, Profile: parsec.ProfileAdmin, CreatedBy: &a.ID, Devices: []string{"bob-dev1", "bob-dev2"}},
		{Handle: mal.User.Handle, Profile: parsec.ProfileOutsider, CreatedBy: &a.ID, Devices: []string{"mallory-dev1"}},
	}
	redacted := []userSummary{
		{Handle: parsec.RedactedHandle(a.User.ID), Profile: parsec.ProfileAdmin, RevokedOn: c.revokedOn, RevokedBy: &b.ID,
			Devices: []string{a.ID.String()}},
		{Handle: parsec.RedactedHandle(b.User.ID), Profile: parsec.ProfileAdmin, CreatedBy: &a.ID,
			Devices: []string{b.ID.String(), c.bob2.ID.String()}},
		{Handle: parsec.RedactedHandle(mal.User.ID), Profile: parsec.ProfileOutsider, CreatedBy: &a.ID,
			Devices: []string{mal.ID.String()}},
	}

	tests := []struct {
		name     string
		redacted bool
		raws     [][]byte
		want     []userSummary
		oneByOne bool
	}{
		{"full, one batch", false, c.o.Full(), full, false},
		{"full, one by one", false, c.o.Full(), full, true},
		{"redacted, one batch", true, c.o.Redacted(), redacted, false},
		{"redacted, one by one", true, c.o.Redacted(), redacted, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := certif.NewMemory(c.o.RootVerifyKey(), tc.redacted)
			if tc.oneByOne {
				for i, raw := range tc.raws {
					if _, err := m.Add(raw); err != nil {
						t.Fatalf("certificate %d: %v", i, err)
					}
				}
			} else if _, err := m.AddBatch(tc.raws); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, summarize(m)); diff != "" {
				t.Errorf("users (-want +got):\n%s", diff)
			}
			checkRealm(t, c, m)
		})
	}
}

func checkRealm(t *testing.T, c *chain, m *certif.Memory) {
	t.Helper()
	r, ok := m.Realm(c.realm)
	if !ok {
		t.Fatal("realm unknown")
	}
	if diff := cmp.Diff([]certif.Member{{UserID: c.bob.User.ID, Role: parsec.RoleOwner, Since: c.revokedOn + second, By: c.bob.ID}}, r.Members); diff != "" {
		t.Errorf("members (-want +got):\n%s", diff)
	}
	var indexes []uint64
	for _, k := range r.KeyRotations {
		indexes = append(indexes, k.KeyIndex)
	}
	if diff := cmp.Diff([]uint64{1, 2, 3}, indexes); diff != "" {
		t.Errorf("key rotations (-want +got):\n%s", diff)
	}
	if r.Name == nil || string(r.Name.EncryptedName) != "Projects" || r.Name.KeyIndex != 1 {
		t.Errorf("name = %+v", r.Name)
	}
	if r.Archiving == nil || r.Archiving.Configuration != certif.ArchivingDeletionPlanned {
		t.Errorf("archiving = %+v", r.Archiving)
	}
	if diff := cmp.Diff(map[parsec.VlobID]parsec.RealmRole{c.realm: parsec.RoleOwner}, m.RolesOf(c.bob.User.ID)); diff != "" {
		t.Errorf("bob's roles (-want +got):\n%s", diff)
	}
	if roles := m.RolesOf(c.mallory.User.ID); len(roles) != 0 {
		t.Errorf("mallory's roles = %v, want none", roles)
	}
	if p, ok := m.Profile(c.bob.User.ID); !ok || p != parsec.ProfileAdmin {
		t.Errorf("bob's profile = %v, %v", p, ok)
	}
	wantLast := map[certif.Topic]parsec.DateTime{certif.CommonTopic: c.revokedOn, certif.RealmTopic(c.realm): c.lastRlm}
	if diff := cmp.Diff(wantLast, m.LastTimestamps()); diff != "" {
		t.Errorf("last timestamps (-want +got):\n%s", diff)
	}
	if d, ok := m.Device(c.bob2.ID); !ok || d.UserID != c.bob.User.ID || d.VerifyKey != c.bob2.Key.VerifyKey() || d.CreatedBy == nil || *d.CreatedBy != c.bob.ID {
		t.Errorf("bob's second device = %+v, %v", d, ok)
	}
	if diff := cmp.Diff([]parsec.VlobID{c.realm}, m.Realms()); diff != "" {
		t.Errorf("realms (-want +got):\n%s", diff)
	}
}

// snapshot is everything a Memory shows.
type snapshot struct {
	Users  []userSummary
	Last   map[certif.Topic]parsec.DateTime
	Realms []certif.Realm
}

func snap(m *certif.Memory) snapshot {
	s := snapshot{Users: summarize(m), Last: m.LastTimestamps()}
	for _, id := range m.Realms() {
		r, _ := m.Realm(id)
		s.Realms = append(s.Realms, r)
	}
	return s
}

func TestAddBatchAtomic(t *testing.T) {
	c := newChain()
	raws := c.o.Full()
	const kept = 7 // alice, bob and his two devices, mallory
	// bad returns the certificates after the kept ones, with the signature of the first one
	// of the given kind (or the last one) forged.
	bad := func(kind string) [][]byte {
		b := slices.Clone(raws[kept:])
		i := slices.IndexFunc(b, func(raw []byte) bool { c, _ := certif.Decode(raw); return c.Kind() == kind })
		if kind == "last" {
			i = len(b) - 1
		}
		forged := slices.Clone(b[i])
		forged[0] ^= 1
		b[i] = forged
		return b
	}
	tests := []struct {
		name  string
		batch [][]byte
		want  error
	}{
		{"bad common certificate in the middle", bad(certif.KindUserUpdate), certif.ErrBadSignature},
		{"bad realm certificate in the middle", bad(certif.KindRealmName), certif.ErrBadSignature},
		{"bad last certificate", bad("last"), certif.ErrBadSignature},
		{"undecodable certificate", append(slices.Clone(raws[kept:]), []byte("junk")), certif.ErrMalformed},
		{"invalid rule at the end", append(slices.Clone(raws[kept:]), c.o.Revoke(c.bob, c.bob.User)), certif.ErrSelfRevoke},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := certif.NewMemory(c.o.RootVerifyKey(), false)
			if _, err := m.AddBatch(raws[:kept]); err != nil {
				t.Fatal(err)
			}
			before := snap(m)
			if _, err := m.AddBatch(tc.batch); !errors.Is(err, tc.want) {
				t.Fatalf("AddBatch = %v, want %v", err, tc.want)
			}
			if diff := cmp.Diff(before, snap(m), cmpOpts); diff != "" {
				t.Fatalf("rejected batch changed the Memory (-before +after):\n%s", diff)
			}
			// The Memory is intact: the good certificates still go in.
			if _, err := m.AddBatch(raws[kept:]); err != nil {
				t.Fatal(err)
			}
			checkRealm(t, c, m)
		})
	}
}

func TestAddBatchCommonFirst(t *testing.T) {
	c := newChain()
	raws := c.o.Full()
	// Realm certificates first, then the common topic: processed common first, in order.
	var realm, common [][]byte
	for _, raw := range raws {
		d, err := certif.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if d.Topic().IsCommon() {
			common = append(common, raw)
		} else {
			realm = append(realm, raw)
		}
	}
	m := certif.NewMemory(c.o.RootVerifyKey(), false)
	got, err := m.AddBatch(append(realm, common...))
	if err != nil {
		t.Fatal(err)
	}
	if k := got[0].Kind(); k != certif.KindRealmRole {
		t.Errorf("first result is a %s, want the results in the given order", k)
	}
	checkRealm(t, c, m)
}

func TestRedactedFlavour(t *testing.T) {
	o := certiftest.NewOrg()
	o.Bootstrap("alice")
	user, device := o.Log[0], o.Log[1]
	tests := []struct {
		name     string
		redacted bool
		batch    [][]byte
	}{
		{"full holder gets a redacted user", false, [][]byte{user.Redacted, device.Full}},
		{"full holder gets a redacted device", false, [][]byte{user.Full, device.Redacted}},
		{"redacted holder gets a full user", true, [][]byte{user.Full, device.Redacted}},
		{"redacted holder gets a full device", true, [][]byte{user.Redacted, device.Full}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := certif.NewMemory(o.RootVerifyKey(), tc.redacted)
			if _, err := m.AddBatch(tc.batch); !errors.Is(err, certif.ErrRedactedFlavour) {
				t.Fatalf("AddBatch = %v, want %v", err, certif.ErrRedactedFlavour)
			}
			if err := m.AddTrusted(tc.batch...); !errors.Is(err, certif.ErrRedactedFlavour) {
				t.Fatalf("AddTrusted = %v, want %v", err, certif.ErrRedactedFlavour)
			}
			if len(m.Users()) != 0 {
				t.Fatal("rejected batch left a user behind")
			}
		})
	}
}

func TestAddTrusted(t *testing.T) {
	c := newChain()
	checked := certif.NewMemory(c.o.RootVerifyKey(), false)
	if _, err := checked.AddBatch(c.o.Full()); err != nil {
		t.Fatal(err)
	}
	trusted := certif.NewMemory(c.o.RootVerifyKey(), false)
	if err := trusted.AddTrusted(c.o.Full()...); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(snap(checked), snap(trusted), cmpOpts); diff != "" {
		t.Errorf("replayed Memory differs (-validated +replayed):\n%s", diff)
	}
	before := snap(trusted)
	if err := trusted.AddTrusted(c.o.Revoke(c.bob, c.mallory.User), []byte("junk")); !errors.Is(err, certif.ErrMalformed) {
		t.Fatalf("AddTrusted(junk) = %v", err)
	}
	if diff := cmp.Diff(before, snap(trusted), cmpOpts); diff != "" {
		t.Errorf("rejected replay changed the Memory:\n%s", diff)
	}
}

// failing is a State whose database fails on device lookups.
type failing struct {
	*certif.Memory
}

var errDown = parsec.Errorf(parsec.Unavailable, "database is down")

func (failing) LookupDevice(parsec.DeviceID) (certif.Device, bool, error) {
	return certif.Device{}, false, errDown
}

func TestValidateStateError(t *testing.T) {
	w := newWorld(t)
	_, err := certif.Validate(failing{w.m}, w.o.RootVerifyKey(), w.o.Revoke(w.alice, w.carol.User))
	if !errors.Is(err, errDown) || parsec.KindOf(err) != parsec.Unavailable {
		t.Fatalf("Validate = %v (kind %v), want the State's error", err, parsec.KindOf(err))
	}
}

func TestValidateDoesNotChangeState(t *testing.T) {
	w := newWorld(t)
	before := snap(w.m)
	raw := w.o.Revoke(w.alice, w.carol.User)
	c, err := certif.Validate(w.m, w.o.RootVerifyKey(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := c.(*certif.RevokedUserCertificate); !ok || r.UserID != w.carol.User.ID {
		t.Fatalf("Validate returned %#v", c)
	}
	if diff := cmp.Diff(before, snap(w.m), cmpOpts); diff != "" {
		t.Errorf("Validate changed the State:\n%s", diff)
	}
}

func TestErrorMessage(t *testing.T) {
	w := newWorld(t)
	raw := w.o.Revoke(w.alice, w.alice.User)
	_, err := w.m.Add(raw)
	want := "invalid revoked user certificate of " + w.o.Now.String() + ": author cannot revoke itself"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
	_, err = w.m.Add(w.o.UpdateProfile(w.bob, w.carol.User, parsec.ProfileAdmin))
	want = "invalid user update certificate of " + w.o.Now.String() + ": author is not an administrator at that time (user " +
		parsec.ShortID(w.bob.User.ID) + " is STANDARD)"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %q, want %q", err, want)
	}
}

func TestRoleAt(t *testing.T) {
	o := certiftest.NewOrg()
	alice := o.Bootstrap("alice")
	bob := o.NewUser(alice, "bob", parsec.ProfileStandard)
	realm := o.NewRealm(alice)
	created := lastTimestamp(t, o)
	o.Share(alice, realm, bob.User, parsec.RoleReader)
	asReader := lastTimestamp(t, o)
	o.Share(alice, realm, bob.User, parsec.RoleContributor)
	asContributor := lastTimestamp(t, o)
	o.Share(alice, realm, bob.User, parsec.RoleNone)
	removed := lastTimestamp(t, o)

	m := certif.NewMemory(o.RootVerifyKey(), false)
	if _, err := m.AddBatch(o.Full()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		user *certiftest.User
		at   parsec.DateTime
		want parsec.RealmRole
	}{
		{alice.User, created - 1, parsec.RoleNone},
		{alice.User, created, parsec.RoleOwner},
		{alice.User, removed + 10, parsec.RoleOwner},
		{bob.User, created, parsec.RoleNone},
		{bob.User, asReader, parsec.RoleReader},
		{bob.User, asContributor - 1, parsec.RoleReader},
		{bob.User, asContributor, parsec.RoleContributor},
		{bob.User, removed, parsec.RoleNone},
	}
	for _, tc := range cases {
		if got := m.RoleAt(realm, tc.user.ID, tc.at); got != tc.want {
			t.Errorf("role of %s at %d = %q, want %q", tc.user.ID, tc.at, got, tc.want)
		}
	}
	if got := m.LastRemoval(realm); got != removed {
		t.Errorf("LastRemoval = %d, want %d", got, removed)
	}
	if got := m.RoleAt(parsec.NewVlobID(), alice.User.ID, removed); got != parsec.RoleNone {
		t.Errorf("role in an unknown realm = %q", got)
	}
}

func lastTimestamp(t *testing.T, o *certiftest.Org) parsec.DateTime {
	t.Helper()
	c, err := certif.Decode(o.Last().Full)
	if err != nil {
		t.Fatal(err)
	}
	return c.When()
}
