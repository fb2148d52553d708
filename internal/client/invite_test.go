package client_test

import (
	"bytes"
	"context"
	"crypto/mlkem"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/testenv"
)

// These tests run both sides of an invitation at once, in-process, as two people at two
// computers would: the greeter in a goroutine, the claimer in the test's. The people read
// their codes to each other through channels.

// exchangeTimeout bounds a whole exchange: a broken flow fails the test instead of hanging.
const exchangeTimeout = 30 * time.Second

// world is an organization whose first user, alice, is an Administrator.
type world struct {
	srv   *testenv.Server
	alice *testenv.User
	c     *client.Client // alice's client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	srv := testenv.NewServer(t)
	alice := srv.Bootstrap(t, "Acme", "alice@example.com", "Alice")
	return &world{srv: srv, alice: alice, c: alice.Open(t)}
}

// greeterFinish is what the greeter does once it has the claimer's request.
type greeterFinish func(ctx context.Context, g *client.Greeting, req client.UserRequest) error

// createUser is the greeter's finish for a user invitation: the requested identity, with
// the given profile.
func createUser(profile parsec.UserProfile) greeterFinish {
	return func(ctx context.Context, g *client.Greeting, req client.UserRequest) error {
		_, err := g.CreateUser(ctx, req.HumanHandle, req.DeviceLabel, profile)
		return err
	}
}

func createDevice(ctx context.Context, g *client.Greeting, req client.UserRequest) error {
	_, err := g.CreateDevice(ctx, req.DeviceLabel)
	return err
}

// greeterSide is a greeter running in its own goroutine. It tells its code, shows the four
// codes its person chooses from, and picks the one the test hands it.
type greeterSide struct {
	code    chan crypto.SASCode   // the greeter's code, once the automatic phase is over
	choices chan []crypto.SASCode // the codes shown to the greeter's person
	pick    chan crypto.SASCode   // what the greeter's person picks
	done    chan error            // the greeter's outcome
}

func startGreeter(ctx context.Context, c *client.Client, token parsec.AccessToken, finish greeterFinish) *greeterSide {
	g := &greeterSide{code: make(chan crypto.SASCode, 1), choices: make(chan []crypto.SASCode, 1),
		pick: make(chan crypto.SASCode, 1), done: make(chan error, 1)}
	go func() {
		g.done <- func() error {
			gr, err := c.Greet(ctx, token)
			if err != nil {
				return err
			}
			g.code <- gr.Code()
			if err := gr.WaitClaimerTrust(ctx); err != nil {
				return err
			}
			g.choices <- gr.ClaimerCodeChoices()
			var picked crypto.SASCode
			select {
			case picked = <-g.pick:
			case <-ctx.Done():
				gr.Cancel()
				return ctx.Err()
			}
			if err := gr.ConfirmClaimerCode(ctx, picked); err != nil {
				return err
			}
			req, err := gr.Request(ctx)
			if err != nil {
				return err
			}
			return finish(ctx, gr, req)
		}()
	}()
	return g
}

// waitCode returns the greeter's code; it fails the test if the greeter stops first.
func (g *greeterSide) waitCode(t *testing.T, ctx context.Context) crypto.SASCode {
	t.Helper()
	select {
	case c := <-g.code:
		return c
	case err := <-g.done:
		t.Fatalf("the greeter stopped before showing its code: %v", err)
	case <-ctx.Done():
		t.Fatal("no code from the greeter in time")
	}
	return ""
}

// waitChoices returns the codes shown to the greeter's person.
func (g *greeterSide) waitChoices(t *testing.T, ctx context.Context) []crypto.SASCode {
	t.Helper()
	select {
	case c := <-g.choices:
		return c
	case err := <-g.done:
		t.Fatalf("the greeter stopped before showing the claimer's codes: %v", err)
	case <-ctx.Done():
		t.Fatal("no choice of codes from the greeter in time")
	}
	return nil
}

// wait returns the greeter's outcome.
func (g *greeterSide) wait(t *testing.T, ctx context.Context) error {
	t.Helper()
	select {
	case err := <-g.done:
		return err
	case <-ctx.Done():
		t.Fatal("the greeter did not finish in time")
	}
	return nil
}

// decoy returns a choice that is not the right code.
func decoy(t *testing.T, choices []crypto.SASCode, right crypto.SASCode) crypto.SASCode {
	t.Helper()
	if len(choices) != 4 {
		t.Fatalf("%d choices, want 4", len(choices))
	}
	for _, c := range choices {
		if c != right {
			return c
		}
	}
	t.Fatalf("choices %v hold nothing but %s", choices, right)
	return ""
}

// claim runs the claimer's side with the right codes up to the end; it returns the new
// device as a test user.
func claim(t *testing.T, ctx context.Context, link protocol.Link, g *greeterSide, handle parsec.HumanHandle, label string) *testenv.User {
	t.Helper()
	u := &testenv.User{ConfigDir: t.TempDir(), Password: []byte("new device password")}
	if err := claimInto(t, ctx, link, g, handle, label, u); err != nil {
		t.Fatalf("claimer Finish: %v", err)
	}
	if err := g.wait(t, ctx); err != nil {
		t.Fatalf("greeter: %v", err)
	}
	return u
}

// claimInto runs the claimer's side with the right codes, and saves the new device in
// u.ConfigDir under u.Password; it returns the error of the last step (Finish).
func claimInto(t *testing.T, ctx context.Context, link protocol.Link, g *greeterSide, handle parsec.HumanHandle, label string, u *testenv.User) error {
	t.Helper()
	cl, err := client.NewClaim(ctx, link, client.ClaimOptions{})
	if err != nil {
		t.Fatalf("NewClaim: %v", err)
	}
	if err := cl.Start(ctx); err != nil {
		t.Fatalf("claimer Start: %v", err)
	}
	code := g.waitCode(t, ctx)
	if choices := cl.GreeterCodeChoices(); len(choices) != 4 || !hasCode(choices, code) {
		t.Fatalf("the claimer's choices %v do not offer the greeter's code %s", choices, code)
	}
	if err := cl.ConfirmGreeterCode(ctx, code); err != nil {
		t.Fatalf("ConfirmGreeterCode with the right code: %v", err)
	}
	if choices := g.waitChoices(t, ctx); len(choices) != 4 || !hasCode(choices, cl.Code()) {
		t.Fatalf("the greeter's choices %v do not offer the claimer's code %s", choices, cl.Code())
	}
	g.pick <- cl.Code()
	if err := cl.WaitGreeterTrust(ctx); err != nil {
		t.Fatalf("WaitGreeterTrust: %v", err)
	}
	u.Device, err = cl.Finish(ctx, u.ConfigDir, handle, label, u.Password)
	return err
}

func hasCode(codes []crypto.SASCode, c crypto.SASCode) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}

func mustHandle(t *testing.T, email, name string) parsec.HumanHandle {
	t.Helper()
	h, err := parsec.NewHumanHandle(email, name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// invitationStatus returns the status of an invitation as its greeter sees it.
func invitationStatus(t *testing.T, c *client.Client, token parsec.AccessToken) string {
	t.Helper()
	invs, err := c.Invitations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range invs {
		if inv.Token == token {
			return inv.Status
		}
	}
	t.Fatalf("invitation %s not listed", token)
	return ""
}

// lastAttempt returns the invitation's last greeting attempt, as the server stores it.
func lastAttempt(t *testing.T, srv *testenv.Server, token parsec.AccessToken) metastore.GreetingAttempt {
	t.Helper()
	var attempts []metastore.GreetingAttempt
	err := srv.Store.View(t.Context(), func(tx metastore.Tx) error {
		var err error
		attempts, err = tx.GreetingAttempts("Acme", token)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(attempts) == 0 {
		t.Fatal("no greeting attempt")
	}
	return attempts[len(attempts)-1]
}

func wantCancelledBy(t *testing.T, a metastore.GreetingAttempt, side, reason string) {
	t.Helper()
	if a.Active() || a.CancelledBy != side || a.CancelReason != reason {
		t.Errorf("attempt cancelled on %v by %q for %q, want cancelled by %s for %s", a.CancelledOn, a.CancelledBy, a.CancelReason, side, reason)
	}
}

// wantUsers polls c's certificates and checks the emails of the organization's users.
func wantUsers(t *testing.T, c *client.Client, emails ...string) []client.UserInfo {
	t.Helper()
	if _, err := c.PollCertificates(t.Context()); err != nil {
		t.Fatal(err)
	}
	users := c.Users()
	var got []string
	for _, u := range users {
		got = append(got, u.Handle.Email)
	}
	if strings.Join(got, " ") != strings.Join(emails, " ") {
		t.Fatalf("users %v, want %v", got, emails)
	}
	return users
}

func TestInviteUser(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
	defer cancel()
	inv, err := w.c.InviteUser(ctx, "bob@example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	g := startGreeter(ctx, w.c, inv.Token, createUser(parsec.ProfileStandard))
	bob := claim(t, ctx, inv.Link, g, mustHandle(t, "bob@example.com", "Bob"), "phone")

	if bob.Device.InitialProfile != parsec.ProfileStandard || bob.Device.HumanHandle.Email != "bob@example.com" ||
		bob.Device.OrganizationID != "Acme" || bob.Device.RootVerifyKey != w.alice.Device.RootVerifyKey {
		t.Errorf("new device %+v", bob.Device)
	}
	// The new device works: it polls and validates the whole chain from the root key it got
	// in the confirmation, and sees both users.
	bc := bob.Open(t)
	users := wantUsers(t, bc, "alice@example.com", "bob@example.com")
	if b := users[1]; b.Handle.Label != "Bob" || b.Profile != parsec.ProfileStandard || b.Status() != "active" ||
		len(b.Devices) != 1 || b.Devices[0].Label != "phone" || b.Devices[0].ID != bob.Device.DeviceID {
		t.Errorf("bob as his device sees him: %+v", b)
	}
	if bc.Profile() != parsec.ProfileStandard {
		t.Errorf("bob's profile %s", bc.Profile())
	}
	wantUsers(t, w.c, "alice@example.com", "bob@example.com")
	if st := invitationStatus(t, w.c, inv.Token); st != protocol.InvitationStatusFinished {
		t.Errorf("invitation %s after the exchange, want FINISHED", st)
	}
	// A finished invitation cannot be claimed again.
	if _, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{}); parsec.KindOf(err) != parsec.Gone {
		t.Errorf("claiming a finished invitation: %v, want kind Gone", err)
	}
}

func TestInviteDevice(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
	defer cancel()
	inv, err := w.c.InviteDevice(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	g := startGreeter(ctx, w.c, inv.Token, createDevice)
	phone := claim(t, ctx, inv.Link, g, parsec.HumanHandle{}, "phone")

	if phone.Device.UserID != w.alice.Device.UserID || phone.Device.DeviceID == w.alice.Device.DeviceID ||
		phone.Device.HumanHandle != w.alice.Device.HumanHandle || phone.Device.InitialProfile != parsec.ProfileAdmin {
		t.Errorf("new device %+v", phone.Device)
	}
	// The new device holds the user's key: it opens what was sealed for the user.
	aliceKey, err := w.alice.Device.UserKey()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := crypto.SealForUser(aliceKey.Public(), "parsec/test/invite", []byte("for alice's eyes"))
	if err != nil {
		t.Fatal(err)
	}
	phoneKey, err := phone.Device.UserKey()
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := phoneKey.Open("parsec/test/invite", sealed); err != nil || string(plain) != "for alice's eyes" {
		t.Fatalf("the new device cannot open what was sealed for its user: %q, %v", plain, err)
	}
	pc := phone.Open(t)
	users := wantUsers(t, pc, "alice@example.com")
	if d := users[0].Devices; len(d) != 2 || d[0].Label != "laptop" || d[1].Label != "phone" || d[1].ID != phone.Device.DeviceID {
		t.Errorf("devices seen by the new device: %+v", d)
	}
	if st := invitationStatus(t, w.c, inv.Token); st != protocol.InvitationStatusFinished {
		t.Errorf("invitation %s after the exchange, want FINISHED", st)
	}
}

// The greeter chooses the ID of the device it creates for the claimer: one of a device the
// claimer's computer already holds (of another organization) is refused, and that device is
// kept as it was (the new device's file replaced it).
func TestInviteGreeterGivesAHeldDeviceID(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
	defer cancel()
	bob := w.srv.Bootstrap(t, "Other", "bob@example.com", "Bob")
	held, err := os.ReadFile(device.Path(bob.ConfigDir, bob.Device.DeviceID))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := w.c.InviteUser(ctx, "bob@example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	g := startGreeter(ctx, w.c, inv.Token, func(ctx context.Context, g *client.Greeting, req client.UserRequest) error {
		_, err := g.CreateUserWithDeviceID(ctx, req.HumanHandle, req.DeviceLabel, parsec.ProfileStandard, bob.Device.DeviceID)
		return err
	})
	err = claimInto(t, ctx, inv.Link, g, mustHandle(t, "bob@example.com", "Bob"), "phone",
		&testenv.User{ConfigDir: bob.ConfigDir, Password: []byte("new device password")})
	if parsec.KindOf(err) != parsec.Tampered {
		t.Errorf("claim of a device given the ID of one held: %v, want kind Tampered", err)
	}
	if got, err := os.ReadFile(device.Path(bob.ConfigDir, bob.Device.DeviceID)); err != nil || !bytes.Equal(got, held) {
		t.Fatalf("the device held before the claim was replaced (%v)", err)
	}
	bob.Open(t) // its cache too is its own
}

func TestInviteWrongCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		claimerPicks bool // else the greeter picks the wrong code
		none         bool // "none of them" instead of a decoy
		greeterWants string
		claimerWants string
	}{
		{name: "claimer picks a decoy", claimerPicks: true, claimerWants: "wrong code", greeterWants: "the claimer rejected the code"},
		{name: "claimer picks none", claimerPicks: true, none: true, claimerWants: "wrong code", greeterWants: "the claimer rejected the code"},
		{name: "greeter picks a decoy", greeterWants: "wrong code", claimerWants: "the greeter rejected the code"},
		{name: "greeter picks none", none: true, greeterWants: "wrong code", claimerWants: "the greeter rejected the code"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
			defer cancel()
			inv, err := w.c.InviteUser(ctx, "bob@example.com", false)
			if err != nil {
				t.Fatal(err)
			}
			g := startGreeter(ctx, w.c, inv.Token, createUser(parsec.ProfileStandard))
			cl, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.Start(ctx); err != nil {
				t.Fatal(err)
			}
			code := g.waitCode(t, ctx)
			var claimerErr error
			if tc.claimerPicks {
				picked := crypto.SASCode("")
				if !tc.none {
					picked = decoy(t, cl.GreeterCodeChoices(), code)
				}
				claimerErr = cl.ConfirmGreeterCode(ctx, picked)
			} else {
				if err := cl.ConfirmGreeterCode(ctx, code); err != nil {
					t.Fatal(err)
				}
				// The greeter's person is shown four codes and picks another than the
				// one the claimer's person reads.
				choices := g.waitChoices(t, ctx)
				picked := crypto.SASCode("")
				if !tc.none {
					picked = decoy(t, choices, cl.Code())
				}
				g.pick <- picked
				claimerErr = cl.WaitGreeterTrust(ctx)
			}
			greeterErr := g.wait(t, ctx)
			for _, side := range []struct {
				name string
				err  error
				want string
			}{{"claimer", claimerErr, tc.claimerWants}, {"greeter", greeterErr, tc.greeterWants}} {
				if parsec.KindOf(side.err) != parsec.Cancelled || !strings.Contains(side.err.Error(), side.want) ||
					!strings.Contains(side.err.Error(), client.InterceptionWarning) {
					t.Errorf("%s: %v; want kind Cancelled, %q and the interception warning", side.name, side.err, side.want)
				}
			}
			origin := metastore.SideGreeter
			if tc.claimerPicks {
				origin = metastore.SideClaimer
			}
			wantCancelledBy(t, lastAttempt(t, w.srv, inv.Token), origin, protocol.CancelInvalidSASCode)
			wantUsers(t, w.c, "alice@example.com")
			if st := invitationStatus(t, w.c, inv.Token); st != protocol.InvitationStatusPending {
				t.Fatalf("invitation %s after a wrong code, want PENDING", st)
			}

			// The people start again, and this time read the right codes.
			g = startGreeter(ctx, w.c, inv.Token, createUser(parsec.ProfileAdmin))
			bob := claim(t, ctx, inv.Link, g, mustHandle(t, "bob@example.com", "Bob"), "phone")
			wantUsers(t, bob.Open(t), "alice@example.com", "bob@example.com")
		})
	}
}

func TestInviteCtrlC(t *testing.T) {
	t.Parallel()
	for _, side := range []string{metastore.SideGreeter, metastore.SideClaimer} {
		t.Run(side, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
			defer cancel()
			inv, err := w.c.InviteUser(ctx, "bob@example.com", false)
			if err != nil {
				t.Fatal(err)
			}
			gctx, ctrlCGreeter := context.WithCancel(ctx)
			defer ctrlCGreeter()
			g := startGreeter(gctx, w.c, inv.Token, createUser(parsec.ProfileStandard))
			cctx, ctrlCClaimer := context.WithCancel(ctx)
			defer ctrlCClaimer()
			cl, err := client.NewClaim(cctx, inv.Link, client.ClaimOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.Start(cctx); err != nil {
				t.Fatal(err)
			}
			code := g.waitCode(t, ctx)
			var interrupted, other error
			if side == metastore.SideGreeter {
				// Ctrl-C on the greeter while it waits for the claimer's person.
				ctrlCGreeter()
				interrupted = g.wait(t, ctx)
				if other = cl.ConfirmGreeterCode(cctx, code); other == nil {
					other = cl.WaitGreeterTrust(cctx)
				}
			} else {
				if err := cl.ConfirmGreeterCode(cctx, code); err != nil {
					t.Fatal(err)
				}
				// Ctrl-C on the claimer while it waits for the greeter's person.
				ctrlCClaimer()
				interrupted = cl.WaitGreeterTrust(cctx)
				g.pick <- cl.Code()
				other = g.wait(t, ctx)
			}
			if parsec.KindOf(interrupted) != parsec.Cancelled || !strings.Contains(interrupted.Error(), "cancelled") {
				t.Errorf("interrupted side: %v, want kind Cancelled", interrupted)
			}
			peer := map[string]string{metastore.SideGreeter: "the greeter", metastore.SideClaimer: "the claimer"}[side]
			if parsec.KindOf(other) != parsec.Cancelled || !strings.Contains(other.Error(), peer+" cancelled the exchange") {
				t.Errorf("other side: %v, want kind Cancelled saying %q cancelled", other, peer)
			}
			wantCancelledBy(t, lastAttempt(t, w.srv, inv.Token), side, protocol.CancelManually)
			if st := invitationStatus(t, w.c, inv.Token); st != protocol.InvitationStatusPending {
				t.Errorf("invitation %s after Ctrl-C, want PENDING", st)
			}
		})
	}
}

func TestInviteActiveUsersLimit(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
	defer cancel()
	err := w.srv.Store.Update(ctx, func(tx metastore.Tx) error {
		o, err := tx.Organization("Acme")
		if err != nil {
			return err
		}
		limit := int64(1)
		o.Config.ActiveUsersLimit = &limit
		return tx.PutOrganization(o)
	})
	if err != nil {
		t.Fatal(err)
	}
	inv, dev, greeterErr, claimErr := refusedJoin(t, ctx, w, "bob@example.com", "Bob", parsec.ProfileStandard)

	var se *protocol.StatusError
	if !errors.As(greeterErr, &se) || se.Status != protocol.StatusActiveUsersLimitReached {
		t.Errorf("greeter's CreateUser: %v, want %s", greeterErr, protocol.StatusActiveUsersLimitReached)
	}
	if dev != nil || parsec.KindOf(claimErr) != parsec.Permission || !strings.Contains(claimErr.Error(), "the greeter could not create your user") ||
		!strings.Contains(claimErr.Error(), "active users") {
		t.Errorf("claimer's Finish: %v, %v; want no device and an error saying the greeter could not create the user", dev, claimErr)
	}
	wantUsers(t, w.c, "alice@example.com")
	if st := invitationStatus(t, w.c, inv.Token); st != protocol.InvitationStatusPending {
		t.Errorf("invitation %s, want PENDING", st)
	}
}

// refusedJoin invites email and runs the whole exchange with the right codes, the greeter
// asking for profile; it returns what each side ended with, for joins the greeter refuses.
func refusedJoin(t *testing.T, ctx context.Context, w *world, email, name string, profile parsec.UserProfile) (client.Invitation, *device.Local, error, error) {
	t.Helper()
	inv, err := w.c.InviteUser(ctx, email, false)
	if err != nil {
		t.Fatal(err)
	}
	dev, greetErr, claimErr := join(t, ctx, w, inv, email, name, createUser(profile))
	return inv, dev, greetErr, claimErr
}

// join runs the exchange of invitation inv with the right codes, the greeter ending it with
// finish; it returns the claimer's device and what each side ended with.
func join(t *testing.T, ctx context.Context, w *world, inv client.Invitation, email, name string, finish greeterFinish) (*device.Local, error, error) {
	t.Helper()
	g := startGreeter(ctx, w.c, inv.Token, finish)
	cl, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.ConfirmGreeterCode(ctx, g.waitCode(t, ctx)); err != nil {
		t.Fatal(err)
	}
	g.pick <- cl.Code()
	if err := cl.WaitGreeterTrust(ctx); err != nil {
		t.Fatal(err)
	}
	dev, claimErr := cl.Finish(ctx, t.TempDir(), mustHandle(t, email, name), "phone", []byte("pw"))
	return dev, g.wait(t, ctx), claimErr
}

// stepPayload is a step payload of the exchange as a lying server sees it: every field is a
// byte string.
type stepPayload map[string][]byte

func decodePayload(t *testing.T, b []byte) stepPayload {
	var p stepPayload
	if err := codec.Unmarshal(b, &p); err != nil {
		t.Errorf("lying server: cannot decode a step payload: %v", err)
	}
	return p
}

// rewriteField returns a LieStep that replaces one field of the payload that one side
// receives at one step.
func rewriteField(t *testing.T, cmd string, step int, field string, forge func(genuine []byte) []byte) func(string, int, []byte) []byte {
	return func(c string, s int, payload []byte) []byte {
		if c != cmd || s != step {
			return payload
		}
		p := decodePayload(t, payload)
		if _, ok := p[field]; !ok {
			t.Errorf("step %d payload has no field %q: %v", step, field, p)
			return payload
		}
		p[field] = forge(p[field])
		return codec.MustMarshal(p)
	}
}

// TestInviteLyingServerSwapsKeys is the man-in-the-middle: the server substitutes the public
// values that the two sides exchange. Each side then derives other secrets, so the codes
// the people read to each other do not match, and the exchange stops before any user is
// created.
func TestInviteLyingServerSwapsKeys(t *testing.T) {
	t.Parallel()
	// The attacker's own keys.
	x, ek := crypto.NewInviteGreeter().PublicKeys()
	attackerX25519 := func([]byte) []byte { return x }
	attackerMLKEMKey := func([]byte) []byte { return ek }
	tests := []struct {
		name string
		lie  func(t *testing.T) func(string, int, []byte) []byte
	}{
		{"claimer's X25519 key seen by the greeter", func(t *testing.T) func(string, int, []byte) []byte {
			return rewriteField(t, protocol.CmdGreeterStep, 0, "x25519", attackerX25519)
		}},
		{"greeter's X25519 key seen by the claimer", func(t *testing.T) func(string, int, []byte) []byte {
			return rewriteField(t, protocol.CmdClaimerStep, 0, "x25519", attackerX25519)
		}},
		{"greeter's ML-KEM key seen by the claimer", func(t *testing.T) func(string, int, []byte) []byte {
			return rewriteField(t, protocol.CmdClaimerStep, 0, "mlkem_ek", attackerMLKEMKey)
		}},
		{"ML-KEM ciphertext seen by the greeter", func(t *testing.T) func(string, int, []byte) []byte {
			// The attacker encapsulates a secret of its own to the greeter's genuine ML-KEM
			// key, seen in step 0 on its way to the claimer.
			var mu sync.Mutex
			var greeterEK []byte
			forge := rewriteField(t, protocol.CmdGreeterStep, 1, "mlkem_ct", func([]byte) []byte {
				mu.Lock()
				defer mu.Unlock()
				ek, err := mlkem.NewEncapsulationKey768(greeterEK)
				if err != nil {
					t.Errorf("attacker: the greeter's ML-KEM key: %v", err)
					return nil
				}
				_, ct := ek.Encapsulate()
				return ct
			})
			return func(c string, s int, payload []byte) []byte {
				if c == protocol.CmdClaimerStep && s == 0 {
					mu.Lock()
					greeterEK = decodePayload(t, payload)["mlkem_ek"]
					mu.Unlock()
				}
				return forge(c, s, payload)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
			defer cancel()
			inv, err := w.c.InviteUser(ctx, "bob@example.com", false)
			if err != nil {
				t.Fatal(err)
			}
			w.srv.LieStep = tc.lie(t)
			g := startGreeter(ctx, w.c, inv.Token, createUser(parsec.ProfileAdmin))
			cl, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := cl.Start(ctx); err != nil {
				t.Fatalf("claimer Start: %v", err)
			}
			// The greeter reads its code aloud; the claimer's person looks for it among its
			// four choices and, not finding it, says so.
			code := g.waitCode(t, ctx)
			err = cl.ConfirmGreeterCode(ctx, code)
			if parsec.KindOf(err) != parsec.Cancelled || !strings.Contains(err.Error(), client.InterceptionWarning) {
				t.Fatalf("ConfirmGreeterCode with the greeter's code %s: %v; want it rejected with the interception warning", code, err)
			}
			greeterErr := g.wait(t, ctx)
			if parsec.KindOf(greeterErr) != parsec.Cancelled || !strings.Contains(greeterErr.Error(), client.InterceptionWarning) {
				t.Errorf("greeter: %v; want kind Cancelled with the interception warning", greeterErr)
			}
			wantCancelledBy(t, lastAttempt(t, w.srv, inv.Token), metastore.SideClaimer, protocol.CancelInvalidSASCode)
			w.srv.LieStep = nil
			wantUsers(t, w.c, "alice@example.com")
			if st := invitationStatus(t, w.c, inv.Token); st != protocol.InvitationStatusPending {
				t.Errorf("invitation %s, want PENDING", st)
			}
		})
	}
}

// TestInviteLyingServerTampers: a server that alters the revealed nonce or an encrypted
// payload is caught, and the attempt cancelled with the matching reason.
func TestInviteLyingServerTampers(t *testing.T) {
	t.Parallel()
	flip := func(b []byte) []byte {
		out := bytes.Clone(b)
		out[len(out)/2] ^= 0x40
		return out
	}
	tests := []struct {
		name   string
		cmd    string // whose reply is rewritten
		step   int
		field  string // "" for the whole (encrypted) payload
		origin string // the side that detects the lie and cancels
		reason string
	}{
		{"claimer's nonce not matching its commitment", protocol.CmdGreeterStep, 3, "nonce", metastore.SideGreeter, protocol.CancelInvalidNonceHash},
		{"claimer's request", protocol.CmdGreeterStep, 6, "", metastore.SideGreeter, protocol.CancelUndecipherablePayload},
		{"greeter's confirmation", protocol.CmdClaimerStep, 7, "", metastore.SideClaimer, protocol.CancelUndecipherablePayload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
			defer cancel()
			inv, err := w.c.InviteUser(ctx, "bob@example.com", false)
			if err != nil {
				t.Fatal(err)
			}
			if tc.field != "" {
				w.srv.LieStep = rewriteField(t, tc.cmd, tc.step, tc.field, flip)
			} else {
				w.srv.LieStep = func(c string, s int, payload []byte) []byte {
					if c == tc.cmd && s == tc.step {
						return flip(payload)
					}
					return payload
				}
			}
			g := startGreeter(ctx, w.c, inv.Token, createUser(parsec.ProfileStandard))
			cl, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{})
			if err != nil {
				t.Fatal(err)
			}
			claimerErr := func() error {
				if err := cl.Start(ctx); err != nil {
					return err
				}
				var code crypto.SASCode
				select {
				case code = <-g.code:
				case err := <-g.done:
					// The greeter caught the lie before showing a code; the claimer's person
					// then tries each code, and is told the greeter stopped.
					g.done <- err
					for _, c := range cl.GreeterCodeChoices() {
						if err := cl.ConfirmGreeterCode(ctx, c); err == nil || !strings.Contains(err.Error(), "wrong code") {
							return err
						}
					}
					return errors.New("every code was wrong")
				}
				if err := cl.ConfirmGreeterCode(ctx, code); err != nil {
					return err
				}
				select {
				case <-g.choices:
				case err := <-g.done:
					g.done <- err
				}
				g.pick <- cl.Code()
				if err := cl.WaitGreeterTrust(ctx); err != nil {
					return err
				}
				_, err := cl.Finish(ctx, t.TempDir(), mustHandle(t, "bob@example.com", "Bob"), "phone", []byte("pw"))
				return err
			}()
			greeterErr := g.wait(t, ctx)
			detector, peer := greeterErr, claimerErr
			if tc.origin == metastore.SideClaimer {
				detector, peer = claimerErr, greeterErr
			}
			if parsec.KindOf(detector) != parsec.Tampered || !strings.Contains(detector.Error(), client.InterceptionWarning) {
				t.Errorf("the side that received the altered data: %v; want kind Tampered with the interception warning", detector)
			}
			if parsec.KindOf(peer) != parsec.Cancelled || !strings.Contains(peer.Error(), tc.reason) {
				t.Errorf("the other side: %v; want kind Cancelled naming %s", peer, tc.reason)
			}
			wantCancelledBy(t, lastAttempt(t, w.srv, inv.Token), tc.origin, tc.reason)
			if st := invitationStatus(t, w.c, inv.Token); st != protocol.InvitationStatusPending {
				t.Errorf("invitation %s, want PENDING", st)
			}
		})
	}
}

// TestInviteGreetStartedTwice: the same greeter starts greeting in a second window while
// the first still waits for the claimer. The last to start wins: the first window stops
// with a clear message instead of taking the attempt back, and the second one greets.
func TestInviteGreetStartedTwice(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
	defer cancel()
	inv, err := w.c.InviteUser(ctx, "bob@example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	waiting := make(chan struct{})
	var once sync.Once
	w.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdGreeterStep {
			once.Do(func() { close(waiting) })
		}
		return reply
	}
	first := make(chan error, 1)
	go func() {
		_, err := w.c.Greet(ctx, inv.Token)
		first <- err
	}()
	select {
	case <-waiting:
	case <-ctx.Done():
		t.Fatal("the first window never waited for the claimer")
	}
	g := startGreeter(ctx, w.c, inv.Token, createUser(parsec.ProfileStandard))
	select {
	case err = <-first:
	case <-ctx.Done():
		t.Fatal("the first window did not stop")
	}
	if parsec.KindOf(err) != parsec.Cancelled || !strings.Contains(err.Error(), "elsewhere") {
		t.Errorf("first window: %v; want kind Cancelled saying the exchange was started elsewhere", err)
	}
	bob := claim(t, ctx, inv.Link, g, mustHandle(t, "bob@example.com", "Bob"), "phone")
	wantUsers(t, bob.Open(t), "alice@example.com", "bob@example.com")
}

// TestInviteUserSeveralAdministrators: every Administrator may greet a user invitation. The
// claimer starts an attempt with each; the first who joins greets, and the claimer cancels
// the others.
func TestInviteUserSeveralAdministrators(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
	defer cancel()
	inv, err := w.c.InviteUser(ctx, "carol@example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	carol := claim(t, ctx, inv.Link, startGreeter(ctx, w.c, inv.Token, createUser(parsec.ProfileAdmin)), mustHandle(t, "carol@example.com", "Carol"), "desktop")
	cc := carol.Open(t)

	// alice invites bob; carol greets him.
	inv, err = w.c.InviteUser(ctx, "bob@example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := client.NewClaim(ctx, inv.Link, client.ClaimOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var greeters []string
	for _, g := range cl.Info().Greeters {
		greeters = append(greeters, g.HumanHandle.Email)
	}
	if strings.Join(greeters, " ") != "alice@example.com carol@example.com" {
		t.Fatalf("greeters %v, want alice and carol", greeters)
	}
	g := startGreeter(ctx, cc, inv.Token, createUser(parsec.ProfileStandard))
	if err := cl.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if cl.Greeter().UserID != carol.Device.UserID {
		t.Fatalf("greeted by %s, want carol", cl.Greeter().HumanHandle)
	}
	// The attempt with alice was cancelled by the claimer.
	var withAlice []metastore.GreetingAttempt
	err = w.srv.Store.View(ctx, func(tx metastore.Tx) error {
		attempts, err := tx.GreetingAttempts("Acme", inv.Token)
		for _, a := range attempts {
			if a.Greeter == w.alice.Device.UserID {
				withAlice = append(withAlice, a)
			}
		}
		return err
	})
	if err != nil || len(withAlice) != 1 {
		t.Fatalf("attempts with alice: %+v (%v), want one", withAlice, err)
	}
	wantCancelledBy(t, withAlice[0], metastore.SideClaimer, protocol.CancelManually)
	if err := cl.ConfirmGreeterCode(ctx, g.waitCode(t, ctx)); err != nil {
		t.Fatal(err)
	}
	g.waitChoices(t, ctx)
	g.pick <- cl.Code()
	if err := cl.WaitGreeterTrust(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Finish(ctx, t.TempDir(), mustHandle(t, "bob@example.com", "Bob"), "phone", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if err := g.wait(t, ctx); err != nil {
		t.Fatal(err)
	}
	users := wantUsers(t, w.c, "alice@example.com", "carol@example.com", "bob@example.com")
	if users[1].Profile != parsec.ProfileAdmin || users[2].Profile != parsec.ProfileStandard || *users[2].CreatedBy != carol.Device.DeviceID {
		t.Errorf("users %+v", users)
	}
}

// TestInviteCtrlCWhileWaiting: Ctrl-C while one side waits for the other to show up cancels
// the attempt too.
func TestInviteCtrlCWhileWaiting(t *testing.T) {
	t.Parallel()
	for _, side := range []string{metastore.SideGreeter, metastore.SideClaimer} {
		t.Run(side, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
			defer cancel()
			inv, err := w.c.InviteUser(ctx, "bob@example.com", false)
			if err != nil {
				t.Fatal(err)
			}
			cmd := map[string]string{metastore.SideGreeter: protocol.CmdGreeterStep, metastore.SideClaimer: protocol.CmdClaimerStep}[side]
			waiting := make(chan struct{})
			var once sync.Once
			w.srv.Lie = func(c string, reply []byte) []byte {
				if c == cmd {
					once.Do(func() { close(waiting) })
				}
				return reply
			}
			wctx, ctrlC := context.WithCancel(ctx)
			defer ctrlC()
			done := make(chan error, 1)
			go func() {
				if side == metastore.SideGreeter {
					_, err := w.c.Greet(wctx, inv.Token)
					done <- err
					return
				}
				cl, err := client.NewClaim(wctx, inv.Link, client.ClaimOptions{})
				if err == nil {
					err = cl.Start(wctx)
				}
				done <- err
			}()
			select {
			case <-waiting:
			case <-ctx.Done():
				t.Fatal("never waited for the other side")
			}
			ctrlC()
			select {
			case err = <-done:
			case <-ctx.Done():
				t.Fatal("Ctrl-C did not stop the wait")
			}
			if parsec.KindOf(err) != parsec.Cancelled || !strings.Contains(err.Error(), "cancelled") {
				t.Errorf("after Ctrl-C: %v, want kind Cancelled", err)
			}
			wantCancelledBy(t, lastAttempt(t, w.srv, inv.Token), side, protocol.CancelManually)
		})
	}
}

// TestCreateUserAfterCancel: the codes were exchanged, and the invitation is cancelled (by
// another Administrator) before the greeter creates the user. Before, the user was created
// anyway, an Administrator whose only device the claimer then threw away, and bob's email
// could not be invited again. Now nothing is created, and bob can be invited again.
func TestCreateUserAfterCancel(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithTimeout(t.Context(), exchangeTimeout)
	defer cancel()
	inv, err := w.c.InviteUser(ctx, "bob@example.com", false)
	if err != nil {
		t.Fatal(err)
	}
	_, greetErr, claimErr := join(t, ctx, w, inv, "bob@example.com", "Bob", func(ctx context.Context, g *client.Greeting, req client.UserRequest) error {
		if err := w.c.CancelInvitation(ctx, inv.Token); err != nil {
			t.Errorf("cancel: %v", err)
		}
		_, err := g.CreateUser(ctx, req.HumanHandle, req.DeviceLabel, parsec.ProfileAdmin)
		return err
	})
	if parsec.KindOf(greetErr) != parsec.Gone {
		t.Errorf("the greeter's CreateUser after the cancellation: %v, want it gone", greetErr)
	}
	if claimErr == nil {
		t.Error("the claimer finished")
	}
	poll(t, w.c)
	if users := w.c.Users(); len(users) != 1 {
		t.Errorf("%d users after the invitation was cancelled before CreateUser, want alice alone", len(users))
	}
	if _, err := w.c.InviteUser(ctx, "bob@example.com", false); err != nil {
		t.Errorf("inviting bob again: %v", err)
	}
}
