package server

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// updateCert is a user update certificate signed by author's device.
func updateCert(author *member, user parsec.UserID, profile parsec.UserProfile, at parsec.DateTime) []byte {
	return certif.Sign(author.key, &certif.UserUpdateCertificate{Author: author.device, Timestamp: at, UserID: user, NewProfile: profile})
}

// revokeCert is a revoked user certificate signed by author's device.
func revokeCert(author *member, user parsec.UserID, at parsec.DateTime) []byte {
	return certif.Sign(author.key, &certif.RevokedUserCertificate{Author: author.device, Timestamp: at, UserID: user})
}

func (w *world) updateProfile(t *testing.T, caller *member, cert []byte) error {
	t.Helper()
	return w.call(t, caller, protocol.CmdUserUpdate, protocol.UserUpdateReq{UserUpdateCertificate: cert}, nil)
}

func (w *world) revoke(t *testing.T, caller *member, cert []byte) error {
	t.Helper()
	return w.call(t, caller, protocol.CmdUserRevoke, protocol.UserRevokeReq{RevokedUserCertificate: cert}, nil)
}

// newInvitation asks for an invitation of a new user, and returns the reply's status.
func (w *world) newInvitation(t *testing.T, caller *member, email string) error {
	t.Helper()
	var rep protocol.InviteNewRep
	err := w.call(t, caller, protocol.CmdInviteNewUser, protocol.InviteNewUserReq{ClaimerEmail: email}, &rep)
	if err == nil && rep.Token == (parsec.AccessToken{}) {
		t.Errorf("invite_new_user by %s: ok without a token", caller.email)
	}
	return err
}

// lookupUser reads a user's record.
func (w *world) lookupUser(t *testing.T, id parsec.UserID) (metastore.User, error) {
	t.Helper()
	var u metastore.User
	err := w.store.View(t.Context(), func(tx metastore.Tx) error {
		var err error
		u, err = tx.User(w.org, id)
		return err
	})
	return u, err
}

// storedUser reads the record of a user that exists.
func (w *world) storedUser(t *testing.T, id parsec.UserID) metastore.User {
	t.Helper()
	u, err := w.lookupUser(t, id)
	if err != nil {
		t.Fatalf("user %s: %v", id, err)
	}
	return u
}

// commonCertificates is what certificate_get gives m, from the start.
func (w *world) commonCertificates(t *testing.T, m *member) [][]byte {
	t.Helper()
	var rep protocol.CertificateGetRep
	wantStatus(t, w.call(t, m, protocol.CmdCertificateGet, protocol.CertificateGetReq{}, &rep), protocol.StatusOK)
	return rep.Common
}

// statusDetail returns the detail of a non-ok reply.
func statusDetail(t *testing.T, err error) protocol.ErrorDetail {
	t.Helper()
	var se *protocol.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("%v is not a status", err)
	}
	return se.Detail
}

func TestUserUpdate(t *testing.T) {
	w := newWorld(t, "alice:admin bob:member carol:member gone:revoked")
	alice, bob, carol, gone := w.user("alice"), w.user("bob"), w.user("carol"), w.user("gone")

	var history []metastore.ProfileChange
	var last parsec.DateTime // timestamp of the last certificate accepted
	// The cases run in order: the accepted changes are the state of the next ones.
	tests := []struct {
		name   string
		caller *member
		cert   func(at parsec.DateTime) []byte
		want   protocol.Status
	}{
		{"admin promotes a member", alice, func(at parsec.DateTime) []byte { return updateCert(alice, bob.user, parsec.ProfileAdmin, at) }, protocol.StatusOK},
		{"admin demotes him back", alice, func(at parsec.DateTime) []byte { return updateCert(alice, bob.user, parsec.ProfileStandard, at) }, protocol.StatusOK},
		{"member author", carol, func(at parsec.DateTime) []byte { return updateCert(carol, bob.user, parsec.ProfileAdmin, at) }, protocol.StatusAuthorNotAllowed},
		{"member promoting itself", carol, func(at parsec.DateTime) []byte { return updateCert(carol, carol.user, parsec.ProfileAdmin, at) }, protocol.StatusInvalidCertificate},
		{"self change", alice, func(at parsec.DateTime) []byte { return updateCert(alice, alice.user, parsec.ProfileStandard, at) }, protocol.StatusInvalidCertificate},
		{"unknown user", alice, func(at parsec.DateTime) []byte { return updateCert(alice, parsec.NewUserID(), parsec.ProfileAdmin, at) }, protocol.StatusUserNotFound},
		{"revoked target", alice, func(at parsec.DateTime) []byte { return updateCert(alice, gone.user, parsec.ProfileAdmin, at) }, protocol.StatusUserRevoked},
		{"same profile", alice, func(at parsec.DateTime) []byte { return updateCert(alice, bob.user, parsec.ProfileStandard, at) }, protocol.StatusUserNoChanges},
		{"stale timestamp", alice, func(parsec.DateTime) []byte { return updateCert(alice, bob.user, parsec.ProfileAdmin, last) }, protocol.StatusRequireGreaterTimestamp},
		{"signed by another device", bob, func(at parsec.DateTime) []byte { return updateCert(alice, carol.user, parsec.ProfileAdmin, at) }, protocol.StatusInvalidCertificate},
		{"another kind of certificate", alice, func(at parsec.DateTime) []byte { return revokeCert(alice, bob.user, at) }, protocol.StatusInvalidCertificate},
		{"far from the server's time", alice, func(at parsec.DateTime) []byte {
			return updateCert(alice, bob.user, parsec.ProfileAdmin, at.Add(time.Hour))
		}, protocol.StatusTimestampOutOfBallpark},
		{"garbage", alice, func(parsec.DateTime) []byte { return []byte("not a certificate") }, protocol.StatusInvalidCertificate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := w.tick()
			cert := tc.cert(at)
			before := w.storedUser(t, bob.user)
			err := w.updateProfile(t, tc.caller, cert)
			wantStatus(t, err, tc.want)
			after := w.storedUser(t, bob.user)
			if tc.want != protocol.StatusOK {
				if diff := cmp.Diff(before, after); diff != "" {
					t.Errorf("a refused change changed bob (-before +after):\n%s", diff)
				}
				if tc.want == protocol.StatusRequireGreaterTimestamp && statusDetail(t, err).StrictlyGreaterThan != last {
					t.Errorf("strictly_greater_than = %v, want the last certificate's %v", statusDetail(t, err).StrictlyGreaterThan, last)
				}
				return
			}
			last = at
			c, _ := certif.Decode(cert)
			p := c.(*certif.UserUpdateCertificate).NewProfile
			history = append(history, metastore.ProfileChange{On: at, By: alice.device, Profile: p})
			if after.Profile != p || after.InitialProfile != parsec.ProfileStandard {
				t.Errorf("bob's profile %s (initially %s), want %s (initially STANDARD)", after.Profile, after.InitialProfile, p)
			}
			if diff := cmp.Diff(history, after.ProfileHistory); diff != "" {
				t.Errorf("bob's profile history (-want +got):\n%s", diff)
			}
			for _, m := range []*member{alice, carol} {
				common := w.commonCertificates(t, m)
				if got := common[len(common)-1]; !cmp.Equal(got, cert) {
					t.Errorf("certificate_get for %s does not end with the accepted certificate", m.email)
				}
			}
		})
	}

	// A demoted Administrator loses its rights with the change, not at its next login.
	t.Run("demoted admin is refused at once", func(t *testing.T) {
		wantStatus(t, w.updateProfile(t, alice, updateCert(alice, carol.user, parsec.ProfileAdmin, w.tick())), protocol.StatusOK)
		wantStatus(t, w.newInvitation(t, carol, "dave@example.com"), protocol.StatusOK)
		wantStatus(t, w.updateProfile(t, carol, updateCert(carol, bob.user, parsec.ProfileAdmin, w.tick())), protocol.StatusOK)
		wantStatus(t, w.updateProfile(t, alice, updateCert(alice, carol.user, parsec.ProfileStandard, w.tick())), protocol.StatusOK)

		wantStatus(t, w.newInvitation(t, carol, "erin@example.com"), protocol.StatusAuthorNotAllowed)
		wantStatus(t, w.updateProfile(t, carol, updateCert(carol, bob.user, parsec.ProfileStandard, w.tick())), protocol.StatusAuthorNotAllowed)
		wantStatus(t, w.revoke(t, carol, revokeCert(carol, bob.user, w.tick())), protocol.StatusAuthorNotAllowed)
		wantStatus(t, w.call(t, carol, protocol.CmdListFrozenUsers, protocol.ListFrozenUsersReq{}, nil), protocol.StatusAuthorNotAllowed)
		// bob, promoted by carol while she was an Administrator, stays one.
		if p := w.storedUser(t, bob.user).Profile; p != parsec.ProfileAdmin {
			t.Errorf("bob is %s, want ADMIN", p)
		}
	})
}

func TestUserRevoke(t *testing.T) {
	w := newWorld(t, "alice:admin bob:member carol:member")
	alice, bob, carol := w.user("alice"), w.user("bob"), w.user("carol")

	// The email of an active user is taken.
	wantStatus(t, w.newInvitation(t, alice, bob.email), protocol.StatusClaimerEmailAlreadyTaken)

	var revokedOn parsec.DateTime
	tests := []struct {
		name   string
		caller *member
		cert   func(at parsec.DateTime) []byte
		want   protocol.Status
	}{
		{"member author", carol, func(at parsec.DateTime) []byte { return revokeCert(carol, bob.user, at) }, protocol.StatusAuthorNotAllowed},
		{"self", alice, func(at parsec.DateTime) []byte { return revokeCert(alice, alice.user, at) }, protocol.StatusInvalidCertificate},
		{"member revoking itself", bob, func(at parsec.DateTime) []byte { return revokeCert(bob, bob.user, at) }, protocol.StatusInvalidCertificate},
		{"unknown user", alice, func(at parsec.DateTime) []byte { return revokeCert(alice, parsec.NewUserID(), at) }, protocol.StatusUserNotFound},
		{"signed by another device", carol, func(at parsec.DateTime) []byte { return revokeCert(alice, bob.user, at) }, protocol.StatusInvalidCertificate},
		{"another kind of certificate", alice, func(at parsec.DateTime) []byte { return updateCert(alice, bob.user, parsec.ProfileAdmin, at) }, protocol.StatusInvalidCertificate},
		{"ok", alice, func(at parsec.DateTime) []byte { revokedOn = at; return revokeCert(alice, bob.user, at) }, protocol.StatusOK},
		{"twice", alice, func(at parsec.DateTime) []byte { return revokeCert(alice, bob.user, at) }, protocol.StatusUserAlreadyRevoked},
		{"stale timestamp", alice, func(parsec.DateTime) []byte { return revokeCert(alice, carol.user, revokedOn) }, protocol.StatusRequireGreaterTimestamp},
	}

	stream := w.openEvents(t, bob, "")
	stream.wantConfig(t, defaultConfig)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := w.revoke(t, tc.caller, tc.cert(w.tick()))
			wantStatus(t, err, tc.want)
			switch tc.want {
			case protocol.StatusUserAlreadyRevoked:
				if got := statusDetail(t, err).LastCertificateTimestamp; got != revokedOn {
					t.Errorf("last_certificate_timestamp = %v, want the revocation's %v", got, revokedOn)
				}
			case protocol.StatusRequireGreaterTimestamp:
				if got := statusDetail(t, err).StrictlyGreaterThan; got != revokedOn {
					t.Errorf("strictly_greater_than = %v, want the revocation's %v", got, revokedOn)
				}
			}
			if tc.want != protocol.StatusOK {
				for _, m := range []*member{alice, carol} {
					if u := w.storedUser(t, m.user); u.Revoked() {
						t.Errorf("%s revoked by a refused certificate", m.email)
					}
				}
			}
		})
	}

	t.Run("the revoked user is refused at once", func(t *testing.T) {
		u := w.storedUser(t, bob.user)
		if u.RevokedOn != revokedOn || u.RevokedBy == nil || *u.RevokedBy != alice.device {
			t.Errorf("bob revoked on %v by %v, want on %v by alice's device", u.RevokedOn, u.RevokedBy, revokedOn)
		}
		stream.wantEnd(t)
		body := encodeRequest(t, protocol.CmdPing, protocol.PingReq{Ping: "still there?"})
		wantCode(t, w.do(t, w.signedRequest(t, bob, body, w.clock.Now())), protocol.HTTPRevoked)
		wantCode(t, w.doStream(t, w.eventsRequest(t, "Acme", bob, w.clock.Now())), protocol.HTTPRevoked)
		// Others go on.
		wantStatus(t, w.call(t, carol, protocol.CmdPing, protocol.PingReq{}, nil), protocol.StatusOK)
	})

	t.Run("the email can be used again by a new user", func(t *testing.T) {
		wantStatus(t, w.newInvitation(t, alice, bob.email), protocol.StatusOK)
		newBob := w.createUser(t, alice, "bob", parsec.ProfileStandard)
		w.view(t, func(tx metastore.Tx) error {
			active, err := tx.ActiveUserByEmail("Acme", bob.email)
			if err != nil {
				return err
			}
			if active.ID != newBob.user {
				t.Errorf("the active user with bob's email is %s, want the new one %s", active.ID, newBob.user)
			}
			users, err := tx.Users("Acme")
			if err != nil {
				return err
			}
			var withEmail []string
			for _, u := range users {
				if u.Email == bob.email {
					withEmail = append(withEmail, u.ID.String()+map[bool]string{true: " revoked", false: " active"}[u.Revoked()])
				}
			}
			if want := []string{bob.user.String() + " revoked", newBob.user.String() + " active"}; !cmp.Equal(want, withEmail) {
				t.Errorf("users with bob's email: %v, want %v", withEmail, want)
			}
			return nil
		})
		wantStatus(t, w.call(t, newBob, protocol.CmdPing, protocol.PingReq{}, nil), protocol.StatusOK)
		wantCode(t, w.do(t, w.signedRequest(t, bob, encodeRequest(t, protocol.CmdPing, protocol.PingReq{}), w.clock.Now())), protocol.HTTPRevoked)
	})
}

func TestListFrozenUsers(t *testing.T) {
	w := newWorld(t, "alice:admin bob:member carol:external")
	alice, bob, carol := w.user("alice"), w.user("bob"), w.user("carol")
	freeze := func(t *testing.T, m *member, frozen bool) {
		t.Helper()
		w.admin(t, http.MethodPost, orgPath("Acme")+"/users/freeze", map[string]any{"frozen": frozen, "user_id": m.user.String()}, http.StatusOK, nil)
	}
	list := func(t *testing.T, m *member) ([]parsec.UserID, error) {
		t.Helper()
		var rep protocol.ListFrozenUsersRep
		err := w.call(t, m, protocol.CmdListFrozenUsers, protocol.ListFrozenUsersReq{}, &rep)
		return rep.FrozenUsers, err
	}

	steps := []struct {
		name   string
		change func(t *testing.T)
		want   []parsec.UserID
	}{
		{"nobody frozen", func(*testing.T) {}, []parsec.UserID{}},
		{"carol frozen", func(t *testing.T) { freeze(t, carol, true) }, []parsec.UserID{carol.user}},
		{"bob frozen too", func(t *testing.T) { freeze(t, bob, true) }, []parsec.UserID{bob.user, carol.user}},
		{"carol unfrozen", func(t *testing.T) { freeze(t, carol, false) }, []parsec.UserID{bob.user}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.change(t)
			got, err := list(t, alice)
			wantStatus(t, err, protocol.StatusOK)
			if diff := cmp.Diff(st.want, got); diff != "" {
				t.Errorf("frozen users (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("not an administrator", func(t *testing.T) {
		freeze(t, bob, false)
		for _, m := range []*member{bob, carol} {
			_, err := list(t, m)
			wantStatus(t, err, protocol.StatusAuthorNotAllowed)
		}
	})
}

// Profile changes to and from External are the server's business like any other (only the
// GUI and the CLI restrict them), and the flavour of the certificates follows the current
// profile.
func TestProfileChangesAndFlavours(t *testing.T) {
	w := newWorld(t, "alice:admin bob:member xena:external")
	alice, bob, xena := w.user("alice"), w.user("bob"), w.user("xena")
	root := w.kit.root.VerifyKey()
	full := [][]byte{alice.userCert, alice.deviceCert, bob.userCert, bob.deviceCert, xena.userCert, xena.deviceCert}
	redacted := [][]byte{alice.redactedUserCert, alice.redactedDeviceCert, bob.redactedUserCert, bob.redactedDeviceCert, xena.redactedUserCert, xena.redactedDeviceCert}
	var updates [][]byte

	steps := []struct {
		target  *member
		profile parsec.UserProfile
	}{
		{bob, parsec.ProfileOutsider},
		{xena, parsec.ProfileStandard},
		{bob, parsec.ProfileAdmin},
		{xena, parsec.ProfileOutsider},
		{xena, parsec.ProfileAdmin},
	}
	for _, st := range steps {
		t.Run(st.target.email+" becomes "+string(st.profile), func(t *testing.T) {
			cert := updateCert(alice, st.target.user, st.profile, w.tick())
			wantStatus(t, w.updateProfile(t, alice, cert), protocol.StatusOK)
			updates = append(updates, cert)
			outsider := st.profile == parsec.ProfileOutsider
			want := append(append([][]byte(nil), full...), updates...)
			if outsider {
				want = append(append([][]byte(nil), redacted...), updates...)
			}
			got := w.commonCertificates(t, st.target)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("certificates for %s (-want +got):\n%s", st.profile, diff)
			}
			mem := certif.NewMemory(root, outsider)
			if _, err := mem.AddBatch(got); err != nil {
				t.Fatalf("the certificates served do not validate: %v", err)
			}
			for _, u := range mem.Users() {
				if (u.HumanHandle == nil) != outsider {
					t.Errorf("%s sees user %s with handle %v", st.profile, u.ID, u.HumanHandle)
				}
			}
			if p, _ := mem.Profile(st.target.user); p != st.profile {
				t.Errorf("the chain says %s, want %s", p, st.profile)
			}
		})
	}
}
