package client_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server"
	"github.com/parsec-go/parsec/internal/testenv"
)

// people is an organization whose members all joined through real invitations: alice
// (Administrator, who bootstrapped it), bob (Member) and mallory (External), each with a
// client that has fetched the certificates.
type people struct {
	srv                 *testenv.Server
	alice, bob, mallory *testenv.User
	ac, bc, mc          *client.Client
}

func newPeople(t *testing.T, configure ...func(*server.Config)) *people {
	t.Helper()
	p := &people{srv: testenv.NewServer(t, configure...)}
	p.alice = p.srv.Bootstrap(t, "Acme", "alice@example.com", "Alice")
	p.ac = p.alice.Open(t)
	p.bob = testenv.Join(t, p.ac, "bob@example.com", "Bob", parsec.ProfileStandard)
	p.mallory = testenv.Join(t, p.ac, "mallory@example.com", "Mallory", parsec.ProfileOutsider)
	p.bc, p.mc = p.bob.Open(t), p.mallory.Open(t)
	for _, c := range []*client.Client{p.ac, p.bc, p.mc} {
		poll(t, c)
	}
	return p
}

func poll(t *testing.T, c *client.Client) int {
	t.Helper()
	n, err := c.PollCertificates(t.Context())
	if err != nil {
		t.Fatalf("%s polling certificates: %v", c.Device().HumanHandle.Email, err)
	}
	return n
}

// user returns what c knows about a user.
func user(t *testing.T, c *client.Client, id parsec.UserID) client.UserInfo {
	t.Helper()
	for _, u := range c.Users() {
		if u.ID == id {
			return u
		}
	}
	t.Fatalf("user %s unknown to %s", id, c.Device().HumanHandle.Email)
	return client.UserInfo{}
}

// wantRefused checks that the server itself refused with status: a client-side check
// would not produce a *protocol.StatusError.
func wantRefused(t *testing.T, err error, status protocol.Status) {
	t.Helper()
	var se *protocol.StatusError
	if !errors.As(err, &se) || se.Status != status {
		t.Fatalf("got %v, want the server's %q", err, status)
	}
	if k := parsec.KindOf(err); k != protocol.StatusKind(status) {
		t.Errorf("kind %v, want %v", k, protocol.StatusKind(status))
	}
}

func signer(t *testing.T, u *testenv.User) func(certif.Certificate) []byte {
	t.Helper()
	key, err := u.Device.Signer()
	if err != nil {
		t.Fatal(err)
	}
	return func(c certif.Certificate) []byte { return certif.Sign(key, c) }
}

func TestPeopleScenario(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	aliceID, bobID, malloryID := p.alice.Device.UserID, p.bob.Device.UserID, p.mallory.Device.UserID

	t.Run("administrator sees everyone", func(t *testing.T) {
		for id, email := range map[parsec.UserID]string{aliceID: "alice@example.com", bobID: "bob@example.com", malloryID: "mallory@example.com"} {
			if got := user(t, p.ac, id).Handle.Email; got != email {
				t.Errorf("alice sees %s as %q, want %q", id, got, email)
			}
		}
		if got := user(t, p.ac, malloryID).Profile; got != parsec.ProfileOutsider {
			t.Errorf("mallory is %s, want OUTSIDER", got)
		}
	})

	t.Run("external sees no name or email", func(t *testing.T) {
		users := p.mc.Users()
		if len(users) != 3 {
			t.Fatalf("mallory sees %d users, want 3", len(users))
		}
		for _, u := range users {
			if u.ID == p.mallory.Device.UserID {
				if u.Handle.Email != "mallory@example.com" {
					t.Errorf("mallory sees herself as %v, want her own name and email", u.Handle)
				}
				continue
			}
			if u.Handle != parsec.RedactedHandle(u.ID) {
				t.Errorf("mallory sees %s as %v, want the redacted placeholder", u.ID, u.Handle)
			}
			for _, d := range u.Devices {
				if d.Label != parsec.RedactedDeviceLabel(d.ID) {
					t.Errorf("mallory sees device %s labelled %q", d.ID, d.Label)
				}
			}
		}
		all := fmt.Sprintf("%+v", users)
		for _, secret := range []string{"alice", "Alice", "bob", "Bob", "laptop"} {
			if strings.Contains(all, secret) {
				t.Errorf("mallory's user list mentions %q: %s", secret, all)
			}
		}
		if _, err := p.mc.FindUser("alice@example.com"); parsec.KindOf(err) != parsec.NotFound {
			t.Errorf("mallory finding alice by email: %v, want NotFound", err)
		}
	})

	t.Run("member and external cannot manage people", func(t *testing.T) {
		for _, who := range []struct {
			name string
			u    *testenv.User
			c    *client.Client
		}{{"bob", p.bob, p.bc}, {"mallory", p.mallory, p.mc}} {
			target := malloryID
			if who.u == p.mallory {
				target = bobID
			}
			sign := signer(t, who.u)
			dev := who.u.Device.DeviceID
			now := parsec.SystemClock{}.Now()
			calls := []struct {
				name string
				call func() error
			}{
				{"InviteUser", func() error { _, err := who.c.InviteUser(ctx, "carol@example.com", false); return err }},
				{"RevokeUser", func() error { return who.c.RevokeUser(ctx, target) }},
				{"UpdateProfile", func() error { return who.c.UpdateProfile(ctx, target, parsec.ProfileAdmin) }},
				{"FrozenUsers", func() error { _, err := who.c.FrozenUsers(ctx); return err }},
				// The same refusals for certificates signed by hand, without the library.
				{"user_revoke signed by hand", func() error {
					cert := sign(&certif.RevokedUserCertificate{Author: dev, Timestamp: now, UserID: aliceID})
					return who.c.Call(ctx, protocol.CmdUserRevoke, protocol.UserRevokeReq{RevokedUserCertificate: cert}, nil)
				}},
				{"user_update signed by hand", func() error {
					cert := sign(&certif.UserUpdateCertificate{Author: dev, Timestamp: now, UserID: aliceID, NewProfile: parsec.ProfileStandard})
					return who.c.Call(ctx, protocol.CmdUserUpdate, protocol.UserUpdateReq{UserUpdateCertificate: cert}, nil)
				}},
				{"invite_new_user by hand", func() error {
					return who.c.Call(ctx, protocol.CmdInviteNewUser, protocol.InviteNewUserReq{ClaimerEmail: "carol@example.com"}, &protocol.InviteNewRep{})
				}},
			}
			for _, tc := range calls {
				t.Run(who.name+"/"+tc.name, func(t *testing.T) {
					wantRefused(t, tc.call(), protocol.StatusAuthorNotAllowed)
				})
			}
		}
		poll(t, p.ac)
		if got := user(t, p.ac, aliceID); got.Profile != parsec.ProfileAdmin || got.Status() != "active" {
			t.Errorf("alice is %s and %s after the refusals", got.Profile, got.Status())
		}
	})

	t.Run("promoted member can invite", func(t *testing.T) {
		if err := p.ac.UpdateProfile(ctx, bobID, parsec.ProfileAdmin); err != nil {
			t.Fatal(err)
		}
		if got := user(t, p.ac, bobID).Profile; got != parsec.ProfileAdmin {
			t.Errorf("alice sees bob as %s after promoting him", got)
		}
		// bob greets a new member himself, through the whole exchange.
		carol := testenv.Join(t, p.bc, "carol@example.com", "Carol", parsec.ProfileStandard)
		poll(t, p.bc)
		if got := user(t, p.bc, carol.Device.UserID); got.CreatedBy == nil || *got.CreatedBy != p.bob.Device.DeviceID {
			t.Errorf("carol created by %v, want bob's device", got.CreatedBy)
		}
	})

	t.Run("demoted admin cannot invite", func(t *testing.T) {
		if err := p.ac.UpdateProfile(ctx, bobID, parsec.ProfileStandard); err != nil {
			t.Fatal(err)
		}
		_, err := p.bc.InviteUser(ctx, "dave@example.com", false)
		wantRefused(t, err, protocol.StatusAuthorNotAllowed)
		poll(t, p.bc)
		if got := p.bc.Profile(); got != parsec.ProfileStandard {
			t.Errorf("bob's client says he is %s", got)
		}
	})

	t.Run("batch change skips the external", func(t *testing.T) {
		batch := []client.UserInfo{user(t, p.ac, bobID), user(t, p.ac, malloryID)}
		res, err := p.ac.ChangeProfiles(ctx, batch, parsec.ProfileAdmin)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]string, len(res))
		for i, r := range res {
			got[i] = r.User.ID.String() + " " + r.Outcome
			if r.Err != nil {
				t.Errorf("%s: %v", r.User.ID, r.Err)
			}
		}
		want := []string{bobID.String() + " " + client.ProfileChanged, malloryID.String() + " " + client.ProfileSkipped}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("outcomes %v, want %v", got, want)
		}
		if b, m := user(t, p.ac, bobID).Profile, user(t, p.ac, malloryID).Profile; b != parsec.ProfileAdmin || m != parsec.ProfileOutsider {
			t.Errorf("after the batch bob is %s and mallory %s, want ADMIN and OUTSIDER", b, m)
		}
		// Again: bob is already there.
		res, err = p.ac.ChangeProfiles(ctx, []client.UserInfo{user(t, p.ac, bobID)}, parsec.ProfileAdmin)
		if err != nil || len(res) != 1 || res[0].Outcome != client.ProfileUnchanged {
			t.Errorf("second batch: %+v, %v; want bob unchanged", res, err)
		}
		if _, err := p.ac.ChangeProfiles(ctx, batch, parsec.ProfileOutsider); parsec.KindOf(err) != parsec.Invalid {
			t.Errorf("batch to External: %v, want kind Invalid", err)
		}
	})

	var bobPhone *client.Client
	t.Run("second device", func(t *testing.T) {
		phone := testenv.AddDevice(t, p.bc, "phone")
		if phone.Device.UserID != bobID {
			t.Fatalf("the new device belongs to %s, want bob", phone.Device.UserID)
		}
		bobPhone = phone.Open(t)
		poll(t, bobPhone)
	})
	if bobPhone == nil {
		t.FailNow()
	}

	t.Run("revoke", func(t *testing.T) {
		// A batch goes on after a failure that does not stop it (alice revoking herself).
		res, err := p.ac.RevokeUsers(ctx, []client.UserInfo{user(t, p.ac, aliceID), user(t, p.ac, bobID)})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 2 || res[0].Outcome != client.RevokeFailed || parsec.KindOf(res[0].Err) != parsec.Invalid || res[1].Outcome != client.RevokeDone || res[1].Err != nil {
			t.Fatalf("RevokeUsers(alice, bob) = %+v, want alice failed (invalid), bob revoked", res)
		}
		got := user(t, p.ac, bobID)
		if got.Status() != "revoked" || got.RevokedOn.IsZero() || got.RevokedBy == nil || *got.RevokedBy != p.alice.Device.DeviceID {
			t.Errorf("bob after revocation: status %s, revoked on %v by %v; want revoked by alice's device", got.Status(), got.RevokedOn, got.RevokedBy)
		}
		err = p.ac.RevokeUser(ctx, bobID)
		wantRefused(t, err, protocol.StatusUserAlreadyRevoked)
		res, err = p.ac.RevokeUsers(ctx, []client.UserInfo{user(t, p.ac, bobID)})
		if err != nil || len(res) != 1 || res[0].Outcome != client.RevokeAlready {
			t.Errorf("RevokeUsers(bob) again = %+v, %v; want bob already revoked", res, err)
		}
		if err := p.ac.RevokeUser(ctx, aliceID); parsec.KindOf(err) != parsec.Invalid {
			t.Errorf("alice revoking herself: %v, want kind Invalid", err)
		}
	})

	t.Run("every device of the revoked user is refused", func(t *testing.T) {
		calls := []struct {
			name string
			call func(c *client.Client) error
		}{
			{"PollCertificates", func(c *client.Client) error { _, err := c.PollCertificates(ctx); return err }},
			{"ping", func(c *client.Client) error {
				return c.Call(ctx, protocol.CmdPing, protocol.PingReq{Ping: "x"}, &protocol.PingRep{})
			}},
			{"InviteDevice", func(c *client.Client) error { _, err := c.InviteDevice(ctx, false); return err }},
			{"InviteUser", func(c *client.Client) error { _, err := c.InviteUser(ctx, "dave@example.com", false); return err }},
			{"Invitations", func(c *client.Client) error { _, err := c.Invitations(ctx); return err }},
			{"RevokeUser", func(c *client.Client) error { return c.RevokeUser(ctx, aliceID) }},
			{"UpdateProfile", func(c *client.Client) error { return c.UpdateProfile(ctx, malloryID, parsec.ProfileStandard) }},
			{"FrozenUsers", func(c *client.Client) error { _, err := c.FrozenUsers(ctx); return err }},
		}
		for dev, c := range map[string]*client.Client{"laptop": p.bc, "phone": bobPhone} {
			for _, tc := range calls {
				t.Run(dev+"/"+tc.name, func(t *testing.T) {
					err := tc.call(c)
					if parsec.KindOf(err) != parsec.Revoked || !strings.Contains(fmt.Sprint(err), "revoked") {
						t.Errorf("got %v, want kind Revoked", err)
					}
				})
			}
		}
	})

	t.Run("the revoked email joins again as a new user", func(t *testing.T) {
		newBob := testenv.Join(t, p.ac, "bob@example.com", "Bob", parsec.ProfileStandard)
		newID := newBob.Device.UserID
		if newID == bobID {
			t.Fatal("the new bob has the old user ID")
		}
		poll(t, p.ac)
		var got []string
		for _, u := range p.ac.Users() {
			if u.Handle.Email == "bob@example.com" {
				got = append(got, u.ID.String()+" "+u.Status())
			}
		}
		want := []string{bobID.String() + " revoked", newID.String() + " active"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("users with bob's email: %v, want %v", got, want)
		}
		if u, err := p.ac.FindUser("bob@example.com"); err != nil || u.ID != newID {
			t.Errorf("FindUser(bob) = %s, %v; want the new user", u.ID, err)
		}
		nc := newBob.Open(t)
		poll(t, nc)
		if got := user(t, nc, bobID).Status(); got != "revoked" {
			t.Errorf("the new bob sees the old one %s", got)
		}
		// The old devices stay refused.
		if _, err := p.bc.PollCertificates(ctx); parsec.KindOf(err) != parsec.Revoked {
			t.Errorf("old bob after the new one joined: %v, want kind Revoked", err)
		}
	})
}

// emails returns the emails c sees, in order of creation.
func emails(c *client.Client) []string {
	var out []string
	for _, u := range c.Users() {
		out = append(out, u.Handle.Email)
	}
	return out
}

// When a user's own profile changes to or from External, its client fetches the
// certificates again in the other flavour, even when other certificates (new users) arrived
// in the same batch.
func TestExternalProfileSwitchesFlavour(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	malloryID := p.mallory.Device.UserID
	// redacted is what mallory should see as External: a placeholder for each user alice
	// sees.
	// An External user sees everybody redacted but herself.
	redacted := func() []string {
		var out []string
		for _, u := range p.ac.Users() {
			if u.ID == malloryID {
				out = append(out, u.Handle.Email)
				continue
			}
			out = append(out, parsec.RedactedHandle(u.ID).Email)
		}
		return out
	}
	full := []string{"alice@example.com", "bob@example.com", "mallory@example.com"}

	steps := []struct {
		name    string
		joining string // someone joins before the change, unseen by mallory
		profile parsec.UserProfile
	}{
		{"to Member", "", parsec.ProfileStandard},
		{"back to External", "", parsec.ProfileOutsider},
		{"to Administrator with a new user in the batch", "carol@example.com", parsec.ProfileAdmin},
		{"to External with a new user in the batch", "dave@example.com", parsec.ProfileOutsider},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.joining != "" {
				testenv.Join(t, p.ac, st.joining, "Someone", parsec.ProfileStandard)
				full = append(full, st.joining)
			}
			if err := p.ac.UpdateProfile(ctx, malloryID, st.profile); err != nil {
				t.Fatal(err)
			}
			poll(t, p.mc)
			want := full
			if st.profile == parsec.ProfileOutsider {
				want = redacted()
			}
			if got := emails(p.mc); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("mallory sees %v, want %v", got, want)
			}
			if got := p.mc.Profile(); got != st.profile {
				t.Errorf("mallory's client says she is %s, want %s", got, st.profile)
			}
			// The other flavour is kept in the local cache.
			if n := poll(t, p.mc); n != 0 {
				t.Errorf("%d more certificates on the next poll", n)
			}
			reopened := p.mallory.Open(t)
			if got := emails(reopened); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("reopened, mallory sees %v, want %v", got, want)
			}
			if n := poll(t, reopened); n != 0 {
				t.Errorf("reopened: %d certificates fetched again", n)
			}
			reopened.Close()
		})
	}
}

// storedFlavour returns, for each certificate raw, the other flavour of the same stored
// certificate (redacted for full, full for redacted); certificates with one flavour pass
// unchanged.
func storedFlavour(t *testing.T, srv *testenv.Server, common [][]byte, toRedacted bool) [][]byte {
	t.Helper()
	stored := srv.StoredCommon(t, "Acme")
	out := make([][]byte, len(common))
	for i, raw := range common {
		out[i] = raw
		for _, s := range stored {
			switch {
			case s.Redacted == nil:
			case toRedacted && bytes.Equal(raw, s.Data):
				out[i] = s.Redacted
			case !toRedacted && bytes.Equal(raw, s.Redacted):
				out[i] = s.Data
			}
		}
	}
	return out
}

// A server that lies about who manages whom is caught by the client's own checks of the
// certificate chain.
func TestLyingServerAboutPeople(t *testing.T) {
	tests := []struct {
		name string
		// setup runs on an honest server, then returns the client that will be lied to and
		// the lie (a rewrite of certificate_get's common certificates).
		setup func(t *testing.T, p *people) (*client.Client, func(common [][]byte) [][]byte)
		want  string
	}{
		{
			name: "promotion signed by a member",
			setup: func(t *testing.T, p *people) (*client.Client, func([][]byte) [][]byte) {
				cert := signer(t, p.bob)(&certif.UserUpdateCertificate{Author: p.bob.Device.DeviceID, Timestamp: lastCommon(t, p) + 1,
					UserID: p.mallory.Device.UserID, NewProfile: parsec.ProfileAdmin})
				return p.ac, func(common [][]byte) [][]byte { return append(common, cert) }
			},
			want: "author is not an administrator",
		},
		{
			name: "member promoting itself",
			setup: func(t *testing.T, p *people) (*client.Client, func([][]byte) [][]byte) {
				cert := signer(t, p.bob)(&certif.UserUpdateCertificate{Author: p.bob.Device.DeviceID, Timestamp: lastCommon(t, p) + 1,
					UserID: p.bob.Device.UserID, NewProfile: parsec.ProfileAdmin})
				return p.mc, func(common [][]byte) [][]byte { return append(common, cert) }
			},
			want: "cannot change its own profile",
		},
		{
			name: "revocation signed by a member",
			setup: func(t *testing.T, p *people) (*client.Client, func([][]byte) [][]byte) {
				cert := signer(t, p.bob)(&certif.RevokedUserCertificate{Author: p.bob.Device.DeviceID, Timestamp: lastCommon(t, p) + 1,
					UserID: p.alice.Device.UserID})
				return p.ac, func(common [][]byte) [][]byte { return append(common, cert) }
			},
			want: "author is not an administrator",
		},
		{
			name: "revocation signed by an external",
			setup: func(t *testing.T, p *people) (*client.Client, func([][]byte) [][]byte) {
				cert := signer(t, p.mallory)(&certif.RevokedUserCertificate{Author: p.mallory.Device.DeviceID, Timestamp: lastCommon(t, p) + 1,
					UserID: p.bob.Device.UserID})
				return p.bc, func(common [][]byte) [][]byte { return append(common, cert) }
			},
			want: "author is not an administrator",
		},
		{
			name: "two new certificates swapped",
			setup: func(t *testing.T, p *people) (*client.Client, func([][]byte) [][]byte) {
				if err := p.ac.UpdateProfile(t.Context(), p.mallory.Device.UserID, parsec.ProfileStandard); err != nil {
					t.Fatal(err)
				}
				if err := p.ac.UpdateProfile(t.Context(), p.bob.Device.UserID, parsec.ProfileAdmin); err != nil {
					t.Fatal(err)
				}
				return p.bc, func(common [][]byte) [][]byte {
					if len(common) != 2 {
						t.Errorf("bob fetches %d certificates, want the 2 updates", len(common))
						return common
					}
					return [][]byte{common[1], common[0]}
				}
			},
			// The second update signs the view of a history that holds the first: served
			// first, it names what the server has not delivered yet.
			want: "the server withholds certificates",
		},
		{
			name: "revocation dated before the last certificate",
			setup: func(t *testing.T, p *people) (*client.Client, func([][]byte) [][]byte) {
				// Signed by the real Administrator: only its date is wrong.
				cert := signer(t, p.alice)(&certif.RevokedUserCertificate{Author: p.alice.Device.DeviceID, Timestamp: lastCommon(t, p) - 1,
					UserID: p.mallory.Device.UserID})
				return p.bc, func(common [][]byte) [][]byte { return append(common, cert) }
			},
			want: "timestamp is not after the previous certificate",
		},
		{
			name: "redacted certificates served to an administrator",
			setup: func(t *testing.T, p *people) (*client.Client, func([][]byte) [][]byte) {
				testenv.Join(t, p.ac, "carol@example.com", "Carol", parsec.ProfileStandard)
				return p.ac, func(common [][]byte) [][]byte { return storedFlavour(t, p.srv, common, true) }
			},
			want: "redacted",
		},
		{
			name: "one redacted user certificate served to a member",
			setup: func(t *testing.T, p *people) (*client.Client, func([][]byte) [][]byte) {
				testenv.Join(t, p.ac, "carol@example.com", "Carol", parsec.ProfileStandard)
				return p.bc, func(common [][]byte) [][]byte {
					if len(common) > 0 {
						common[0] = storedFlavour(t, p.srv, common[:1], true)[0]
					}
					return common
				}
			},
			want: "redacted",
		},
		{
			// A rollback: the chain as it was when mallory was External, served to her
			// after her promotion, would pass for a legitimate switch of flavour.
			name: "an external's old chain served after her promotion",
			setup: func(t *testing.T, p *people) (*client.Client, func([][]byte) [][]byte) {
				var old [][]byte
				for _, s := range p.srv.StoredCommon(t, "Acme") {
					if s.Redacted != nil {
						old = append(old, s.Redacted)
					} else {
						old = append(old, s.Data)
					}
				}
				if err := p.ac.UpdateProfile(t.Context(), p.mallory.Device.UserID, parsec.ProfileStandard); err != nil {
					t.Fatal(err)
				}
				poll(t, p.mc)
				testenv.Join(t, p.ac, "carol@example.com", "Carol", parsec.ProfileStandard)
				return p.mc, func([][]byte) [][]byte { return old }
			},
			want: "redacted",
		},
		{
			name: "full certificates served to an external",
			setup: func(t *testing.T, p *people) (*client.Client, func([][]byte) [][]byte) {
				testenv.Join(t, p.ac, "carol@example.com", "Carol", parsec.ProfileStandard)
				return p.mc, func(common [][]byte) [][]byte { return storedFlavour(t, p.srv, common, false) }
			},
			want: "full certificate to an External user",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newPeople(t)
			c, lie := tc.setup(t, p)
			lieAboutCertificates(p.srv, lie)
			_, err := c.PollCertificates(t.Context())
			if parsec.KindOf(err) != parsec.Tampered {
				t.Fatalf("PollCertificates = %v; want kind Tampered", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			// The client refuses to go on.
			if err := c.Call(t.Context(), protocol.CmdPing, protocol.PingReq{Ping: "x"}, &protocol.PingRep{}); parsec.KindOf(err) != parsec.Tampered {
				t.Errorf("Call after tampering = %v; want the tampering error", err)
			}
			if _, err := c.InviteDevice(t.Context(), false); parsec.KindOf(err) != parsec.Tampered {
				t.Errorf("InviteDevice after tampering = %v; want the tampering error", err)
			}
			// Nothing of the lie was kept: once the server stops lying, the same device
			// accepts the genuine chain.
			p.srv.Lie = nil
			c.Close()
			reopened := p.owner(t, c).Open(t)
			poll(t, reopened)
			if got := user(t, reopened, p.alice.Device.UserID); got.Status() != "active" || got.Profile != parsec.ProfileAdmin {
				t.Errorf("after the lie, alice is %s and %s", got.Profile, got.Status())
			}
		})
	}
}

// lastCommon is the timestamp of the last certificate the server stores.
func lastCommon(t *testing.T, p *people) parsec.DateTime {
	t.Helper()
	stored := p.srv.StoredCommon(t, "Acme")
	return stored[len(stored)-1].Timestamp
}

// owner returns the person whose client c is.
func (p *people) owner(t *testing.T, c *client.Client) *testenv.User {
	t.Helper()
	for _, u := range []*testenv.User{p.alice, p.bob, p.mallory} {
		if u.Device.DeviceID == c.Device().DeviceID {
			return u
		}
	}
	t.Fatal("a client of nobody in the organization")
	return nil
}

// TestFlavourSwitchMustKeepWorkspaceCertificates: when mallory, External, is promoted, her
// client fetches every certificate again in the full flavour; the server leaves out the last
// certificate of the workspace she is a member of (a role change, a key rotation: here,
// the one giving her her role). Before, only the common topic was compared with what she had, and the
// client took the shorter history; now it is tampering, and nothing of it is kept.
func TestFlavourSwitchMustKeepWorkspaceCertificates(t *testing.T) {
	p := newPeople(t)
	shared(t, p)
	poll(t, p.mc)
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd != protocol.CmdCertificateGet {
			return reply
		}
		return rewriteReply(reply, func(rep *protocol.CertificateGetRep) {
			for id, certs := range rep.Realms { // only in the full fetch: she had them all
				rep.Realms[id] = certs[:len(certs)-1]
			}
		})
	}
	if err := p.ac.UpdateProfile(t.Context(), p.mallory.Device.UserID, parsec.ProfileStandard); err != nil {
		t.Fatal(err)
	}
	_, err := p.mc.PollCertificates(t.Context())
	if parsec.KindOf(err) != parsec.Tampered || !strings.Contains(err.Error(), "in the realm") {
		t.Fatalf("PollCertificates = %v; want tampering in a workspace's topic", err)
	}
	p.srv.Lie = nil
	p.mc.Close()
	reopened := p.mallory.Open(t)
	poll(t, reopened)
	if got := reopened.Profile(); got != parsec.ProfileStandard {
		t.Errorf("once the server is honest, mallory is %s", got)
	}
}
