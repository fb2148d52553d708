package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Realm certificates signed by a member's device.

func roleCert(author *member, realm parsec.VlobID, user parsec.UserID, role parsec.RealmRole, at parsec.DateTime) []byte {
	return certif.Sign(author.key, &certif.RealmRoleCertificate{Author: author.device, Timestamp: at, RealmID: realm, UserID: user, Role: role})
}

func nameCert(author *member, realm parsec.VlobID, keyIndex uint64, at parsec.DateTime) []byte {
	return certif.Sign(author.key, &certif.RealmNameCertificate{Author: author.device, Timestamp: at, RealmID: realm,
		KeyIndex: keyIndex, EncryptedName: []byte("encrypted name")})
}

func rotationCert(author *member, realm parsec.VlobID, keyIndex uint64, at parsec.DateTime) []byte {
	return certif.Sign(author.key, &certif.RealmKeyRotationCertificate{Author: author.device, Timestamp: at, RealmID: realm,
		KeyIndex: keyIndex, EncryptionAlgorithm: certif.EncryptionAlgorithm, HashAlgorithm: certif.HashAlgorithm,
		KeyCanary: fmt.Appendf(nil, "canary %d", keyIndex)})
}

func archivingCert(author *member, realm parsec.VlobID, configuration string, deletion, at parsec.DateTime) []byte {
	return certif.Sign(author.key, &certif.RealmArchivingCertificate{Author: author.device, Timestamp: at, RealmID: realm,
		Configuration: configuration, DeletionDate: deletion})
}

// The realm commands.

func (w *world) realmCreate(t *testing.T, m *member, cert []byte) error {
	t.Helper()
	return w.call(t, m, protocol.CmdRealmCreate, protocol.RealmCreateReq{RealmRoleCertificate: cert}, nil)
}

func (w *world) realmShare(t *testing.T, m *member, cert, access []byte, keyIndex uint64) error {
	t.Helper()
	return w.call(t, m, protocol.CmdRealmShare, protocol.RealmShareReq{RealmRoleCertificate: cert, RecipientKeysBundleAccess: access, KeyIndex: keyIndex}, nil)
}

func (w *world) realmUnshare(t *testing.T, m *member, cert []byte) error {
	t.Helper()
	return w.call(t, m, protocol.CmdRealmUnshare, protocol.RealmUnshareReq{RealmRoleCertificate: cert}, nil)
}

func (w *world) realmSelfPromote(t *testing.T, m *member, cert []byte) error {
	t.Helper()
	return w.call(t, m, protocol.CmdRealmSelfPromote, protocol.RealmSelfPromoteReq{RealmRoleCertificate: cert}, nil)
}

func (w *world) realmRename(t *testing.T, m *member, cert []byte, initial bool) error {
	t.Helper()
	return w.call(t, m, protocol.CmdRealmRename, protocol.RealmRenameReq{RealmNameCertificate: cert, InitialNameOrFail: initial}, nil)
}

func (w *world) realmRotate(t *testing.T, m *member, cert []byte, access map[parsec.UserID][]byte, bundle []byte) error {
	t.Helper()
	return w.call(t, m, protocol.CmdRealmRotateKey, protocol.RealmRotateKeyReq{
		RealmKeyRotationCertificate: cert, PerParticipantKeysBundleAccess: access, KeysBundle: bundle}, nil)
}

func (w *world) realmKeysBundle(t *testing.T, m *member, realm parsec.VlobID, keyIndex uint64) (protocol.RealmGetKeysBundleRep, error) {
	t.Helper()
	var rep protocol.RealmGetKeysBundleRep
	err := w.call(t, m, protocol.CmdRealmGetKeysBundle, protocol.RealmGetKeysBundleReq{RealmID: realm, KeyIndex: keyIndex}, &rep)
	return rep, err
}

func (w *world) realmArchive(t *testing.T, m *member, cert []byte) error {
	t.Helper()
	return w.call(t, m, protocol.CmdRealmUpdateArchiving, protocol.RealmUpdateArchivingReq{RealmArchivingCertificate: cert}, nil)
}

// What the store holds.

func (w *world) realmTopic(t *testing.T, org parsec.OrganizationID, realm parsec.VlobID) []metastore.Certificate {
	t.Helper()
	return stored(t, w, func(tx metastore.Tx) ([]metastore.Certificate, error) {
		return tx.Certificates(org, metastore.RealmTopic(realm), 0)
	})
}

func (w *world) lastTimestamp(t *testing.T, org parsec.OrganizationID, topic metastore.Topic) parsec.DateTime {
	t.Helper()
	return stored(t, w, func(tx metastore.Tx) (parsec.DateTime, error) { return tx.LastTimestamp(org, topic) })
}

func (w *world) storedRealm(t *testing.T, org parsec.OrganizationID, realm parsec.VlobID) metastore.Realm {
	t.Helper()
	return stored(t, w, func(tx metastore.Tx) (metastore.Realm, error) { return tx.Realm(org, realm) })
}

func (w *world) roleOf(t *testing.T, m *member, realm parsec.VlobID) parsec.RealmRole {
	t.Helper()
	return stored(t, w, func(tx metastore.Tx) (parsec.RealmRole, error) { return tx.CurrentRealmRole(m.org, realm, m.user) })
}

// realmUsers are the users of the realm tests: alice (Administrator), bob, carol, dave, erin
// (Members), xena (External) and gone (revoked).
const realmUsers = "alice:admin bob:member carol:member dave:member erin:member xena:external gone:revoked"

// realmRoles are the roles of a realm's spec.
var realmRoles = map[string]parsec.RealmRole{
	"owner": parsec.RoleOwner, "manager": parsec.RoleManager, "contributor": parsec.RoleContributor, "reader": parsec.RoleReader,
}

// newRealm creates a realm shared as spec declares, name:role: the first user, its owner,
// creates it and rotates its first key, then gives each other user its role, in order.
//
//	realm := w.newRealm(t, "alice:owner bob:manager carol:reader")
func (w *world) newRealm(t *testing.T, spec string) parsec.VlobID {
	t.Helper()
	var owner *member
	var realm parsec.VlobID
	for _, f := range strings.Fields(spec) {
		name, r, _ := strings.Cut(f, ":")
		role, ok := realmRoles[r]
		if !ok || (owner == nil) != (role == parsec.RoleOwner) {
			t.Fatalf("realm %q: %q: want name:role, role owner (first), manager, contributor or reader", spec, f)
		}
		if owner == nil {
			owner = w.user(name)
			realm = w.keylessRealm(t, owner)
			w.rotate(t, owner, realm)
			continue
		}
		w.share(t, owner, realm, w.user(name), role)
	}
	return realm
}

// keylessRealm makes owner create a realm, without a key.
func (w *world) keylessRealm(t *testing.T, owner *member) parsec.VlobID {
	t.Helper()
	realm := parsec.NewVlobID()
	wantStatus(t, w.realmCreate(t, owner, roleCert(owner, realm, owner.user, parsec.RoleOwner, w.tick())), protocol.StatusOK)
	return realm
}

// rotate makes owner rotate the realm's key for its current members, and returns the new
// key index.
func (w *world) rotate(t *testing.T, owner *member, realm parsec.VlobID) uint64 {
	t.Helper()
	next := w.storedRealm(t, owner.org, realm).KeyIndex + 1
	access := map[parsec.UserID][]byte{}
	w.view(t, func(tx metastore.Tx) error {
		ms, err := tx.RealmMembers(owner.org, realm)
		for _, m := range ms {
			access[m.User] = fmt.Appendf(nil, "access of %s to key %d", m.User, next)
		}
		return err
	})
	wantStatus(t, w.realmRotate(t, owner, rotationCert(owner, realm, next, w.tick()), access, fmt.Appendf(nil, "bundle %d", next)), protocol.StatusOK)
	return next
}

// share makes author give user a role, with an access to the realm's last key.
func (w *world) share(t *testing.T, author *member, realm parsec.VlobID, user *member, role parsec.RealmRole) {
	t.Helper()
	k := w.storedRealm(t, author.org, realm).KeyIndex
	err := w.realmShare(t, author, roleCert(author, realm, user.user, role, w.tick()), []byte("access of "+user.email), k)
	wantStatus(t, err, protocol.StatusOK)
}

// realmCase is one request of a sequence on a realm: the cases run in order, the accepted
// ones are the state of the next ones.
type realmCase struct {
	name  string
	realm parsec.VlobID // the realm the request is about, when not the sequence's
	run   func(t *testing.T, at parsec.DateTime) error
	want  protocol.Status
	check func(t *testing.T) // after an accepted request
	// greaterThan is the strictly_greater_than of a require_greater_timestamp refusal, when
	// not the last certificate of the common topic or the realm's.
	greaterThan func() parsec.DateTime
}

// Statuses whose detail is the realm topic's last certificate timestamp.
var withLastTimestamp = map[protocol.Status]bool{
	protocol.StatusRealmAlreadyExists: true, protocol.StatusRoleAlreadyGranted: true,
	protocol.StatusRecipientAlreadyUnshared: true, protocol.StatusActiveOwnerAlreadyExists: true,
	protocol.StatusInitialNameAlreadyExists: true, protocol.StatusBadKeyIndex: true,
	protocol.StatusParticipantMismatch: true,
}

// runRealmCases runs a sequence: each request gets a fresh, later timestamp. A refused
// request leaves the realm's topic as it was, and its detail tells the client where to go
// on from; an accepted one adds its certificate to the topic.
func (w *world) runRealmCases(t *testing.T, org parsec.OrganizationID, realm parsec.VlobID, cases []realmCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := realm
			if !tc.realm.IsZero() {
				in = tc.realm
			}
			before := w.realmTopic(t, org, in)
			at := w.tick()
			err := tc.run(t, at)
			wantStatus(t, err, tc.want)
			after := w.realmTopic(t, org, in)
			if tc.want == protocol.StatusOK {
				if len(after) != len(before)+1 || after[len(after)-1].Timestamp != at {
					t.Fatalf("the topic has %d certificates, the last of %v; want %d, the last of %v", len(after), after[len(after)-1].Timestamp, len(before)+1, at)
				}
				if tc.check != nil {
					tc.check(t)
				}
				return
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Fatalf("a refused request changed the realm's topic (-before +after):\n%s", diff)
			}
			var last parsec.DateTime
			if len(before) > 0 {
				last = before[len(before)-1].Timestamp
			}
			d := statusDetail(t, err)
			switch {
			case withLastTimestamp[tc.want] && d.LastCertificateTimestamp != last:
				t.Errorf("last_certificate_timestamp = %v, want the realm's last certificate %v", d.LastCertificateTimestamp, last)
			case tc.want == protocol.StatusRequireGreaterTimestamp:
				bound := max(last, w.lastTimestamp(t, org, metastore.CommonTopic))
				if tc.greaterThan != nil {
					bound = tc.greaterThan()
				}
				if d.StrictlyGreaterThan != bound {
					t.Errorf("strictly_greater_than = %v, want %v", d.StrictlyGreaterThan, bound)
				}
			}
		})
	}
}

func TestRealmCreate(t *testing.T) {
	w := newWorld(t, realmUsers)
	alice, bob, xena := w.user("alice"), w.user("bob"), w.user("xena")
	realm := parsec.NewVlobID()
	fresh := parsec.NewVlobID() // never created
	w.runRealmCases(t, "Acme", realm, []realmCase{
		{name: "stale timestamp", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmCreate(t, alice, roleCert(alice, realm, alice.user, parsec.RoleOwner, w.lastTimestamp(t, "Acme", metastore.CommonTopic)))
		}, want: protocol.StatusRequireGreaterTimestamp},
		{name: "ok", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmCreate(t, alice, roleCert(alice, realm, alice.user, parsec.RoleOwner, at))
		}, want: protocol.StatusOK, check: func(t *testing.T) {
			r := w.storedRealm(t, "Acme", realm)
			if r.KeyIndex != 0 || r.Archiving != metastore.ArchivingAvailable || r.Named || r.CreatedOn.IsZero() {
				t.Errorf("new realm %+v, want no key, available, no name", r)
			}
			if got := w.roleOf(t, alice, realm); got != parsec.RoleOwner {
				t.Errorf("alice is %q, want OWNER", got)
			}
		}},
		{name: "again, by another user", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmCreate(t, bob, roleCert(bob, realm, bob.user, parsec.RoleOwner, at))
		}, want: protocol.StatusRealmAlreadyExists},
		{name: "External user", realm: fresh, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmCreate(t, xena, roleCert(xena, fresh, xena.user, parsec.RoleOwner, at))
		}, want: protocol.StatusAuthorNotAllowed},
		{name: "for another user", realm: fresh, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmCreate(t, alice, roleCert(alice, fresh, bob.user, parsec.RoleOwner, at))
		}, want: protocol.StatusInvalidCertificate},
		{name: "not owner", realm: fresh, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmCreate(t, alice, roleCert(alice, fresh, alice.user, parsec.RoleManager, at))
		}, want: protocol.StatusInvalidCertificate},
		{name: "another kind of certificate", realm: fresh, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmCreate(t, alice, nameCert(alice, fresh, 1, at))
		}, want: protocol.StatusInvalidCertificate},
		{name: "signed by another device", realm: fresh, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmCreate(t, bob, roleCert(alice, fresh, alice.user, parsec.RoleOwner, at))
		}, want: protocol.StatusInvalidCertificate},
		{name: "bad signature", realm: fresh, run: func(t *testing.T, at parsec.DateTime) error {
			forged := certif.Sign(alice.key, &certif.RealmRoleCertificate{Author: bob.device, Timestamp: at, RealmID: fresh, UserID: bob.user, Role: parsec.RoleOwner})
			return w.realmCreate(t, bob, forged)
		}, want: protocol.StatusInvalidCertificate},
		{name: "far from the server's time", realm: fresh, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmCreate(t, alice, roleCert(alice, fresh, alice.user, parsec.RoleOwner, at.Add(time.Hour)))
		}, want: protocol.StatusTimestampOutOfBallpark},
		{name: "garbage", realm: fresh, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmCreate(t, alice, []byte("not a certificate"))
		}, want: protocol.StatusInvalidCertificate},
		{name: "member demoted to External", realm: fresh, run: func(t *testing.T, at parsec.DateTime) error {
			wantStatus(t, w.updateProfile(t, alice, updateCert(alice, bob.user, parsec.ProfileOutsider, at)), protocol.StatusOK)
			return w.realmCreate(t, bob, roleCert(bob, fresh, bob.user, parsec.RoleOwner, w.tick()))
		}, want: protocol.StatusAuthorNotAllowed},
	})
}

// tryCall is call without the test's fatal checks, for other goroutines than the test's.
func (w *world) tryCall(m *member, cmd string, args any) (protocol.Status, error) {
	body, err := protocol.EncodeRequest(cmd, args)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest(http.MethodPost, w.url+m.path(), bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set(protocol.HeaderAPIVersion, protocol.APIVersion)
	req.Header.Set("Content-Type", protocol.ContentType)
	req.Header.Set(protocol.HeaderAuthorization, w.sign(m.key, m.device, http.MethodPost, m.path(), w.clock.Now(), body))
	resp, err := w.hs.Client().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d %q", resp.StatusCode, b)
	}
	var se *protocol.StatusError
	if err := protocol.DecodeReply(b, nil); errors.As(err, &se) {
		return se.Status, nil
	} else if err != nil {
		return "", err
	}
	return protocol.StatusOK, nil
}

// Concurrent creations of one realm: one wins, the others are told it exists, and the
// realm has exactly one owner.
func TestRealmCreateConcurrent(t *testing.T) {
	w := newWorld(t, realmUsers)
	realm := parsec.NewVlobID()
	at := w.tick()
	creators := []*member{w.user("alice"), w.user("bob"), w.user("carol"), w.user("dave"), w.user("erin")}
	statuses := make([]protocol.Status, len(creators))
	errs := make([]error, len(creators))
	var wg sync.WaitGroup
	for i, m := range creators {
		wg.Go(func() {
			statuses[i], errs[i] = w.tryCall(m, protocol.CmdRealmCreate, protocol.RealmCreateReq{RealmRoleCertificate: roleCert(m, realm, m.user, parsec.RoleOwner, at)})
		})
	}
	wg.Wait()
	var winner *member
	for i, st := range statuses {
		switch {
		case errs[i] != nil:
			t.Fatalf("%s: %v", creators[i].email, errs[i])
		case st == protocol.StatusOK && winner == nil:
			winner = creators[i]
		case st != protocol.StatusRealmAlreadyExists:
			t.Errorf("%s: status %q, want ok for one creator and %q for the others", creators[i].email, st, protocol.StatusRealmAlreadyExists)
		}
	}
	if winner == nil {
		t.Fatal("no creation succeeded")
	}
	if certs := w.realmTopic(t, "Acme", realm); len(certs) != 1 {
		t.Errorf("the realm's topic has %d certificates, want 1", len(certs))
	}
	for _, m := range creators {
		want := parsec.RoleNone
		if m == winner {
			want = parsec.RoleOwner
		}
		if got := w.roleOf(t, m, realm); got != want {
			t.Errorf("%s is %q, want %q", m.email, got, want)
		}
	}
}

func TestRealmShareAndUnshare(t *testing.T) {
	w := newWorld(t, realmUsers)
	alice, bob, carol, dave, erin, xena, gone := w.user("alice"), w.user("bob"), w.user("carol"), w.user("dave"), w.user("erin"), w.user("xena"), w.user("gone")
	realm := w.newRealm(t, "alice:owner")
	keyless := w.keylessRealm(t, alice)
	unknown := parsec.NewVlobID()
	frank := w.createUser(t, alice, "frank", parsec.ProfileStandard)

	share := func(author, target *member, role parsec.RealmRole) func(*testing.T, parsec.DateTime) error {
		return func(t *testing.T, at parsec.DateTime) error {
			return w.realmShare(t, author, roleCert(author, realm, target.user, role, at), []byte("access of "+target.email), 1)
		}
	}
	unshare := func(author, target *member) func(*testing.T, parsec.DateTime) error {
		return func(t *testing.T, at parsec.DateTime) error {
			return w.realmUnshare(t, author, roleCert(author, realm, target.user, parsec.RoleNone, at))
		}
	}
	// hasRole checks a member's role and, when it has one, its access to the last key.
	hasRole := func(m *member, role parsec.RealmRole) func(*testing.T) {
		return func(t *testing.T) {
			if got := w.roleOf(t, m, realm); got != role {
				t.Errorf("%s is %q, want %q", m.email, got, role)
			}
			if role == parsec.RoleNone {
				return
			}
			rep, err := w.realmKeysBundle(t, m, realm, 1)
			wantStatus(t, err, protocol.StatusOK)
			if string(rep.KeysBundleAccess) != "access of "+m.email || string(rep.KeysBundle) != "bundle 1" {
				t.Errorf("%s gets access %q to bundle %q", m.email, rep.KeysBundleAccess, rep.KeysBundle)
			}
		}
	}
	w.runRealmCases(t, "Acme", realm, []realmCase{
		{name: "owner makes a manager", run: share(alice, bob, parsec.RoleManager), want: protocol.StatusOK, check: hasRole(bob, parsec.RoleManager)},
		{name: "manager makes a reader", run: share(bob, carol, parsec.RoleReader), want: protocol.StatusOK, check: hasRole(carol, parsec.RoleReader)},
		{name: "manager makes the reader a contributor", run: share(bob, carol, parsec.RoleContributor), want: protocol.StatusOK, check: hasRole(carol, parsec.RoleContributor)},
		{name: "manager cannot make a manager", run: share(bob, dave, parsec.RoleManager), want: protocol.StatusAuthorNotAllowed},
		{name: "manager cannot make an owner", run: share(bob, dave, parsec.RoleOwner), want: protocol.StatusAuthorNotAllowed},
		{name: "owner makes another manager", run: share(alice, dave, parsec.RoleManager), want: protocol.StatusOK, check: hasRole(dave, parsec.RoleManager)},
		{name: "manager cannot change a manager", run: share(bob, dave, parsec.RoleReader), want: protocol.StatusAuthorNotAllowed},
		{name: "contributor cannot share", run: share(carol, erin, parsec.RoleReader), want: protocol.StatusAuthorNotAllowed},
		{name: "non-member cannot share", run: share(erin, frank, parsec.RoleReader), want: protocol.StatusAuthorNotAllowed},
		{name: "External user as manager", run: share(alice, xena, parsec.RoleManager), want: protocol.StatusRoleIncompatibleWithOutsider},
		{name: "External user as owner", run: share(alice, xena, parsec.RoleOwner), want: protocol.StatusRoleIncompatibleWithOutsider},
		{name: "External user as contributor", run: share(alice, xena, parsec.RoleContributor), want: protocol.StatusOK, check: hasRole(xena, parsec.RoleContributor)},
		{name: "revoked recipient", run: share(alice, gone, parsec.RoleReader), want: protocol.StatusRecipientRevoked},
		{name: "unknown recipient", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmShare(t, alice, roleCert(alice, realm, parsec.NewUserID(), parsec.RoleReader, at), []byte("access"), 1)
		}, want: protocol.StatusRecipientNotFound},
		{name: "unknown realm", realm: unknown, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmShare(t, alice, roleCert(alice, unknown, erin.user, parsec.RoleReader, at), []byte("access"), 1)
		}, want: protocol.StatusRealmNotFound},
		{name: "role already granted", run: share(alice, bob, parsec.RoleManager), want: protocol.StatusRoleAlreadyGranted},
		{name: "access to a key that does not exist", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmShare(t, alice, roleCert(alice, realm, erin.user, parsec.RoleReader, at), []byte("access"), 2)
		}, want: protocol.StatusBadKeyIndex},
		{name: "access to no key", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmShare(t, alice, roleCert(alice, realm, erin.user, parsec.RoleReader, at), []byte("access"), 0)
		}, want: protocol.StatusBadKeyIndex},
		{name: "realm without a key yet", realm: keyless, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmShare(t, alice, roleCert(alice, keyless, erin.user, parsec.RoleReader, at), []byte("access"), 0)
		}, want: protocol.StatusBadKeyIndex},
		{name: "self", run: share(alice, alice, parsec.RoleReader), want: protocol.StatusInvalidCertificate},
		{name: "no role", run: share(alice, erin, parsec.RoleNone), want: protocol.StatusInvalidCertificate},
		{name: "no access", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmShare(t, alice, roleCert(alice, realm, erin.user, parsec.RoleReader, at), nil, 1)
		}, want: protocol.StatusBadRequest},
		{name: "another kind of certificate", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmShare(t, alice, nameCert(alice, realm, 1, at), []byte("access"), 1)
		}, want: protocol.StatusInvalidCertificate},
		{name: "stale timestamp", run: func(t *testing.T, at parsec.DateTime) error {
			last := w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm))
			return w.realmShare(t, alice, roleCert(alice, realm, erin.user, parsec.RoleReader, last), []byte("access"), 1)
		}, want: protocol.StatusRequireGreaterTimestamp},
		{name: "older than a change of the common topic", run: func(t *testing.T, at parsec.DateTime) error {
			// erin is made an Administrator after the certificate was signed.
			wantStatus(t, w.updateProfile(t, alice, updateCert(alice, erin.user, parsec.ProfileAdmin, w.tick())), protocol.StatusOK)
			return w.realmShare(t, alice, roleCert(alice, realm, erin.user, parsec.RoleReader, at), []byte("access"), 1)
		}, want: protocol.StatusRequireGreaterTimestamp},

		{name: "manager cannot unshare a manager", run: unshare(bob, dave), want: protocol.StatusAuthorNotAllowed},
		{name: "contributor cannot unshare", run: unshare(xena, carol), want: protocol.StatusAuthorNotAllowed},
		{name: "non-member cannot unshare", run: unshare(erin, carol), want: protocol.StatusAuthorNotAllowed},
		{name: "manager unshares a contributor", run: unshare(bob, carol), want: protocol.StatusOK, check: hasRole(carol, parsec.RoleNone)},
		{name: "unshared member cannot share any more", run: share(carol, erin, parsec.RoleReader), want: protocol.StatusAuthorNotAllowed},
		{name: "already unshared", run: unshare(bob, carol), want: protocol.StatusRecipientAlreadyUnshared},
		{name: "never shared", run: unshare(alice, erin), want: protocol.StatusRecipientAlreadyUnshared},
		{name: "unshare an unknown user", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmUnshare(t, alice, roleCert(alice, realm, parsec.NewUserID(), parsec.RoleNone, at))
		}, want: protocol.StatusRecipientNotFound},
		{name: "unshare in an unknown realm", realm: unknown, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmUnshare(t, alice, roleCert(alice, unknown, bob.user, parsec.RoleNone, at))
		}, want: protocol.StatusRealmNotFound},
		{name: "unshare with a role", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmUnshare(t, alice, roleCert(alice, realm, bob.user, parsec.RoleReader, at))
		}, want: protocol.StatusInvalidCertificate},
		{name: "unshare self", run: unshare(alice, alice), want: protocol.StatusInvalidCertificate},
		{name: "unshare with a stale timestamp", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmUnshare(t, alice, roleCert(alice, realm, bob.user, parsec.RoleNone, w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm))))
		}, want: protocol.StatusRequireGreaterTimestamp},
		{name: "owner unshares a manager", run: unshare(alice, dave), want: protocol.StatusOK, check: hasRole(dave, parsec.RoleNone)},
		{name: "owner shares a user about to be revoked", run: share(alice, frank, parsec.RoleReader), want: protocol.StatusOK, check: hasRole(frank, parsec.RoleReader)},
		{name: "a revoked member can be unshared", run: func(t *testing.T, at parsec.DateTime) error {
			wantStatus(t, w.revoke(t, alice, revokeCert(alice, frank.user, at-1)), protocol.StatusOK)
			return w.realmUnshare(t, alice, roleCert(alice, realm, frank.user, parsec.RoleNone, at))
		}, want: protocol.StatusOK, check: hasRole(frank, parsec.RoleNone)},
	})
}

func TestRealmSelfPromote(t *testing.T) {
	w := newWorld(t, realmUsers)
	alice, bob, carol, erin, xena := w.user("alice"), w.user("bob"), w.user("carol"), w.user("erin"), w.user("xena")
	realm := w.newRealm(t, "alice:owner bob:manager carol:contributor xena:contributor")
	unknown := parsec.NewVlobID()

	promote := func(m *member) func(*testing.T, parsec.DateTime) error {
		return func(t *testing.T, at parsec.DateTime) error {
			return w.realmSelfPromote(t, m, roleCert(m, realm, m.user, parsec.RoleOwner, at))
		}
	}
	w.runRealmCases(t, "Acme", realm, []realmCase{
		{name: "an owner is active", run: promote(bob), want: protocol.StatusActiveOwnerAlreadyExists},
		{name: "below an active manager, once the owner is revoked", run: func(t *testing.T, at parsec.DateTime) error {
			wantStatus(t, w.revoke(t, bob, revokeCert(bob, alice.user, at)), protocol.StatusAuthorNotAllowed) // bob is no Administrator
			wantStatus(t, w.updateProfile(t, alice, updateCert(alice, erin.user, parsec.ProfileAdmin, w.tick())), protocol.StatusOK)
			wantStatus(t, w.revoke(t, erin, revokeCert(erin, alice.user, w.tick())), protocol.StatusOK)
			return promote(carol)(t, w.tick())
		}, want: protocol.StatusAuthorNotAllowed},
		{name: "External user", run: promote(xena), want: protocol.StatusAuthorIsOutsider},
		{name: "non-member", run: promote(erin), want: protocol.StatusAuthorNotAllowed},
		{name: "promoting another member", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmSelfPromote(t, bob, roleCert(bob, realm, carol.user, parsec.RoleOwner, at))
		}, want: protocol.StatusInvalidCertificate},
		{name: "to another role", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmSelfPromote(t, carol, roleCert(carol, realm, carol.user, parsec.RoleManager, at))
		}, want: protocol.StatusInvalidCertificate},
		{name: "unknown realm", realm: unknown, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmSelfPromote(t, bob, roleCert(bob, unknown, bob.user, parsec.RoleOwner, at))
		}, want: protocol.StatusRealmNotFound},
		{name: "stale timestamp", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmSelfPromote(t, bob, roleCert(bob, realm, bob.user, parsec.RoleOwner, w.lastTimestamp(t, "Acme", metastore.CommonTopic)))
		}, want: protocol.StatusRequireGreaterTimestamp},
		{name: "the highest remaining member", run: promote(bob), want: protocol.StatusOK, check: func(t *testing.T) {
			if got := w.roleOf(t, bob, realm); got != parsec.RoleOwner {
				t.Errorf("bob is %q, want OWNER", got)
			}
		}},
		{name: "again", run: promote(bob), want: protocol.StatusActiveOwnerAlreadyExists},
		{name: "another member after the promotion", run: promote(carol), want: protocol.StatusActiveOwnerAlreadyExists},
	})
}

func TestRealmRename(t *testing.T) {
	w := newWorld(t, realmUsers)
	alice, bob, erin := w.user("alice"), w.user("bob"), w.user("erin")
	realm := w.newRealm(t, "alice:owner bob:manager")
	keyless := w.keylessRealm(t, alice)
	unknown := parsec.NewVlobID()

	rename := func(m *member, keyIndex uint64, initial bool) func(*testing.T, parsec.DateTime) error {
		return func(t *testing.T, at parsec.DateTime) error {
			return w.realmRename(t, m, nameCert(m, realm, keyIndex, at), initial)
		}
	}
	named := func(t *testing.T) {
		if !w.storedRealm(t, "Acme", realm).Named {
			t.Error("the realm has no name after its rename")
		}
	}
	w.runRealmCases(t, "Acme", realm, []realmCase{
		{name: "initial name", run: rename(alice, 1, true), want: protocol.StatusOK, check: named},
		{name: "initial name again", run: rename(alice, 1, true), want: protocol.StatusInitialNameAlreadyExists},
		{name: "rename", run: rename(alice, 1, false), want: protocol.StatusOK, check: named},
		{name: "manager", run: rename(bob, 1, false), want: protocol.StatusAuthorNotAllowed},
		{name: "non-member", run: rename(erin, 1, false), want: protocol.StatusAuthorNotAllowed},
		{name: "key not rotated yet", run: rename(alice, 2, false), want: protocol.StatusBadKeyIndex},
		{name: "realm without a key yet", realm: keyless, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmRename(t, alice, nameCert(alice, keyless, 1, at), true)
		}, want: protocol.StatusBadKeyIndex},
		{name: "unknown realm", realm: unknown, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmRename(t, alice, nameCert(alice, unknown, 1, at), false)
		}, want: protocol.StatusRealmNotFound},
		{name: "stale timestamp", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmRename(t, alice, nameCert(alice, realm, 1, w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm))), false)
		}, want: protocol.StatusRequireGreaterTimestamp},
		{name: "another kind of certificate", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmRename(t, alice, rotationCert(alice, realm, 2, at), false)
		}, want: protocol.StatusInvalidCertificate},
		{name: "rotate", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmRotate(t, alice, rotationCert(alice, realm, 2, at), map[parsec.UserID][]byte{alice.user: []byte("a"), bob.user: []byte("b")}, []byte("bundle 2"))
		}, want: protocol.StatusOK},
		{name: "with an older key", run: rename(alice, 1, false), want: protocol.StatusOK},
		{name: "with the new key", run: rename(alice, 2, false), want: protocol.StatusOK},
		{name: "with a key still to come", run: rename(alice, 3, false), want: protocol.StatusBadKeyIndex},
	})
}

func TestRealmRotateKey(t *testing.T) {
	w := newWorld(t, realmUsers)
	alice, bob, carol := w.user("alice"), w.user("bob"), w.user("carol")
	realm := w.keylessRealm(t, alice)
	unknown := parsec.NewVlobID()

	access := func(ms ...*member) map[parsec.UserID][]byte {
		out := map[parsec.UserID][]byte{}
		for _, m := range ms {
			out[m.user] = []byte("access of " + m.email)
		}
		return out
	}
	rotate := func(m *member, keyIndex uint64, participants ...*member) func(*testing.T, parsec.DateTime) error {
		return func(t *testing.T, at parsec.DateTime) error {
			return w.realmRotate(t, m, rotationCert(m, realm, keyIndex, at), access(participants...), fmt.Appendf(nil, "bundle %d", keyIndex))
		}
	}
	// rotated checks the realm's last key and what its participants get.
	rotated := func(keyIndex uint64, participants ...*member) func(*testing.T) {
		return func(t *testing.T) {
			if got := w.storedRealm(t, "Acme", realm).KeyIndex; got != keyIndex {
				t.Errorf("the realm's last key is %d, want %d", got, keyIndex)
			}
			for _, m := range participants {
				rep, err := w.realmKeysBundle(t, m, realm, keyIndex)
				wantStatus(t, err, protocol.StatusOK)
				want := protocol.RealmGetKeysBundleRep{KeysBundleAccess: []byte("access of " + m.email), KeysBundle: fmt.Appendf(nil, "bundle %d", keyIndex)}
				if diff := cmp.Diff(want, rep); diff != "" {
					t.Errorf("keys bundle of %s (-want +got):\n%s", m.email, diff)
				}
			}
		}
	}
	w.runRealmCases(t, "Acme", realm, []realmCase{
		{name: "first key", run: rotate(alice, 1, alice), want: protocol.StatusOK, check: rotated(1, alice)},
		{name: "share", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmShare(t, alice, roleCert(alice, realm, bob.user, parsec.RoleManager, at), []byte("bob's access to key 1"), 1)
		}, want: protocol.StatusOK},
		{name: "a member missing", run: rotate(alice, 2, alice), want: protocol.StatusParticipantMismatch},
		{name: "a non-member", run: rotate(alice, 2, alice, bob, carol), want: protocol.StatusParticipantMismatch},
		{name: "a member replaced by a non-member", run: rotate(alice, 2, alice, carol), want: protocol.StatusParticipantMismatch},
		{name: "a gap", run: rotate(alice, 3, alice, bob), want: protocol.StatusBadKeyIndex},
		{name: "the same key index", run: rotate(alice, 1, alice, bob), want: protocol.StatusBadKeyIndex},
		{name: "manager", run: rotate(bob, 2, alice, bob), want: protocol.StatusAuthorNotAllowed},
		{name: "unknown realm", realm: unknown, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmRotate(t, alice, rotationCert(alice, unknown, 1, at), access(alice), []byte("bundle"))
		}, want: protocol.StatusRealmNotFound},
		{name: "no bundle", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmRotate(t, alice, rotationCert(alice, realm, 2, at), access(alice, bob), nil)
		}, want: protocol.StatusBadRequest},
		{name: "an empty access", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmRotate(t, alice, rotationCert(alice, realm, 2, at), map[parsec.UserID][]byte{alice.user: []byte("a"), bob.user: nil}, []byte("bundle"))
		}, want: protocol.StatusBadRequest},
		{name: "stale timestamp", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmRotate(t, alice, rotationCert(alice, realm, 2, w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm))), access(alice, bob), []byte("bundle"))
		}, want: protocol.StatusRequireGreaterTimestamp},
		{name: "another kind of certificate", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmRotate(t, alice, nameCert(alice, realm, 1, at), access(alice, bob), []byte("bundle"))
		}, want: protocol.StatusInvalidCertificate},
		{name: "second key", run: rotate(alice, 2, alice, bob), want: protocol.StatusOK, check: rotated(2, alice, bob)},
		{name: "unshare", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmUnshare(t, alice, roleCert(alice, realm, bob.user, parsec.RoleNone, at))
		}, want: protocol.StatusOK},
		{name: "the removed member still listed", run: rotate(alice, 3, alice, bob), want: protocol.StatusParticipantMismatch},
		{name: "third key, without the removed member", run: rotate(alice, 3, alice), want: protocol.StatusOK, check: rotated(3, alice)},
	})
}

func TestRealmGetKeysBundle(t *testing.T) {
	w := newWorld(t, realmUsers)
	alice, bob, carol, erin := w.user("alice"), w.user("bob"), w.user("carol"), w.user("erin")
	realm := w.newRealm(t, "alice:owner")
	w.share(t, alice, realm, bob, parsec.RoleReader)
	w.rotate(t, alice, realm)
	w.share(t, alice, realm, carol, parsec.RoleReader)
	rotation := func(m *member, k uint64) string { return fmt.Sprintf("access of %s to key %d", m.user, k) }
	shared := func(m *member) string { return "access of " + m.email }

	tests := []struct {
		name     string
		caller   *member
		realm    parsec.VlobID
		keyIndex uint64
		want     protocol.Status
		access   string
		bundle   string
	}{
		{"owner, first key", alice, realm, 1, protocol.StatusOK, rotation(alice, 1), "bundle 1"},
		{"owner, second key", alice, realm, 2, protocol.StatusOK, rotation(alice, 2), "bundle 2"},
		{"shared at the first key", bob, realm, 1, protocol.StatusOK, shared(bob), "bundle 1"},
		{"shared at the first key, second key", bob, realm, 2, protocol.StatusOK, rotation(bob, 2), "bundle 2"},
		{"shared at the second key", carol, realm, 2, protocol.StatusOK, shared(carol), "bundle 2"},
		{"shared after the first key", carol, realm, 1, protocol.StatusAccessNotAvailableForAuthor, "", ""},
		{"next key", alice, realm, 3, protocol.StatusBadKeyIndex, "", ""},
		{"key 0", alice, realm, 0, protocol.StatusBadKeyIndex, "", ""},
		{"non-member", erin, realm, 1, protocol.StatusAuthorNotAllowed, "", ""},
		{"unknown realm", alice, parsec.NewVlobID(), 1, protocol.StatusRealmNotFound, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := w.realmKeysBundle(t, tc.caller, tc.realm, tc.keyIndex)
			wantStatus(t, err, tc.want)
			if tc.want == protocol.StatusBadKeyIndex {
				if got, want := statusDetail(t, err).LastCertificateTimestamp, w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm)); got != want {
					t.Errorf("last_certificate_timestamp = %v, want %v", got, want)
				}
			}
			if tc.want != protocol.StatusOK {
				return
			}
			want := protocol.RealmGetKeysBundleRep{KeysBundleAccess: []byte(tc.access), KeysBundle: []byte(tc.bundle)}
			if diff := cmp.Diff(want, rep); diff != "" {
				t.Errorf("keys bundle (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("unshared member", func(t *testing.T) {
		wantStatus(t, w.realmUnshare(t, alice, roleCert(alice, realm, bob.user, parsec.RoleNone, w.tick())), protocol.StatusOK)
		_, err := w.realmKeysBundle(t, bob, realm, 1)
		wantStatus(t, err, protocol.StatusAuthorNotAllowed)
	})
}

func TestRealmUpdateArchiving(t *testing.T) {
	w := newWorld(t, realmUsers)
	alice, bob, carol, erin := w.user("alice"), w.user("bob"), w.user("carol"), w.user("erin")
	realm := w.newRealm(t, "alice:owner bob:manager")
	unknown := parsec.NewVlobID()
	period := time.Duration(DefaultOrganizationConfig().MinimumArchivingPeriod) * time.Second

	archive := func(m *member, configuration string, after time.Duration) func(*testing.T, parsec.DateTime) error {
		return func(t *testing.T, at parsec.DateTime) error {
			var deletion parsec.DateTime
			if configuration == certif.ArchivingDeletionPlanned {
				deletion = at.Add(after)
			}
			return w.realmArchive(t, m, archivingCert(m, realm, configuration, deletion, at))
		}
	}
	is := func(configuration string, readOnly bool) func(*testing.T) {
		return func(t *testing.T) {
			r := w.storedRealm(t, "Acme", realm)
			if r.Archiving != configuration || r.ReadOnly() != readOnly {
				t.Errorf("realm %s (read-only %v), want %s (read-only %v)", r.Archiving, r.ReadOnly(), configuration, readOnly)
			}
			if configuration != certif.ArchivingDeletionPlanned && r.DeletionDate != 0 {
				t.Errorf("deletion date %v for configuration %s", r.DeletionDate, configuration)
			}
		}
	}
	var planned parsec.DateTime
	w.runRealmCases(t, "Acme", realm, []realmCase{
		{name: "archive", run: archive(alice, certif.ArchivingArchived, 0), want: protocol.StatusOK, check: is(certif.ArchivingArchived, true)},
		{name: "same configuration again", run: archive(alice, certif.ArchivingArchived, 0), want: protocol.StatusOK, check: is(certif.ArchivingArchived, true)},
		// Archiving stops writes, not the management of the workspace.
		{name: "an archived realm can be shared", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmShare(t, alice, roleCert(alice, realm, carol.user, parsec.RoleReader, at), []byte("access"), 1)
		}, want: protocol.StatusOK},
		{name: "an archived realm can be renamed", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmRename(t, alice, nameCert(alice, realm, 1, at), false)
		}, want: protocol.StatusOK},
		{name: "an archived realm's key can be rotated", run: func(t *testing.T, at parsec.DateTime) error {
			access := map[parsec.UserID][]byte{alice.user: []byte("a"), bob.user: []byte("b"), carol.user: []byte("c")}
			return w.realmRotate(t, alice, rotationCert(alice, realm, 2, at), access, []byte("bundle 2"))
		}, want: protocol.StatusOK},
		{name: "deletion planned too soon", run: archive(alice, certif.ArchivingDeletionPlanned, period-time.Microsecond), want: protocol.StatusArchivingPeriodTooShort},
		{name: "deletion planned at the minimum period", run: func(t *testing.T, at parsec.DateTime) error {
			planned = at.Add(period)
			return archive(alice, certif.ArchivingDeletionPlanned, period)(t, at)
		}, want: protocol.StatusOK, check: func(t *testing.T) {
			is(certif.ArchivingDeletionPlanned, true)(t)
			if got := w.storedRealm(t, "Acme", realm).DeletionDate; got != planned {
				t.Errorf("deletion date %v, want %v", got, planned)
			}
		}},
		{name: "manager", run: archive(bob, certif.ArchivingAvailable, 0), want: protocol.StatusAuthorNotAllowed},
		{name: "reader", run: archive(carol, certif.ArchivingAvailable, 0), want: protocol.StatusAuthorNotAllowed},
		{name: "non-member", run: archive(erin, certif.ArchivingAvailable, 0), want: protocol.StatusAuthorNotAllowed},
		{name: "unknown realm", realm: unknown, run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmArchive(t, alice, archivingCert(alice, unknown, certif.ArchivingArchived, 0, at))
		}, want: protocol.StatusRealmNotFound},
		{name: "stale timestamp", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmArchive(t, alice, archivingCert(alice, realm, certif.ArchivingAvailable, 0, w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm))))
		}, want: protocol.StatusRequireGreaterTimestamp},
		{name: "another kind of certificate", run: func(t *testing.T, at parsec.DateTime) error {
			return w.realmArchive(t, alice, nameCert(alice, realm, 1, at))
		}, want: protocol.StatusInvalidCertificate},
		{name: "available again", run: archive(alice, certif.ArchivingAvailable, 0), want: protocol.StatusOK, check: is(certif.ArchivingAvailable, false)},
	})

	t.Run("the period is the organization's", func(t *testing.T) {
		w.admin(t, http.MethodPatch, orgPath("Acme"), map[string]any{"minimum_archiving_period": 60}, http.StatusOK, nil)
		at := w.tick()
		wantStatus(t, w.realmArchive(t, alice, archivingCert(alice, realm, certif.ArchivingDeletionPlanned, at.Add(59*time.Second), at)), protocol.StatusArchivingPeriodTooShort)
		at = w.tick()
		wantStatus(t, w.realmArchive(t, alice, archivingCert(alice, realm, certif.ArchivingDeletionPlanned, at.Add(time.Minute), at)), protocol.StatusOK)
	})
}

// certificate_get gives a member the topics of its realms, and a former member the topic
// of a realm up to its removal.
func TestCertificateGetRealms(t *testing.T) {
	w := newWorld(t, realmUsers)
	alice, bob, carol, erin := w.user("alice"), w.user("bob"), w.user("carol"), w.user("erin")
	r1, r2 := parsec.NewVlobID(), parsec.NewVlobID()
	var c1, c2 [][]byte // the certificates of each realm, in order
	do := func(list *[][]byte, cert []byte, err error) {
		t.Helper()
		wantStatus(t, err, protocol.StatusOK)
		*list = append(*list, cert)
	}
	var cert []byte
	cert = roleCert(alice, r1, alice.user, parsec.RoleOwner, w.tick())
	do(&c1, cert, w.realmCreate(t, alice, cert))
	cert = rotationCert(alice, r1, 1, w.tick())
	do(&c1, cert, w.realmRotate(t, alice, cert, map[parsec.UserID][]byte{alice.user: []byte("a")}, []byte("bundle")))
	cert = nameCert(alice, r1, 1, w.tick())
	do(&c1, cert, w.realmRename(t, alice, cert, true))
	cert = roleCert(alice, r1, bob.user, parsec.RoleReader, w.tick())
	do(&c1, cert, w.realmShare(t, alice, cert, []byte("b"), 1))
	cert = roleCert(alice, r1, carol.user, parsec.RoleContributor, w.tick())
	do(&c1, cert, w.realmShare(t, alice, cert, []byte("c"), 1))

	cert = roleCert(alice, r2, alice.user, parsec.RoleOwner, w.tick())
	do(&c2, cert, w.realmCreate(t, alice, cert))
	cert = rotationCert(alice, r2, 1, w.tick())
	do(&c2, cert, w.realmRotate(t, alice, cert, map[parsec.UserID][]byte{alice.user: []byte("a")}, []byte("bundle")))
	cert = roleCert(alice, r2, carol.user, parsec.RoleReader, w.tick())
	do(&c2, cert, w.realmShare(t, alice, cert, []byte("c"), 1))

	unsharedAt := w.tick()
	cert = roleCert(alice, r1, bob.user, parsec.RoleNone, unsharedAt)
	do(&c1, cert, w.realmUnshare(t, alice, cert))
	bobsPart := len(c1)
	cert = nameCert(alice, r1, 1, w.tick())
	do(&c1, cert, w.realmRename(t, alice, cert, false))
	renamedAt := w.lastTimestamp(t, "Acme", metastore.RealmTopic(r1))
	cert = archivingCert(alice, r1, certif.ArchivingArchived, 0, w.tick())
	do(&c1, cert, w.realmArchive(t, alice, cert))

	get := func(t *testing.T, m *member, after map[parsec.VlobID]parsec.DateTime) protocol.CertificateGetRep {
		t.Helper()
		var rep protocol.CertificateGetRep
		wantStatus(t, w.call(t, m, protocol.CmdCertificateGet, protocol.CertificateGetReq{RealmAfter: after}, &rep), protocol.StatusOK)
		return rep
	}
	tests := []struct {
		name   string
		caller *member
		after  map[parsec.VlobID]parsec.DateTime
		want   map[parsec.VlobID][][]byte
	}{
		{"owner of both", alice, nil, map[parsec.VlobID][][]byte{r1: c1, r2: c2}},
		{"member of both", carol, nil, map[parsec.VlobID][][]byte{r1: c1, r2: c2}},
		{"removed member", bob, nil, map[parsec.VlobID][][]byte{r1: c1[:bobsPart]}},
		{"never a member", erin, nil, map[parsec.VlobID][][]byte{}},
		{"after the rename", alice, map[parsec.VlobID]parsec.DateTime{r1: renamedAt}, map[parsec.VlobID][][]byte{r1: c1[len(c1)-1:], r2: c2}},
		{"up to date", alice, map[parsec.VlobID]parsec.DateTime{r1: w.lastTimestamp(t, "Acme", metastore.RealmTopic(r1)), r2: w.lastTimestamp(t, "Acme", metastore.RealmTopic(r2))}, map[parsec.VlobID][][]byte{}},
		{"removed member, after its removal", bob, map[parsec.VlobID]parsec.DateTime{r1: unsharedAt}, map[parsec.VlobID][][]byte{}},
		{"removed member, before its removal", bob, map[parsec.VlobID]parsec.DateTime{r1: unsharedAt - 1}, map[parsec.VlobID][][]byte{r1: c1[bobsPart-1 : bobsPart]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := get(t, tc.caller, tc.after)
			if diff := cmp.Diff(tc.want, rep.Realms); diff != "" {
				t.Errorf("realm certificates (-want +got):\n%s", diff)
			}
		})
	}

	// What a member receives is a chain its client accepts.
	t.Run("the chains validate", func(t *testing.T) {
		for _, m := range []*member{alice, bob, carol} {
			rep := get(t, m, nil)
			mem := certif.NewMemory(w.kit.root.VerifyKey(), false)
			batch := rep.Common
			for _, certs := range rep.Realms {
				batch = append(batch, certs...)
			}
			if _, err := mem.AddBatch(batch); err != nil {
				t.Fatalf("the certificates served to %s do not validate: %v", m.email, err)
			}
		}
	})

	t.Run("shared again", func(t *testing.T) {
		cert := roleCert(alice, r1, bob.user, parsec.RoleReader, w.tick())
		do(&c1, cert, w.realmShare(t, alice, cert, []byte("b"), 1))
		rep := get(t, bob, nil)
		if diff := cmp.Diff(map[parsec.VlobID][][]byte{r1: c1}, rep.Realms); diff != "" {
			t.Errorf("realm certificates of a member shared again (-want +got):\n%s", diff)
		}
	})
}

// nextRealmEvent reads the next frame, which must be a realm certificate event for realm at.
func (s *eventStream) nextRealmEvent(t *testing.T, realm parsec.VlobID, at parsec.DateTime) {
	t.Helper()
	_, ev := s.nextEvent(t, protocol.EventRealmCertificate)
	var data protocol.EventCertificateData
	if err := protocol.DecodeEvent(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.RealmID == nil || *data.RealmID != realm || data.Timestamp != at {
		t.Fatalf("realm certificate event %+v, want realm %s at %v", data, realm, at)
	}
}

// Realm events reach the realm's current members, membership followed live, and the user a
// share or unshare is about; nobody else.
func TestRealmEvents(t *testing.T) {
	w := newWorld(t, realmUsers)
	alice, bob, carol := w.user("alice"), w.user("bob"), w.user("carol")
	streams := map[*member]*eventStream{}
	for _, m := range []*member{alice, bob, carol} {
		streams[m] = w.openEvents(t, m, "")
		streams[m].wantConfig(t, defaultConfig)
	}
	realm := parsec.NewVlobID()
	// each runs a realm command at a new time; the listed members get its event.
	each := func(name string, to []*member, run func(at parsec.DateTime) error) {
		t.Helper()
		at := w.tick()
		if err := run(at); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, m := range to {
			streams[m].nextRealmEvent(t, realm, at)
		}
	}
	each("create", []*member{alice}, func(at parsec.DateTime) error {
		return w.realmCreate(t, alice, roleCert(alice, realm, alice.user, parsec.RoleOwner, at))
	})
	each("rotate", []*member{alice}, func(at parsec.DateTime) error {
		return w.realmRotate(t, alice, rotationCert(alice, realm, 1, at), map[parsec.UserID][]byte{alice.user: []byte("a")}, []byte("bundle"))
	})
	each("share with bob", []*member{alice, bob}, func(at parsec.DateTime) error {
		return w.realmShare(t, alice, roleCert(alice, realm, bob.user, parsec.RoleContributor, at), []byte("b"), 1)
	})
	each("rename", []*member{alice, bob}, func(at parsec.DateTime) error {
		return w.realmRename(t, alice, nameCert(alice, realm, 1, at), true)
	})
	each("unshare bob", []*member{alice, bob}, func(at parsec.DateTime) error {
		return w.realmUnshare(t, alice, roleCert(alice, realm, bob.user, parsec.RoleNone, at))
	})
	each("archive", []*member{alice}, func(at parsec.DateTime) error {
		return w.realmArchive(t, alice, archivingCert(alice, realm, certif.ArchivingArchived, 0, at))
	})
	// A common certificate reaches everyone: it is the next event of bob, who no longer
	// gets the realm's, and the first of carol, who never did.
	if err := w.updateProfile(t, alice, updateCert(alice, carol.user, parsec.ProfileAdmin, w.tick())); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{alice, bob, carol} {
		streams[m].nextEvent(t, protocol.EventCommonCertificate)
	}

	// A server that does not know the realm's members yet (after a restart) loads them
	// before publishing.
	w.srv.realms.Clear()
	if err := w.srv.loadRealmView(t.Context(), "Acme", realm); err != nil {
		t.Fatal(err)
	}
	at := w.clock.Now()
	w.srv.publish("Acme", protocol.EventRealmCertificate, protocol.EventCertificateData{Timestamp: at, RealmID: &realm}, events.Audience{Realm: &realm})
	streams[alice].nextRealmEvent(t, realm, at)
	if !w.srv.inRealm("Acme", realm, alice.user) || w.srv.inRealm("Acme", realm, bob.user) {
		t.Error("the members loaded from the store are not alice alone")
	}
	if err := w.updateProfile(t, alice, updateCert(alice, carol.user, parsec.ProfileStandard, w.tick())); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{alice, bob, carol} {
		streams[m].nextEvent(t, protocol.EventCommonCertificate)
	}
}

// The members view of a realm keeps the state of its last certificate, whatever the order in
// which concurrent handlers record theirs.
func TestRealmViewKeepsTheLatest(t *testing.T) {
	w := newWorld(t, "")
	realm := parsec.NewVlobID()
	a, b := parsec.NewUserID(), parsec.NewUserID()
	w.srv.setRealmView("Acme", realm, 20, []parsec.UserID{a, b})
	w.srv.setRealmView("Acme", realm, 10, []parsec.UserID{a})
	if !w.srv.inRealm("Acme", realm, b) {
		t.Error("an older view replaced a newer one")
	}
	w.srv.setRealmView("Acme", realm, 30, []parsec.UserID{a})
	if w.srv.inRealm("Acme", realm, b) || !w.srv.inRealm("Acme", realm, a) {
		t.Error("a newer view did not replace an older one")
	}
	if w.srv.inRealm("Other", realm, a) {
		t.Error("the view of a realm leaks to another organization")
	}
}

// The handlers check the realm rules before the engine; should the engine still refuse a
// certificate, its reason decides the status.
func TestRealmStatus(t *testing.T) {
	w := newWorld(t, realmUsers)
	realm := w.newRealm(t, "alice:owner")
	last := w.lastTimestamp(t, "Acme", metastore.RealmTopic(realm))
	failure := errors.New("disk on fire")
	tests := []struct {
		rule   error
		want   protocol.Status
		detail protocol.ErrorDetail
	}{
		{certif.ErrTimestampNotIncreasing, protocol.StatusRequireGreaterTimestamp, protocol.ErrorDetail{StrictlyGreaterThan: last}},
		{certif.ErrAuthorNoRole, protocol.StatusAuthorNotAllowed, protocol.ErrorDetail{}},
		{certif.ErrRoleNotAllowed, protocol.StatusAuthorNotAllowed, protocol.ErrorDetail{}},
		{certif.ErrNotOwner, protocol.StatusAuthorNotAllowed, protocol.ErrorDetail{}},
		{certif.ErrSelfPromotion, protocol.StatusAuthorNotAllowed, protocol.ErrorDetail{}},
		{certif.ErrOutsiderRole, protocol.StatusRoleIncompatibleWithOutsider, protocol.ErrorDetail{}},
		{certif.ErrUserRevoked, protocol.StatusRecipientRevoked, protocol.ErrorDetail{}},
		{certif.ErrUnknownUser, protocol.StatusRecipientNotFound, protocol.ErrorDetail{}},
		{certif.ErrUnknownRealm, protocol.StatusRealmNotFound, protocol.ErrorDetail{}},
		{certif.ErrKeyIndex, protocol.StatusBadKeyIndex, protocol.ErrorDetail{LastCertificateTimestamp: last}},
		{certif.ErrBadSignature, protocol.StatusInvalidCertificate, protocol.ErrorDetail{}},
		{certif.ErrRealmFirstNotSelfOwner, protocol.StatusInvalidCertificate, protocol.ErrorDetail{}},
		{certif.ErrRoleUnchanged, protocol.StatusInvalidCertificate, protocol.ErrorDetail{}},
	}
	for _, tc := range tests {
		t.Run(tc.rule.Error(), func(t *testing.T) {
			rejection := parsec.Errorf(parsec.Invalid, "invalid realm certificate: %w", tc.rule)
			w.view(t, func(tx metastore.Tx) error {
				err := realmStatus(tx, "Acme", realm, true, protocol.StatusRoleIncompatibleWithOutsider, rejection)
				var se *protocol.StatusError
				if !errors.As(err, &se) {
					t.Fatalf("%v is not a status", err)
				}
				if se.Status != tc.want || se.Detail != tc.detail {
					t.Errorf("status %q with %+v, want %q with %+v", se.Status, se.Detail, tc.want, tc.detail)
				}
				return nil
			})
		})
	}
	t.Run("a failing store is no rejection", func(t *testing.T) {
		w.view(t, func(tx metastore.Tx) error {
			if err := realmStatus(tx, "Acme", realm, true, protocol.StatusAuthorNotAllowed, failure); !errors.Is(err, failure) {
				t.Errorf("got %v, want the store's error", err)
			}
			return nil
		})
	})
}

// lastVlobStore stands in for a realm's vlob writes: its transactions report the last vlob
// of every realm at the time the test sets.
type lastVlobStore struct {
	metastore.Store
	mu sync.Mutex
	at parsec.DateTime
}

func (s *lastVlobStore) set(at parsec.DateTime) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = at
}

func (s *lastVlobStore) Update(ctx context.Context, fn func(metastore.Tx) error) error {
	return s.Store.Update(ctx, func(tx metastore.Tx) error { return fn(lastVlobTx{tx, s}) })
}

func (s *lastVlobStore) View(ctx context.Context, fn func(metastore.Tx) error) error {
	return s.Store.View(ctx, func(tx metastore.Tx) error { return fn(lastVlobTx{tx, s}) })
}

type lastVlobTx struct {
	metastore.Tx
	s *lastVlobStore
}

func (tx lastVlobTx) LastVlobTimestamp(parsec.OrganizationID, parsec.VlobID) (parsec.DateTime, error) {
	tx.s.mu.Lock()
	defer tx.s.mu.Unlock()
	return tx.s.at, nil
}

// Role certificates come after the realm's last vlob: a client checks a vlob's author against
// its role at the vlob's time, which a role change dated before would rewrite. Other realm
// certificates do not depend on vlobs.
func TestRealmRolesAfterVlobs(t *testing.T) {
	var vlobs *lastVlobStore
	w := newWorld(t, "alice:admin bob:member", func(c *Config) {
		vlobs = &lastVlobStore{Store: c.Store}
		c.Store = vlobs
	})
	alice, bob := w.user("alice"), w.user("bob")
	realm := w.newRealm(t, "alice:owner")

	share := func(t *testing.T, at parsec.DateTime) error {
		return w.realmShare(t, alice, roleCert(alice, realm, bob.user, parsec.RoleReader, at), []byte("access"), 1)
	}
	var written parsec.DateTime
	w.runRealmCases(t, "Acme", realm, []realmCase{
		{name: "share at a vlob's time", run: func(t *testing.T, at parsec.DateTime) error {
			written = at
			vlobs.set(at)
			return share(t, at)
		}, want: protocol.StatusRequireGreaterTimestamp, greaterThan: func() parsec.DateTime { return written }},
		{name: "rename at a vlob's time", run: func(t *testing.T, at parsec.DateTime) error {
			vlobs.set(at)
			return w.realmRename(t, alice, nameCert(alice, realm, 1, at), true)
		}, want: protocol.StatusOK},
		{name: "share after the vlob", run: share, want: protocol.StatusOK},
		{name: "unshare older than a vlob", run: func(t *testing.T, at parsec.DateTime) error {
			written = at.Add(time.Second)
			vlobs.set(written)
			return w.realmUnshare(t, alice, roleCert(alice, realm, bob.user, parsec.RoleNone, at))
		}, want: protocol.StatusRequireGreaterTimestamp, greaterThan: func() parsec.DateTime { return written }},
	})
}

// A certificate signs the view of the history its author had validated: the server, which
// holds the whole history, refuses one whose view it does not share (a member could
// otherwise store a certificate that every honest client refuses), and accepts the true one.
func TestCertificateViewsAreChecked(t *testing.T) {
	w := newWorld(t, "alice:admin bob:member")
	alice := w.users["alice"]
	var stored []metastore.Certificate
	if err := w.store.View(t.Context(), func(tx metastore.Tx) (err error) {
		stored, err = tx.Certificates(w.org, metastore.CommonTopic, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	raws := make([][]byte, len(stored))
	for i, c := range stored {
		raws[i] = c.Data
	}
	last := stored[len(stored)-1].Timestamp
	point, err := certif.PointAt(raws, last)
	if err != nil || point.IsZero() {
		t.Fatalf("PointAt = %+v, %v", point, err)
	}
	create := func(view certif.View) error {
		realm := parsec.NewVlobID()
		cert := certif.SignSeen(alice.key, &certif.RealmRoleCertificate{Author: alice.device, Timestamp: w.tick(), RealmID: realm,
			UserID: alice.user, Role: parsec.RoleOwner}, view)
		return w.realmCreate(t, alice, cert)
	}
	forged := point
	forged.Digest[3] ^= 0x40
	for name, view := range map[string]certif.View{
		"another history":             {Common: forged},
		"a point with no certificate": {Common: certif.Point{Timestamp: last - 1, Digest: point.Digest}},
	} {
		if err := create(view); !protocol.IsStatus(err, protocol.StatusInvalidCertificate) || !strings.Contains(err.Error(), "another history of the common topic certificates") {
			t.Errorf("%s: %v, want an invalid certificate (fork)", name, err)
		}
	}
	if err := create(certif.View{Common: point}); err != nil {
		t.Errorf("the author's true view: %v", err)
	}
}
