package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/mail"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Tests of invitations, the greeting mailbox, user_create and device_create.

// newDeviceCert prepares a new device of m's user, certified by m's device at time at.
func newDeviceCert(m *member, at parsec.DateTime) (certif.DeviceCertificate, crypto.SigningKey) {
	key := crypto.GenerateSigningKey()
	label := "new device"
	return certif.DeviceCertificate{
		Author: &m.device, Timestamp: at, UserID: m.user, DeviceID: parsec.NewDeviceID(), DeviceLabel: &label,
		VerifyKey: key.VerifyKey(), Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose,
	}, key
}

// signDeviceCreate signs a device certificate and its redacted copy with key.
func signDeviceCreate(key crypto.SigningKey, d certif.DeviceCertificate) protocol.DeviceCreateReq {
	rd := d
	rd.DeviceLabel = nil
	return protocol.DeviceCreateReq{DeviceCertificate: certif.Sign(key, &d), RedactedDeviceCertificate: certif.Sign(key, &rd)}
}

// wantStatusError returns the status error of a reply, failing the test for any other outcome.
func wantStatusError(t *testing.T, err error, status protocol.Status) *protocol.StatusError {
	t.Helper()
	wantStatus(t, err, status)
	var se *protocol.StatusError
	errors.As(err, &se)
	return se
}

// fakeMail records the messages it is asked to send and fails with err.
type fakeMail struct {
	err  error
	mu   sync.Mutex
	sent []mail.Message
}

func (f *fakeMail) Send(ctx context.Context, m mail.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return f.err
}

func (f *fakeMail) messages() []mail.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]mail.Message(nil), f.sent...)
}

// inviteUsers are the users of the invitation tests: two Administrators (alice, carol), a
// Member (bob) and an External user (dave).
const inviteUsers = "alice:admin carol:admin bob:member dave:external"

// inviteCast is a world of inviteUsers with its members at hand, for cases written before
// their world exists.
type inviteCast struct {
	w                       *world
	alice, carol, bob, dave *member
}

func newInviteCast(t *testing.T) inviteCast {
	t.Helper()
	w := newWorld(t, inviteUsers)
	return inviteCast{w, w.user("alice"), w.user("carol"), w.user("bob"), w.user("dave")}
}

func (w *world) inviteUser(t *testing.T, by *member, email string) parsec.AccessToken {
	t.Helper()
	var rep protocol.InviteNewRep
	wantStatus(t, w.call(t, by, protocol.CmdInviteNewUser, protocol.InviteNewUserReq{ClaimerEmail: email}, &rep), protocol.StatusOK)
	if rep.EmailSent != protocol.EmailNotRequested {
		t.Errorf("email status %q without send_email", rep.EmailSent)
	}
	return rep.Token
}

func (w *world) inviteDevice(t *testing.T, by *member) parsec.AccessToken {
	t.Helper()
	var rep protocol.InviteNewRep
	wantStatus(t, w.call(t, by, protocol.CmdInviteNewDevice, protocol.InviteNewDeviceReq{}, &rep), protocol.StatusOK)
	return rep.Token
}

func (w *world) invitation(t *testing.T, token parsec.AccessToken) metastore.Invitation {
	t.Helper()
	return stored(t, w, func(tx metastore.Tx) (metastore.Invitation, error) { return tx.Invitation(w.org, token) })
}

func (w *world) invitations(t *testing.T) []metastore.Invitation {
	t.Helper()
	return stored(t, w, func(tx metastore.Tx) ([]metastore.Invitation, error) { return tx.Invitations(w.org) })
}

func (w *world) attempt(t *testing.T, id parsec.GreetingAttemptID) metastore.GreetingAttempt {
	t.Helper()
	return stored(t, w, func(tx metastore.Tx) (metastore.GreetingAttempt, error) { return tx.GreetingAttempt(w.org, id) })
}

func (w *world) list(t *testing.T, m *member) []protocol.InvitationInfo {
	t.Helper()
	var rep protocol.InviteListRep
	wantStatus(t, w.call(t, m, protocol.CmdInviteList, protocol.InviteListReq{}, &rep), protocol.StatusOK)
	return rep.Invitations
}

// The invited family authenticates with "Bearer <token hex>".

func invitedAuth(token parsec.AccessToken) string {
	return protocol.InvitedScheme + " " + token.String()
}

func (w *world) invitedRequest(t *testing.T, org parsec.OrganizationID, auth, cmd string, args any) *http.Request {
	t.Helper()
	req := w.rpcRequest(t, protocol.RouteInvited+string(org), encodeRequest(t, cmd, args))
	if auth != "" {
		req.Header.Set(protocol.HeaderAuthorization, auth)
	}
	return req
}

// claimer calls a command of the invited family with an invitation token; the HTTP status
// must be 200.
func (w *world) claimer(t *testing.T, token parsec.AccessToken, cmd string, args, rep any) error {
	t.Helper()
	return decodeReply(t, w.do(t, w.invitedRequest(t, "Acme", invitedAuth(token), cmd, args)), rep)
}

// claimerHTTP calls a command of the invited family and returns the HTTP status.
func (w *world) claimerHTTP(t *testing.T, token parsec.AccessToken, cmd string, args any) int {
	t.Helper()
	return w.do(t, w.invitedRequest(t, "Acme", invitedAuth(token), cmd, args)).code
}

func (w *world) greeterStart(t *testing.T, m *member, token parsec.AccessToken) parsec.GreetingAttemptID {
	t.Helper()
	var rep protocol.StartAttemptRep
	wantStatus(t, w.call(t, m, protocol.CmdGreeterStartAttempt, protocol.GreeterStartAttemptReq{Token: token}, &rep), protocol.StatusOK)
	return rep.GreetingAttempt
}

func (w *world) claimerStart(t *testing.T, token parsec.AccessToken, greeter parsec.UserID) parsec.GreetingAttemptID {
	t.Helper()
	var rep protocol.StartAttemptRep
	wantStatus(t, w.claimer(t, token, protocol.CmdClaimerStartAttempt, protocol.ClaimerStartAttemptReq{Greeter: greeter}, &rep), protocol.StatusOK)
	return rep.GreetingAttempt
}

func (w *world) greeterStep(t *testing.T, m *member, a parsec.GreetingAttemptID, step int, payload []byte) ([]byte, error) {
	t.Helper()
	var rep protocol.StepRep
	err := w.call(t, m, protocol.CmdGreeterStep, protocol.StepReq{GreetingAttempt: a, Step: step, Payload: payload}, &rep)
	return rep.Payload, err
}

func (w *world) claimerStep(t *testing.T, token parsec.AccessToken, a parsec.GreetingAttemptID, step int, payload []byte) ([]byte, error) {
	t.Helper()
	var rep protocol.StepRep
	err := w.claimer(t, token, protocol.CmdClaimerStep, protocol.StepReq{GreetingAttempt: a, Step: step, Payload: payload}, &rep)
	return rep.Payload, err
}

// exchangeSteps runs steps from to to (included) of an attempt: the greeter sends first and
// is told not_ready, the claimer's send completes the step, and the greeter's poll gets it.
func (w *world) exchangeSteps(t *testing.T, greeter *member, token parsec.AccessToken, a parsec.GreetingAttemptID, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		g, c := []byte(fmt.Sprintf("greeter %d", i)), []byte(fmt.Sprintf("claimer %d", i))
		_, err := w.greeterStep(t, greeter, a, i, g)
		wantStatus(t, err, protocol.StatusNotReady)
		got, err := w.claimerStep(t, token, a, i, c)
		wantStatus(t, err, protocol.StatusOK)
		if !bytes.Equal(got, g) {
			t.Fatalf("step %d: claimer got %q, want %q", i, got, g)
		}
		got, err = w.greeterStep(t, greeter, a, i, g)
		wantStatus(t, err, protocol.StatusOK)
		if !bytes.Equal(got, c) {
			t.Fatalf("step %d: greeter got %q, want %q", i, got, c)
		}
	}
}

func TestInviteNewUser(t *testing.T) {
	w := newWorld(t, inviteUsers)
	alice, carol, bob, dave := w.user("alice"), w.user("carol"), w.user("bob"), w.user("dave")
	erin := w.createUser(t, alice, "erin", parsec.ProfileAdmin)
	w.setUser(t, erin, func(u *metastore.User) { u.Profile = parsec.ProfileStandard }) // demoted
	tests := []struct {
		name   string
		by     *member
		email  string
		status protocol.Status
	}{
		{"administrator", alice, "zoe@example.com", protocol.StatusOK},
		{"standard user", bob, "yan@example.com", protocol.StatusAuthorNotAllowed},
		{"external user", dave, "yan@example.com", protocol.StatusAuthorNotAllowed},
		{"demoted administrator", erin, "yan@example.com", protocol.StatusAuthorNotAllowed},
		{"email of an active member", alice, "bob@example.com", protocol.StatusClaimerEmailAlreadyTaken},
		{"own email", carol, "carol@example.com", protocol.StatusClaimerEmailAlreadyTaken},
		{"email of an active member, other case", alice, "Bob@Example.COM", protocol.StatusClaimerEmailAlreadyTaken},
		{"malformed email", alice, "not an email", protocol.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.invitations(t))
			var rep protocol.InviteNewRep
			wantStatus(t, w.call(t, tc.by, protocol.CmdInviteNewUser, protocol.InviteNewUserReq{ClaimerEmail: tc.email}, &rep), tc.status)
			after := w.invitations(t)
			if tc.status != protocol.StatusOK {
				if len(after) != before {
					t.Fatalf("%d invitations after a refusal, want %d", len(after), before)
				}
				return
			}
			want := metastore.Invitation{Token: rep.Token, Type: metastore.InvitationUser, CreatedOn: w.clock.Now(),
				CreatedBy: tc.by.user, CreatedByDevice: tc.by.device, ClaimerEmail: tc.email}
			if diff := cmp.Diff(want, w.invitation(t, rep.Token)); diff != "" {
				t.Errorf("stored invitation (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("same email twice", func(t *testing.T) {
		first := w.inviteUser(t, alice, "xavier@example.com")
		before := len(w.invitations(t))
		w.tick()
		for _, tc := range []struct {
			by    *member
			email string
		}{{alice, "xavier@example.com"}, {carol, "xavier@example.com"}, {carol, " Xavier@EXAMPLE.com "}} {
			if again := w.inviteUser(t, tc.by, tc.email); again != first {
				t.Errorf("%s inviting %q: token %s, want the pending invitation's %s", tc.by.email, tc.email, again, first)
			}
		}
		if n := len(w.invitations(t)); n != before {
			t.Errorf("%d invitations, want %d: no new one", n, before)
		}
		if inv := w.invitation(t, first); inv.CreatedBy != alice.user {
			t.Errorf("invitation now created by %s, want alice", inv.CreatedBy)
		}
		// Once cancelled, a new invitation is created for the same email.
		wantStatus(t, w.call(t, alice, protocol.CmdInviteCancel, protocol.InviteTokenReq{Token: first}, nil), protocol.StatusOK)
		if again := w.inviteUser(t, alice, "xavier@example.com"); again == first {
			t.Error("inviting again after the cancellation returned the cancelled invitation")
		}
	})

	t.Run("email of a revoked user", func(t *testing.T) {
		w.setUser(t, dave, func(u *metastore.User) { u.RevokedOn, u.RevokedBy = w.clock.Now(), &alice.device })
		token := w.inviteUser(t, alice, "dave@example.com")
		if inv := w.invitation(t, token); inv.ClaimerEmail != "dave@example.com" || !inv.Pending() {
			t.Errorf("invitation %+v", inv)
		}
	})
}

func TestInviteNewDevice(t *testing.T) {
	w := newWorld(t, inviteUsers)
	alice, bob, dave := w.user("alice"), w.user("bob"), w.user("dave")
	tokens := map[parsec.AccessToken]*member{}
	for _, m := range []*member{alice, bob, dave} {
		t.Run(m.email, func(t *testing.T) {
			token := w.inviteDevice(t, m)
			want := metastore.Invitation{Token: token, Type: metastore.InvitationDevice, CreatedOn: w.clock.Now(),
				CreatedBy: m.user, CreatedByDevice: m.device, ClaimerUserID: m.user}
			if diff := cmp.Diff(want, w.invitation(t, token)); diff != "" {
				t.Errorf("stored invitation (-want +got):\n%s", diff)
			}
			if other, ok := tokens[token]; ok {
				t.Fatalf("same token as %s's invitation", other.email)
			}
			tokens[token] = m
			w.tick()
			if again := w.inviteDevice(t, m); again != token {
				t.Errorf("second invitation %s, want the pending %s", again, token)
			}
		})
	}
	if n := len(w.invitations(t)); n != 3 {
		t.Errorf("%d invitations, want 3", n)
	}
}

func TestInvitationEmail(t *testing.T) {
	refused := fmt.Errorf("smtp: RCPT TO: 550 no such user: %w", mail.ErrRecipientRefused)
	tests := []struct {
		name   string
		sender mail.Sender // nil: the server has none
		device bool
		want   string
	}{
		{"sent", &fakeMail{}, false, protocol.EmailSent},
		{"recipient refused", &fakeMail{err: refused}, false, protocol.EmailRecipientRefused},
		{"server unavailable", &fakeMail{err: fmt.Errorf("dial tcp: connection refused: %w", mail.ErrUnavailable)}, false, protocol.EmailServerUnavailable},
		{"unclassified error", &fakeMail{err: errors.New("boom")}, false, protocol.EmailServerUnavailable},
		{"no sender", nil, false, protocol.EmailServerUnavailable},
		{"device, sent", &fakeMail{}, true, protocol.EmailSent},
		{"device, recipient refused", &fakeMail{err: refused}, true, protocol.EmailRecipientRefused},
		{"device, no sender", nil, true, protocol.EmailServerUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, inviteUsers, func(c *Config) { c.Mail = tc.sender })
			alice, bob := w.user("alice"), w.user("bob")
			var rep protocol.InviteNewRep
			var err error
			if tc.device {
				err = w.call(t, bob, protocol.CmdInviteNewDevice, protocol.InviteNewDeviceReq{SendEmail: true}, &rep)
			} else {
				err = w.call(t, alice, protocol.CmdInviteNewUser, protocol.InviteNewUserReq{ClaimerEmail: "zoe@example.com", SendEmail: true}, &rep)
			}
			wantStatus(t, err, protocol.StatusOK)
			if rep.EmailSent != tc.want {
				t.Errorf("email status %q, want %q", rep.EmailSent, tc.want)
			}
			// The invitation exists whatever became of the email.
			inv := w.invitation(t, rep.Token)
			if !inv.Pending() {
				t.Errorf("invitation %+v", inv)
			}
			fm, ok := tc.sender.(*fakeMail)
			if !ok {
				return
			}
			msgs := fm.messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages sent, want 1", len(msgs))
			}
			link := w.srv.claimLink("Acme", inv).HTTPRedirect()
			m := msgs[0]
			wantTo, wantReplyTo, greeter := "zoe@example.com", `"alice" <alice@example.com>`, "alice"
			if tc.device {
				wantTo, wantReplyTo, greeter = `"bob" <bob@example.com>`, "", "your Parsec account"
			}
			if m.To != wantTo || m.ReplyTo != wantReplyTo || !strings.Contains(m.Subject, "Acme") ||
				!strings.Contains(m.Text, link) || !strings.Contains(m.Text, greeter) {
				t.Errorf("message To %q Reply-To %q Subject %q, want To %q Reply-To %q and the link %s in:\n%s",
					m.To, m.ReplyTo, m.Subject, wantTo, wantReplyTo, link, m.Text)
			}
			// Asking again returns the same invitation, and sends the email again.
			var again protocol.InviteNewRep
			if tc.device {
				err = w.call(t, bob, protocol.CmdInviteNewDevice, protocol.InviteNewDeviceReq{SendEmail: true}, &again)
			} else {
				err = w.call(t, alice, protocol.CmdInviteNewUser, protocol.InviteNewUserReq{ClaimerEmail: "zoe@example.com", SendEmail: true}, &again)
			}
			wantStatus(t, err, protocol.StatusOK)
			if again.Token != rep.Token || len(fm.messages()) != 2 {
				t.Errorf("second request: token %s (want %s), %d messages (want 2)", again.Token, rep.Token, len(fm.messages()))
			}
		})
	}
	t.Run("not requested", func(t *testing.T) {
		fm := &fakeMail{}
		w := newWorld(t, inviteUsers, func(c *Config) { c.Mail = fm })
		alice := w.user("alice")
		w.inviteUser(t, alice, "zoe@example.com")
		w.inviteDevice(t, alice)
		if n := len(fm.messages()); n != 0 {
			t.Errorf("%d messages sent without send_email", n)
		}
	})
}

func TestInviteList(t *testing.T) {
	w := newWorld(t, inviteUsers)
	alice, carol, bob, dave := w.user("alice"), w.user("carol"), w.user("bob"), w.user("dave")
	info := func(token parsec.AccessToken, status string) protocol.InvitationInfo {
		inv := w.invitation(t, token)
		i := protocol.InvitationInfo{Token: token, Type: inv.Type, CreatedOn: inv.CreatedOn, CreatedBy: inv.CreatedBy,
			Status: status, ClaimerEmail: inv.ClaimerEmail}
		if inv.Type == metastore.InvitationDevice {
			id := inv.ClaimerUserID
			i.ClaimerUserID = &id
		}
		return i
	}
	w.tick()
	finished := w.inviteUser(t, alice, "zoe@example.com")
	w.tick()
	cancelled := w.inviteUser(t, carol, "yan@example.com")
	w.tick()
	pending := w.inviteUser(t, carol, "xavier@example.com")
	w.tick()
	aliceDevice := w.inviteDevice(t, alice)
	w.tick()
	bobDevice := w.inviteDevice(t, bob)
	wantStatus(t, w.call(t, alice, protocol.CmdInviteComplete, protocol.InviteTokenReq{Token: finished}, nil), protocol.StatusOK)
	wantStatus(t, w.call(t, alice, protocol.CmdInviteCancel, protocol.InviteTokenReq{Token: cancelled}, nil), protocol.StatusOK)

	users := []protocol.InvitationInfo{
		info(finished, protocol.InvitationStatusFinished),
		info(cancelled, protocol.InvitationStatusCanceled),
		info(pending, protocol.InvitationStatusPending),
	}
	tests := []struct {
		name string
		m    *member
		want []protocol.InvitationInfo
	}{
		{"administrator with a device invitation", alice, append(users[:3:3], info(aliceDevice, protocol.InvitationStatusPending))},
		{"other administrator", carol, users},
		{"standard user", bob, []protocol.InvitationInfo{info(bobDevice, protocol.InvitationStatusPending)}},
		{"external user", dave, []protocol.InvitationInfo{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, w.list(t, tc.m)); diff != "" {
				t.Errorf("invite_list (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("promoted to administrator", func(t *testing.T) {
		w.setUser(t, bob, func(u *metastore.User) { u.Profile = parsec.ProfileAdmin })
		want := append(users[:3:3], info(bobDevice, protocol.InvitationStatusPending))
		if diff := cmp.Diff(want, w.list(t, bob)); diff != "" {
			t.Errorf("invite_list (-want +got):\n%s", diff)
		}
	})
}

func TestInviteCancelAndComplete(t *testing.T) {
	w := newWorld(t, inviteUsers)
	alice, carol, bob, dave := w.user("alice"), w.user("carol"), w.user("bob"), w.user("dave")
	user := w.inviteUser(t, alice, "zoe@example.com")
	other := w.inviteUser(t, alice, "yves@example.com")
	aliceDevice := w.inviteDevice(t, alice)
	bobDevice := w.inviteDevice(t, bob)
	daveDevice := w.inviteDevice(t, dave)
	// yves became a member (the greeter created him) before the invitation was completed:
	// as its claimer, he may complete it himself.
	yves := w.createUser(t, alice, "yves", parsec.ProfileStandard)
	unknown := parsec.NewAccessToken()

	// The steps run in order: each one sees what the previous ones did.
	tests := []struct {
		name   string
		by     *member
		cmd    string
		token  parsec.AccessToken
		status protocol.Status
		after  string // the invitation's deletion reason afterwards
	}{
		{"cancel unknown", alice, protocol.CmdInviteCancel, unknown, protocol.StatusInvitationNotFound, ""},
		{"complete unknown", alice, protocol.CmdInviteComplete, unknown, protocol.StatusInvitationNotFound, ""},
		{"standard user cancels a user invitation", bob, protocol.CmdInviteCancel, user, protocol.StatusAuthorNotAllowed, ""},
		{"standard user completes a user invitation", bob, protocol.CmdInviteComplete, user, protocol.StatusAuthorNotAllowed, ""},
		{"another user cancels a device invitation", bob, protocol.CmdInviteCancel, aliceDevice, protocol.StatusAuthorNotAllowed, ""},
		{"administrator cancels someone's device invitation", alice, protocol.CmdInviteCancel, bobDevice, protocol.StatusAuthorNotAllowed, ""},
		{"administrator completes someone's device invitation", carol, protocol.CmdInviteComplete, daveDevice, protocol.StatusAuthorNotAllowed, ""},
		{"another administrator cancels", carol, protocol.CmdInviteCancel, user, protocol.StatusOK, metastore.DeletedCancelled},
		{"cancel twice", alice, protocol.CmdInviteCancel, user, protocol.StatusInvitationAlreadyCancelled, metastore.DeletedCancelled},
		{"complete after cancel", alice, protocol.CmdInviteComplete, user, protocol.StatusInvitationCancelled, metastore.DeletedCancelled},
		{"owner completes a device invitation", bob, protocol.CmdInviteComplete, bobDevice, protocol.StatusOK, metastore.DeletedFinished},
		{"complete twice", bob, protocol.CmdInviteComplete, bobDevice, protocol.StatusInvitationAlreadyCompleted, metastore.DeletedFinished},
		{"cancel after complete", bob, protocol.CmdInviteCancel, bobDevice, protocol.StatusInvitationCompleted, metastore.DeletedFinished},
		{"external user cancels his device invitation", dave, protocol.CmdInviteCancel, daveDevice, protocol.StatusOK, metastore.DeletedCancelled},
		{"the claimer completes his user invitation", yves, protocol.CmdInviteComplete, other, protocol.StatusOK, metastore.DeletedFinished},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := w.tick()
			wantStatus(t, w.call(t, tc.by, tc.cmd, protocol.InviteTokenReq{Token: tc.token}, nil), tc.status)
			if tc.token == unknown {
				return
			}
			inv := w.invitation(t, tc.token)
			if inv.DeletedReason != tc.after {
				t.Errorf("deletion reason %q, want %q", inv.DeletedReason, tc.after)
			}
			if tc.status == protocol.StatusOK && inv.DeletedOn != at {
				t.Errorf("deleted on %v, want %v", inv.DeletedOn, at)
			}
		})
	}
	t.Run("demoted administrator completes his device invitation", func(t *testing.T) {
		w.setUser(t, alice, func(u *metastore.User) { u.Profile = parsec.ProfileStandard })
		wantStatus(t, w.call(t, alice, protocol.CmdInviteComplete, protocol.InviteTokenReq{Token: aliceDevice}, nil), protocol.StatusOK)
	})
}

func TestInvitedHandshake(t *testing.T) {
	w := newWorld(t, inviteUsers)
	alice, bob := w.user("alice"), w.user("bob")
	pending := w.inviteUser(t, alice, "zoe@example.com")
	cancelled := w.inviteUser(t, alice, "yan@example.com")
	finished := w.inviteDevice(t, bob)
	wantStatus(t, w.call(t, alice, protocol.CmdInviteCancel, protocol.InviteTokenReq{Token: cancelled}, nil), protocol.StatusOK)
	wantStatus(t, w.call(t, bob, protocol.CmdInviteComplete, protocol.InviteTokenReq{Token: finished}, nil), protocol.StatusOK)
	w.bootstrap(t, "Other", "alice")
	tests := []struct {
		name string
		org  parsec.OrganizationID
		auth string
		code int
	}{
		{"pending", "Acme", invitedAuth(pending), http.StatusOK},
		{"no authorization", "Acme", "", http.StatusUnauthorized},
		{"malformed token", "Acme", protocol.InvitedScheme + " " + pending.String()[:30], http.StatusUnauthorized},
		{"not hexadecimal", "Acme", protocol.InvitedScheme + " " + strings.Repeat("z", 32), http.StatusUnauthorized},
		{"other scheme", "Acme", "Basic " + pending.String(), http.StatusUnauthorized},
		{"unknown token", "Acme", invitedAuth(parsec.NewAccessToken()), http.StatusForbidden},
		{"token of another organization", "Other", invitedAuth(pending), http.StatusForbidden},
		{"cancelled", "Acme", invitedAuth(cancelled), http.StatusGone},
		{"finished", "Acme", invitedAuth(finished), http.StatusGone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, cmd := range []string{protocol.CmdInviteInfo, protocol.CmdPing} {
				var args any = protocol.InviteInfoReq{}
				if cmd == protocol.CmdPing {
					args = protocol.PingReq{Ping: "x"}
				}
				if r := w.do(t, w.invitedRequest(t, tc.org, tc.auth, cmd, args)); r.code != tc.code {
					t.Errorf("%s: HTTP %d %q, want %d", cmd, r.code, r.body, tc.code)
				}
			}
		})
	}
}

func TestInviteInfo(t *testing.T) {
	w := newWorld(t, inviteUsers)
	alice, carol, bob, dave := w.user("alice"), w.user("carol"), w.user("bob"), w.user("dave")
	frank := w.createUser(t, alice, "frank", parsec.ProfileAdmin)
	w.setUser(t, frank, func(u *metastore.User) { u.RevokedOn, u.RevokedBy = w.clock.Now(), &alice.device })
	ref := func(m *member) protocol.UserRef {
		name := strings.TrimSuffix(m.email, "@example.com")
		return protocol.UserRef{UserID: m.user, HumanHandle: parsec.HumanHandle{Email: m.email, Label: name}}
	}
	info := func(token parsec.AccessToken) protocol.InviteInfoRep {
		t.Helper()
		var rep protocol.InviteInfoRep
		wantStatus(t, w.claimer(t, token, protocol.CmdInviteInfo, protocol.InviteInfoReq{}, &rep), protocol.StatusOK)
		return rep
	}

	t.Run("user", func(t *testing.T) {
		token := w.inviteUser(t, carol, "zoe@example.com")
		// Greeters are the current administrators, not revoked ones.
		want := protocol.InviteInfoRep{Type: protocol.InvitationTypeUser, ClaimerEmail: "zoe@example.com", CreatedBy: ref(carol),
			Greeters: []protocol.Greeter{{UserRef: ref(alice)}, {UserRef: ref(carol)}}}
		if diff := cmp.Diff(want, info(token)); diff != "" {
			t.Errorf("invite_info (-want +got):\n%s", diff)
		}
		// The last time each greeter joined an attempt is shown.
		joined := w.tick()
		w.greeterStart(t, carol, token)
		w.tick()
		want.Greeters[1].LastAttemptJoinedOn = joined
		if diff := cmp.Diff(want, info(token)); diff != "" {
			t.Errorf("invite_info after carol joined (-want +got):\n%s", diff)
		}
		// A newly promoted administrator may greet; a demoted one may not.
		w.setUser(t, bob, func(u *metastore.User) { u.Profile = parsec.ProfileAdmin })
		w.setUser(t, alice, func(u *metastore.User) { u.Profile = parsec.ProfileStandard })
		want.Greeters = []protocol.Greeter{{UserRef: ref(carol), LastAttemptJoinedOn: joined}, {UserRef: ref(bob)}}
		if diff := cmp.Diff(want, info(token)); diff != "" {
			t.Errorf("invite_info after profile changes (-want +got):\n%s", diff)
		}
	})

	t.Run("device", func(t *testing.T) {
		token := w.inviteDevice(t, dave)
		id, h := dave.user, ref(dave).HumanHandle
		want := protocol.InviteInfoRep{Type: protocol.InvitationTypeDevice, ClaimerUserID: &id, ClaimerHumanHandle: &h,
			CreatedBy: ref(dave), Greeters: []protocol.Greeter{{UserRef: ref(dave)}}}
		if diff := cmp.Diff(want, info(token)); diff != "" {
			t.Errorf("invite_info (-want +got):\n%s", diff)
		}
	})
}

func TestGreetingAttemptStart(t *testing.T) {
	w := newWorld(t, inviteUsers)
	alice, carol, bob, dave := w.user("alice"), w.user("carol"), w.user("bob"), w.user("dave")
	token := w.inviteUser(t, alice, "zoe@example.com")

	// Both sides starting get the same attempt, whoever starts first.
	a := w.greeterStart(t, alice, token)
	if got := w.claimerStart(t, token, alice.user); got != a {
		t.Fatalf("claimer joined %s, greeter %s", got, a)
	}
	b := w.claimerStart(t, token, carol.user)
	if got := w.greeterStart(t, carol, token); got != b || b == a {
		t.Fatalf("with carol: claimer joined %s, greeter %s (alice's attempt %s)", b, got, a)
	}

	// Starting again cancels the previous attempt: the last one to start wins. The peer
	// learns it on its next call, with who cancelled, why and when.
	restarts := []struct {
		name    string
		restart func() parsec.GreetingAttemptID
		peer    func(a parsec.GreetingAttemptID) error
		origin  string
	}{
		{"greeter restarts", func() parsec.GreetingAttemptID { return w.greeterStart(t, alice, token) },
			func(a parsec.GreetingAttemptID) error {
				_, err := w.claimerStep(t, token, a, 0, []byte("c"))
				return err
			},
			metastore.SideGreeter},
		{"claimer restarts", func() parsec.GreetingAttemptID { return w.claimerStart(t, token, alice.user) },
			func(a parsec.GreetingAttemptID) error {
				_, err := w.greeterStep(t, alice, a, 0, []byte("g"))
				return err
			},
			metastore.SideClaimer},
	}
	for _, tc := range restarts {
		t.Run(tc.name, func(t *testing.T) {
			old := a // joined by both sides
			at := w.tick()
			a = tc.restart()
			if a == old {
				t.Fatal("restarting returned the same attempt")
			}
			w.tick()
			se := wantStatusError(t, tc.peer(old), protocol.StatusGreetingAttemptCancelled)
			want := &protocol.AttemptCancelled{Origin: tc.origin, Timestamp: at, Reason: protocol.CancelAutomatically}
			if diff := cmp.Diff(want, se.Detail.AttemptCancelled); diff != "" {
				t.Errorf("cancellation detail (-want +got):\n%s", diff)
			}
			if st := w.attempt(t, old); st.CancelledBy != tc.origin || st.CancelReason != protocol.CancelAutomatically || st.CancelledOn != at {
				t.Errorf("stored attempt %+v", st)
			}
			// The peer joins the new attempt.
			var joined parsec.GreetingAttemptID
			if tc.origin == metastore.SideGreeter {
				joined = w.claimerStart(t, token, alice.user)
			} else {
				joined = w.greeterStart(t, alice, token)
			}
			if joined != a {
				t.Errorf("the peer joined %s, want the new attempt %s", joined, a)
			}
		})
	}
	// carol's attempt was not touched by alice's.
	if st := w.attempt(t, b); !st.Active() {
		t.Errorf("carol's attempt was cancelled: %+v", st)
	}

	device := w.inviteDevice(t, bob)
	cancelled := w.inviteUser(t, alice, "yan@example.com")
	wantStatus(t, w.call(t, alice, protocol.CmdInviteCancel, protocol.InviteTokenReq{Token: cancelled}, nil), protocol.StatusOK)
	completed := w.inviteUser(t, alice, "xavier@example.com")
	wantStatus(t, w.call(t, alice, protocol.CmdInviteComplete, protocol.InviteTokenReq{Token: completed}, nil), protocol.StatusOK)
	frank := w.createUser(t, alice, "frank", parsec.ProfileAdmin)
	w.setUser(t, frank, func(u *metastore.User) { u.RevokedOn, u.RevokedBy = w.clock.Now(), &alice.device })

	t.Run("greeter errors", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			m      *member
			token  parsec.AccessToken
			status protocol.Status
		}{
			{"standard user on a user invitation", bob, token, protocol.StatusAuthorNotAllowed},
			{"external user on a user invitation", dave, token, protocol.StatusAuthorNotAllowed},
			{"administrator on someone's device invitation", alice, device, protocol.StatusAuthorNotAllowed},
			{"unknown invitation", alice, parsec.NewAccessToken(), protocol.StatusInvitationNotFound},
			{"cancelled invitation", alice, cancelled, protocol.StatusInvitationCancelled},
			{"completed invitation", alice, completed, protocol.StatusInvitationCompleted},
			{"own device invitation", bob, device, protocol.StatusOK},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantStatus(t, w.call(t, tc.m, protocol.CmdGreeterStartAttempt, protocol.GreeterStartAttemptReq{Token: tc.token}, &protocol.StartAttemptRep{}), tc.status)
			})
		}
	})
	t.Run("claimer errors", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			token   parsec.AccessToken
			greeter parsec.UserID
			status  protocol.Status
		}{
			{"unknown greeter", token, parsec.NewUserID(), protocol.StatusGreeterNotFound},
			{"standard user", token, bob.user, protocol.StatusGreeterNotAllowed},
			{"external user", token, dave.user, protocol.StatusGreeterNotAllowed},
			{"revoked administrator", token, frank.user, protocol.StatusGreeterRevoked},
			{"administrator for a device", device, alice.user, protocol.StatusGreeterNotAllowed},
			{"the device's user", device, bob.user, protocol.StatusOK},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := w.claimer(t, tc.token, protocol.CmdClaimerStartAttempt, protocol.ClaimerStartAttemptReq{Greeter: tc.greeter}, &protocol.StartAttemptRep{})
				wantStatus(t, err, tc.status)
			})
		}
	})
}

func TestGreetingSteps(t *testing.T) {
	w := newWorld(t, inviteUsers)
	alice := w.user("alice")
	token := w.inviteUser(t, alice, "zoe@example.com")
	a := w.greeterStart(t, alice, token)
	if got := w.claimerStart(t, token, alice.user); got != a {
		t.Fatalf("claimer joined %s, greeter %s", got, a)
	}
	const greeter, claimer = true, false
	// The steps run in order, each seeing the mailbox as the previous ones left it.
	tests := []struct {
		name    string
		side    bool
		step    int
		payload string
		status  protocol.Status
		want    string // the other side's payload, for ok
	}{
		{"greeter first: not ready", greeter, 0, "g0", protocol.StatusNotReady, ""},
		{"greeter polls: still not ready", greeter, 0, "g0", protocol.StatusNotReady, ""},
		{"greeter changes its payload", greeter, 0, "g0 bis", protocol.StatusStepMismatch, ""},
		{"greeter goes ahead", greeter, 1, "", protocol.StatusStepTooAdvanced, ""},
		{"claimer goes ahead", claimer, 1, "c1", protocol.StatusStepTooAdvanced, ""},
		{"claimer's step 0 completes it", claimer, 0, "c0", protocol.StatusOK, "g0"},
		{"greeter polls: ok", greeter, 0, "g0", protocol.StatusOK, "c0"},
		{"claimer resends", claimer, 0, "c0", protocol.StatusOK, "g0"},
		{"claimer changes its payload", claimer, 0, "c0 bis", protocol.StatusStepMismatch, ""},
		{"claimer skips a step", claimer, 2, "", protocol.StatusStepTooAdvanced, ""},
		{"claimer first this time", claimer, 1, "c1", protocol.StatusNotReady, ""},
		{"claimer cannot go on alone", claimer, 2, "", protocol.StatusStepTooAdvanced, ""},
		{"greeter's empty step", greeter, 1, "", protocol.StatusOK, "c1"},
		{"claimer polls", claimer, 1, "c1", protocol.StatusOK, ""},
		{"greeter resends an old step", greeter, 0, "g0", protocol.StatusOK, "c0"},
		{"step 9", greeter, 9, "", protocol.StatusBadRequest, ""},
		{"step -1", claimer, -1, "", protocol.StatusBadRequest, ""},
		{"payload too large", greeter, 2, strings.Repeat("x", protocol.MaxStepPayload+1), protocol.StatusBadRequest, ""},
		{"payload at the limit", greeter, 2, strings.Repeat("x", protocol.MaxStepPayload), protocol.StatusNotReady, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []byte
			var err error
			if tc.side == greeter {
				got, err = w.greeterStep(t, alice, a, tc.step, []byte(tc.payload))
			} else {
				got, err = w.claimerStep(t, token, a, tc.step, []byte(tc.payload))
			}
			wantStatus(t, err, tc.status)
			if string(got) != tc.want {
				t.Errorf("payload %q, want %q", got, tc.want)
			}
		})
	}
	st := w.attempt(t, a)
	wantSteps := func(name string, got [][]byte, want ...string) {
		var g []string
		for _, p := range got {
			g = append(g, string(p))
		}
		if len(g) > 2 {
			g[2] = fmt.Sprintf("%d bytes", len(g[2]))
		}
		if diff := cmp.Diff(want, g); diff != "" {
			t.Errorf("stored %s steps (-want +got):\n%s", name, diff)
		}
	}
	wantSteps("greeter", st.GreeterSteps, "g0", "", fmt.Sprintf("%d bytes", protocol.MaxStepPayload))
	wantSteps("claimer", st.ClaimerSteps, "c0", "c1")
}

func TestGreetingAttemptErrors(t *testing.T) {
	w := newWorld(t, inviteUsers)
	alice, carol := w.user("alice"), w.user("carol")
	token := w.inviteUser(t, alice, "zoe@example.com")
	otherToken := w.inviteUser(t, alice, "yan@example.com")
	a := w.greeterStart(t, alice, token)
	w.claimerStart(t, token, alice.user)
	w.exchangeSteps(t, alice, token, a, 0, 0)
	// Attempts that only the claimer, or only the greeter, joined.
	lonely := w.claimerStart(t, token, carol.user)
	greeterOnly := w.greeterStart(t, carol, otherToken)

	cancelAttempt := func(greeter *member, tok parsec.AccessToken, id parsec.GreetingAttemptID, reason string) error {
		req := protocol.CancelAttemptReq{GreetingAttempt: id, Reason: reason}
		if greeter != nil {
			return w.call(t, greeter, protocol.CmdGreeterCancelAttempt, req, nil)
		}
		return w.claimer(t, tok, protocol.CmdClaimerCancelAttempt, req, nil)
	}
	unknown := parsec.NewGreetingAttemptID()
	tests := []struct {
		name   string
		call   func() error
		status protocol.Status
	}{
		{"greeter step on an unknown attempt", func() error { _, err := w.greeterStep(t, alice, unknown, 0, nil); return err }, protocol.StatusGreetingAttemptNotFound},
		{"claimer step on an unknown attempt", func() error { _, err := w.claimerStep(t, token, unknown, 0, nil); return err }, protocol.StatusGreetingAttemptNotFound},
		{"greeter cancels an unknown attempt", func() error { return cancelAttempt(alice, token, unknown, protocol.CancelManually) }, protocol.StatusGreetingAttemptNotFound},
		{"claimer cancels an unknown attempt", func() error { return cancelAttempt(nil, token, unknown, protocol.CancelManually) }, protocol.StatusGreetingAttemptNotFound},
		{"another greeter's attempt", func() error { _, err := w.greeterStep(t, carol, a, 1, nil); return err }, protocol.StatusGreetingAttemptNotFound},
		{"another greeter cancels", func() error { return cancelAttempt(carol, token, a, protocol.CancelManually) }, protocol.StatusGreetingAttemptNotFound},
		{"another invitation's attempt", func() error { _, err := w.claimerStep(t, otherToken, a, 1, nil); return err }, protocol.StatusGreetingAttemptNotFound},
		{"another invitation's claimer cancels", func() error { return cancelAttempt(nil, otherToken, a, protocol.CancelManually) }, protocol.StatusGreetingAttemptNotFound},
		{"greeter step on an attempt it did not join", func() error { _, err := w.greeterStep(t, carol, lonely, 0, nil); return err }, protocol.StatusGreetingAttemptNotJoined},
		{"claimer step on an attempt it did not join", func() error { _, err := w.claimerStep(t, otherToken, greeterOnly, 0, nil); return err }, protocol.StatusGreetingAttemptNotJoined},
		{"claimer cancels an attempt it did not join", func() error { return cancelAttempt(nil, otherToken, greeterOnly, protocol.CancelManually) }, protocol.StatusGreetingAttemptNotJoined},
		{"unknown cancel reason", func() error { return cancelAttempt(alice, token, a, "BORED") }, protocol.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantStatus(t, tc.call(), tc.status) })
	}
	if st := w.attempt(t, a); !st.Active() {
		t.Fatalf("attempt cancelled by a refused call: %+v", st)
	}

	// Cancelled attempts, from each side.
	for _, side := range []string{metastore.SideGreeter, metastore.SideClaimer} {
		t.Run("cancelled by "+side, func(t *testing.T) {
			id := w.greeterStart(t, alice, token)
			w.claimerStart(t, token, alice.user)
			w.exchangeSteps(t, alice, token, id, 0, 1)
			at := w.tick()
			by := alice
			if side == metastore.SideClaimer {
				by = nil
			}
			wantStatus(t, cancelAttempt(by, token, id, protocol.CancelInvalidSASCode), protocol.StatusOK)
			w.tick()
			want := &protocol.AttemptCancelled{Origin: side, Timestamp: at, Reason: protocol.CancelInvalidSASCode}
			for _, c := range []struct {
				name   string
				call   func() error
				status protocol.Status
			}{
				{"greeter cancels again", func() error { return cancelAttempt(alice, token, id, protocol.CancelManually) }, protocol.StatusGreetingAttemptAlreadyDone},
				{"claimer cancels again", func() error { return cancelAttempt(nil, token, id, protocol.CancelManually) }, protocol.StatusGreetingAttemptAlreadyDone},
				{"greeter step", func() error { _, err := w.greeterStep(t, alice, id, 2, nil); return err }, protocol.StatusGreetingAttemptCancelled},
				{"claimer step", func() error { _, err := w.claimerStep(t, token, id, 2, nil); return err }, protocol.StatusGreetingAttemptCancelled},
				{"greeter resends an old step", func() error { _, err := w.greeterStep(t, alice, id, 0, []byte("greeter 0")); return err }, protocol.StatusGreetingAttemptCancelled},
			} {
				se := wantStatusError(t, c.call(), c.status)
				if diff := cmp.Diff(want, se.Detail.AttemptCancelled); diff != "" {
					t.Errorf("%s: detail (-want +got):\n%s", c.name, diff)
				}
			}
			if st := w.attempt(t, id); st.CancelledBy != side || st.CancelReason != protocol.CancelInvalidSASCode || st.CancelledOn != at {
				t.Errorf("stored attempt %+v", st)
			}
		})
	}

	// A greeter who is no longer an Administrator cannot go on; the claimer is told the
	// greeter may not greet any more.
	t.Run("greeter demoted", func(t *testing.T) {
		id := w.greeterStart(t, carol, token)
		if id != lonely {
			t.Fatalf("carol joined %s, want the claimer's attempt %s", id, lonely)
		}
		w.setUser(t, carol, func(u *metastore.User) { u.Profile = parsec.ProfileStandard })
		_, err := w.greeterStep(t, carol, id, 0, []byte("g"))
		wantStatus(t, err, protocol.StatusAuthorNotAllowed)
		wantStatus(t, cancelAttempt(carol, token, id, protocol.CancelManually), protocol.StatusAuthorNotAllowed)
		_, err = w.claimerStep(t, token, id, 0, []byte("c"))
		wantStatus(t, err, protocol.StatusGreeterNotAllowed)
		w.setUser(t, carol, func(u *metastore.User) { u.RevokedOn, u.RevokedBy = w.clock.Now(), &alice.device })
		_, err = w.claimerStep(t, token, id, 0, []byte("c"))
		wantStatus(t, err, protocol.StatusGreeterRevoked)
	})
}

func TestGreetingAfterComplete(t *testing.T) {
	w := newWorld(t, inviteUsers)
	alice, carol := w.user("alice"), w.user("carol")
	token := w.inviteUser(t, alice, "zoe@example.com")
	a := w.greeterStart(t, alice, token)
	w.claimerStart(t, token, alice.user)
	w.exchangeSteps(t, alice, token, a, 0, protocol.MaxStep)
	wantStatus(t, w.call(t, alice, protocol.CmdInviteComplete, protocol.InviteTokenReq{Token: token}, nil), protocol.StatusOK)

	_, err := w.greeterStep(t, alice, a, protocol.MaxStep, []byte(fmt.Sprintf("greeter %d", protocol.MaxStep)))
	wantStatus(t, err, protocol.StatusInvitationCompleted)
	wantStatus(t, w.call(t, alice, protocol.CmdGreeterCancelAttempt, protocol.CancelAttemptReq{GreetingAttempt: a, Reason: protocol.CancelManually}, nil), protocol.StatusInvitationCompleted)
	wantStatus(t, w.call(t, alice, protocol.CmdGreeterStartAttempt, protocol.GreeterStartAttemptReq{Token: token}, &protocol.StartAttemptRep{}), protocol.StatusInvitationCompleted)
	for cmd, args := range map[string]any{
		protocol.CmdInviteInfo:           protocol.InviteInfoReq{},
		protocol.CmdClaimerStep:          protocol.StepReq{GreetingAttempt: a, Step: protocol.MaxStep, Payload: []byte(fmt.Sprintf("claimer %d", protocol.MaxStep))},
		protocol.CmdClaimerStartAttempt:  protocol.ClaimerStartAttemptReq{Greeter: alice.user},
		protocol.CmdClaimerCancelAttempt: protocol.CancelAttemptReq{GreetingAttempt: a, Reason: protocol.CancelManually},
	} {
		if code := w.claimerHTTP(t, token, cmd, args); code != http.StatusGone {
			t.Errorf("claimer %s after completion: HTTP %d, want 410", cmd, code)
		}
	}
	// A cancelled invitation: the same for the claimer, invitation_cancelled for the greeter.
	token = w.inviteUser(t, alice, "yan@example.com")
	a = w.greeterStart(t, alice, token)
	w.claimerStart(t, token, alice.user)
	wantStatus(t, w.call(t, carol, protocol.CmdInviteCancel, protocol.InviteTokenReq{Token: token}, nil), protocol.StatusOK)
	_, err = w.greeterStep(t, alice, a, 0, []byte("g"))
	wantStatus(t, err, protocol.StatusInvitationCancelled)
	if code := w.claimerHTTP(t, token, protocol.CmdClaimerStep, protocol.StepReq{GreetingAttempt: a, Payload: []byte("c")}); code != http.StatusGone {
		t.Errorf("claimer step after cancellation: HTTP %d, want 410", code)
	}
}

// wantInvitationEvent reads an invitation event from the stream.
func wantInvitationEvent(t *testing.T, s *eventStream, token parsec.AccessToken, status string) {
	t.Helper()
	_, ev := s.nextEvent(t, protocol.EventInvitation)
	var got protocol.EventInvitationData
	if err := protocol.DecodeEvent(ev.Data, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(protocol.EventInvitationData{Token: token, Status: status}, got); diff != "" {
		t.Errorf("invitation event (-want +got):\n%s", diff)
	}
}

// wantAttemptEvent reads a greeting attempt event from the stream.
func wantAttemptEvent(t *testing.T, s *eventStream, name string, token parsec.AccessToken, a parsec.GreetingAttemptID) {
	t.Helper()
	_, ev := s.nextEvent(t, name)
	var got protocol.EventGreetingAttemptData
	if err := protocol.DecodeEvent(ev.Data, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(protocol.EventGreetingAttemptData{Token: token, GreetingAttempt: a}, got); diff != "" {
		t.Errorf("%s event (-want +got):\n%s", name, diff)
	}
}

func TestGreetingEvents(t *testing.T) {
	w := newWorld(t, inviteUsers)
	alice, bob, carol := w.user("alice"), w.user("bob"), w.user("carol")
	aliceEvents := w.openEvents(t, alice, "")
	aliceEvents.wantConfig(t, defaultConfig)
	bobEvents := w.openEvents(t, bob, "")
	bobEvents.wantConfig(t, defaultConfig)

	token := w.inviteUser(t, carol, "zoe@example.com")
	wantInvitationEvent(t, aliceEvents, token, protocol.InvitationStatusPending)

	// A claimer waits for alice: she is told, so that she can come and greet.
	a := w.claimerStart(t, token, alice.user)
	_, err := w.claimerStep(t, token, a, 0, []byte("c0"))
	wantStatus(t, err, protocol.StatusNotReady)
	wantAttemptEvent(t, aliceEvents, protocol.EventGreetingAttemptReady, token, a)
	w.greeterStart(t, alice, token)
	_, err = w.greeterStep(t, alice, a, 0, []byte("g0"))
	wantStatus(t, err, protocol.StatusOK)
	wantAttemptEvent(t, aliceEvents, protocol.EventGreetingAttemptJoined, token, a)

	// Cancellations, by either side, manual or by a restart.
	wantStatus(t, w.claimer(t, token, protocol.CmdClaimerCancelAttempt, protocol.CancelAttemptReq{GreetingAttempt: a, Reason: protocol.CancelManually}, nil), protocol.StatusOK)
	wantAttemptEvent(t, aliceEvents, protocol.EventGreetingAttemptCancelled, token, a)
	b := w.greeterStart(t, alice, token)
	c := w.greeterStart(t, alice, token)
	wantAttemptEvent(t, aliceEvents, protocol.EventGreetingAttemptCancelled, token, b)
	wantStatus(t, w.call(t, alice, protocol.CmdGreeterCancelAttempt, protocol.CancelAttemptReq{GreetingAttempt: c, Reason: protocol.CancelManually}, nil), protocol.StatusOK)
	wantAttemptEvent(t, aliceEvents, protocol.EventGreetingAttemptCancelled, token, c)

	wantStatus(t, w.call(t, alice, protocol.CmdInviteCancel, protocol.InviteTokenReq{Token: token}, nil), protocol.StatusOK)
	wantInvitationEvent(t, aliceEvents, token, protocol.InvitationStatusCanceled)

	// Device invitations concern their user only; bob saw none of the above.
	device := w.inviteDevice(t, bob)
	wantInvitationEvent(t, bobEvents, device, protocol.InvitationStatusPending)
	wantStatus(t, w.call(t, bob, protocol.CmdInviteComplete, protocol.InviteTokenReq{Token: device}, nil), protocol.StatusOK)
	wantInvitationEvent(t, bobEvents, device, protocol.InvitationStatusFinished)
	// ...and alice saw none of bob's: her next event is about her own device invitation.
	own := w.inviteDevice(t, alice)
	wantInvitationEvent(t, aliceEvents, own, protocol.InvitationStatusPending)
}

func TestUserCreate(t *testing.T) {
	type fixture struct {
		inviteCast
		k   *bootstrapKit // the new user, created by alice now
		req protocol.UserCreateReq
		by  *member
	}
	tests := []struct {
		name   string
		spoil  func(t *testing.T, f *fixture)
		status protocol.Status
		check  func(t *testing.T, f *fixture, se *protocol.StatusError)
	}{
		{name: "ok", status: protocol.StatusOK},
		{name: "external profile", status: protocol.StatusOK, spoil: func(t *testing.T, f *fixture) {
			f.k.user.Profile = parsec.ProfileOutsider
			f.req = signUserCreate(f.k, f.alice.key)
		}},
		{name: "standard author", status: protocol.StatusAuthorNotAllowed, spoil: func(t *testing.T, f *fixture) {
			f.k.user.Author, f.k.device.Author = &f.bob.device, &f.bob.device
			f.req, f.by = signUserCreate(f.k, f.bob.key), f.bob
		}},
		{name: "demoted author", status: protocol.StatusAuthorNotAllowed, spoil: func(t *testing.T, f *fixture) {
			f.w.setUser(t, f.carol, func(u *metastore.User) {
				u.Profile = parsec.ProfileStandard
				u.ProfileHistory = []metastore.ProfileChange{{On: f.w.clock.Now(), By: f.alice.device, Profile: parsec.ProfileStandard}}
			})
			f.k.user.Author, f.k.device.Author = &f.carol.device, &f.carol.device
			f.req, f.by = signUserCreate(f.k, f.carol.key), f.carol
		}},
		{name: "signed by another device than the caller", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.k.user.Author, f.k.device.Author = &f.carol.device, &f.carol.device
			f.req = signUserCreate(f.k, f.carol.key)
		}},
		{name: "signed with another key", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.req = signUserCreate(f.k, crypto.GenerateSigningKey())
		}},
		{name: "stale timestamp", status: protocol.StatusRequireGreaterTimestamp, spoil: func(t *testing.T, f *fixture) {
			f.k.user.Timestamp, f.k.device.Timestamp = f.w.lastCommon(t), f.w.lastCommon(t)
			f.req = signUserCreate(f.k, f.alice.key)
		}, check: func(t *testing.T, f *fixture, se *protocol.StatusError) {
			if se.Detail.StrictlyGreaterThan != f.w.lastCommon(t) {
				t.Errorf("strictly_greater_than %v, want the last certificate's %v", se.Detail.StrictlyGreaterThan, f.w.lastCommon(t))
			}
		}},
		{name: "out of ballpark", status: protocol.StatusTimestampOutOfBallpark, spoil: func(t *testing.T, f *fixture) {
			later := f.w.clock.Now().Add(time.Hour)
			f.k.user.Timestamp, f.k.device.Timestamp = later, later
			f.req = signUserCreate(f.k, f.alice.key)
		}},
		{name: "email of an active member", status: protocol.StatusHumanHandleAlreadyTaken, spoil: func(t *testing.T, f *fixture) {
			h, _ := parsec.NewHumanHandle("bob@example.com", "Bob again")
			f.k.user.HumanHandle = &h
			f.req = signUserCreate(f.k, f.alice.key)
		}},
		{name: "email of a revoked user", status: protocol.StatusOK, spoil: func(t *testing.T, f *fixture) {
			f.w.setUser(t, f.bob, func(u *metastore.User) { u.RevokedOn, u.RevokedBy = f.w.clock.Now(), &f.alice.device })
			h, _ := parsec.NewHumanHandle("bob@example.com", "Bob again")
			f.k.user.HumanHandle = &h
			f.req = signUserCreate(f.k, f.alice.key)
		}},
		{name: "existing user id", status: protocol.StatusUserAlreadyExists, spoil: func(t *testing.T, f *fixture) {
			f.k.user.UserID, f.k.device.UserID = f.bob.user, f.bob.user
			f.req = signUserCreate(f.k, f.alice.key)
		}},
		{name: "existing device id", status: protocol.StatusDeviceAlreadyExists, spoil: func(t *testing.T, f *fixture) {
			f.k.device.DeviceID = f.bob.device
			f.req = signUserCreate(f.k, f.alice.key)
		}},
		{name: "active users limit reached", status: protocol.StatusActiveUsersLimitReached, spoil: func(t *testing.T, f *fixture) {
			f.w.admin(t, http.MethodPatch, orgPath("Acme"), map[string]any{"active_users_limit": 4}, http.StatusOK, nil) // alice, carol, bob, dave
		}},
		{name: "active users limit not reached thanks to a revocation", status: protocol.StatusOK, spoil: func(t *testing.T, f *fixture) {
			f.w.admin(t, http.MethodPatch, orgPath("Acme"), map[string]any{"active_users_limit": 4}, http.StatusOK, nil)
			f.w.setUser(t, f.dave, func(u *metastore.User) { u.RevokedOn, u.RevokedBy = f.w.clock.Now(), &f.alice.device })
		}},
		{name: "redacted user with another profile", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			ru, _ := f.k.redacted()
			ru.Profile = parsec.ProfileAdmin
			f.req.RedactedUserCertificate = certif.Sign(f.alice.key, &ru)
		}},
		{name: "redacted user keeps the handle", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.req.RedactedUserCertificate = f.req.UserCertificate
		}},
		{name: "redacted device with another key", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			_, rd := f.k.redacted()
			rd.VerifyKey = crypto.GenerateSigningKey().VerifyKey()
			f.req.RedactedDeviceCertificate = certif.Sign(f.alice.key, &rd)
		}},
		{name: "redacted device keeps the label", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.req.RedactedDeviceCertificate = f.req.DeviceCertificate
		}},
		{name: "redacted copy signed by another key", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			ru, _ := f.k.redacted()
			f.req.RedactedUserCertificate = certif.Sign(crypto.GenerateSigningKey(), &ru)
		}},
		{name: "device of another user", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.k.device.UserID = f.bob.user
			f.req = signUserCreate(f.k, f.alice.key)
		}},
		{name: "device of the author", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.k.device.UserID = f.alice.user
			f.req = signUserCreate(f.k, f.alice.key)
		}},
		{name: "device of the author, later", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.k.device.UserID, f.k.device.Timestamp = f.alice.user, f.k.device.Timestamp.Add(time.Millisecond)
			f.req = signUserCreate(f.k, f.alice.key)
		}},
		{name: "device at another time", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.k.device.Timestamp = f.k.device.Timestamp.Add(time.Millisecond)
			f.req = signUserCreate(f.k, f.alice.key)
		}},
		{name: "certificates swapped", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			r := f.req
			f.req = protocol.UserCreateReq{UserCertificate: r.DeviceCertificate, RedactedUserCertificate: r.RedactedDeviceCertificate,
				DeviceCertificate: r.UserCertificate, RedactedDeviceCertificate: r.RedactedUserCertificate}
		}},
		{name: "garbage", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.req.UserCertificate = []byte("not a certificate")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fixture{inviteCast: newInviteCast(t)}
			w, alice, bob := f.w, f.alice, f.bob
			f.by = alice
			f.k = newcomerKit(t, alice, "zoe", parsec.ProfileStandard, w.tick())
			f.req = signUserCreate(f.k, alice.key)
			if tc.spoil != nil {
				tc.spoil(t, f)
			}
			before := w.commonCertificates(t, alice)
			err := w.call(t, f.by, protocol.CmdUserCreate, f.req, nil)
			se := wantStatusError(t, err, tc.status)
			if tc.check != nil {
				tc.check(t, f, se)
			}
			got := w.commonCertificates(t, alice)
			if tc.status != protocol.StatusOK {
				if len(got) != len(before) {
					t.Errorf("%d certificates after a refusal, want %d", len(got), len(before))
				}
				if _, err := w.lookupUser(t, f.k.user.UserID); !errors.Is(err, metastore.ErrNotFound) && f.k.user.UserID != bob.user {
					t.Errorf("refused user stored (%v)", err)
				}
				return
			}
			// The user, its device and both certificates are stored, after the others.
			want := append(before, f.req.UserCertificate, f.req.DeviceCertificate)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("certificate_get (-want +got):\n%s", diff)
			}
			u, err := w.lookupUser(t, f.k.user.UserID)
			if err != nil {
				t.Fatal(err)
			}
			wantUser := metastore.User{ID: f.k.user.UserID, Email: f.k.user.HumanHandle.Email, Name: f.k.user.HumanHandle.Label,
				InitialProfile: f.k.user.Profile, Profile: f.k.user.Profile, CreatedOn: f.k.user.Timestamp, CreatedBy: &alice.device,
				Certificate: f.req.UserCertificate, RedactedCertificate: f.req.RedactedUserCertificate}
			if diff := cmp.Diff(wantUser, u); diff != "" {
				t.Errorf("stored user (-want +got):\n%s", diff)
			}
			d := w.device(t, f.k.device.DeviceID)
			vk := f.k.deviceKey.VerifyKey()
			wantDevice := metastore.Device{ID: f.k.device.DeviceID, UserID: f.k.user.UserID, Label: *f.k.device.DeviceLabel, VerifyKey: vk[:],
				CreatedOn: f.k.device.Timestamp, CreatedBy: &alice.device, Certificate: f.req.DeviceCertificate, RedactedCertificate: f.req.RedactedDeviceCertificate}
			if diff := cmp.Diff(wantDevice, d); diff != "" {
				t.Errorf("stored device (-want +got):\n%s", diff)
			}
			// The new device can call the server, and an External user gets the redacted
			// copies.
			zoe := createdMember(f.k, "Acme", f.req)
			wantStatus(t, w.call(t, zoe, protocol.CmdPing, protocol.PingReq{Ping: "x"}, &protocol.PingRep{}), protocol.StatusOK)
			if f.k.user.Profile == parsec.ProfileOutsider {
				got := w.commonCertificates(t, zoe)
				if last := got[len(got)-2:]; !bytes.Equal(last[0], f.req.RedactedUserCertificate) || !bytes.Equal(last[1], f.req.RedactedDeviceCertificate) {
					t.Error("an External user does not get the redacted copies")
				}
			}
		})
	}
}

func TestDeviceCreate(t *testing.T) {
	type fixture struct {
		inviteCast
		d   certif.DeviceCertificate // a new device of alice's, now
		req protocol.DeviceCreateReq
		by  *member
	}
	tests := []struct {
		name   string
		spoil  func(t *testing.T, f *fixture)
		status protocol.Status
	}{
		{name: "ok", status: protocol.StatusOK},
		{name: "standard user", status: protocol.StatusOK, spoil: func(t *testing.T, f *fixture) {
			f.d, _ = newDeviceCert(f.bob, f.d.Timestamp)
			f.req, f.by = signDeviceCreate(f.bob.key, f.d), f.bob
		}},
		{name: "external user", status: protocol.StatusOK, spoil: func(t *testing.T, f *fixture) {
			f.d, _ = newDeviceCert(f.dave, f.d.Timestamp)
			f.req, f.by = signDeviceCreate(f.dave.key, f.d), f.dave
		}},
		{name: "for another user", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.d.UserID = f.bob.user
			f.req = signDeviceCreate(f.alice.key, f.d)
		}},
		{name: "an administrator for another user", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.d.UserID = f.bob.user
			f.req, f.by = signDeviceCreate(f.alice.key, f.d), f.bob
		}},
		{name: "signed by another device than the caller", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.d.Author = &f.carol.device
			f.req = signDeviceCreate(f.carol.key, f.d)
		}},
		{name: "signed with another key", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.req = signDeviceCreate(crypto.GenerateSigningKey(), f.d)
		}},
		{name: "stale timestamp", status: protocol.StatusRequireGreaterTimestamp, spoil: func(t *testing.T, f *fixture) {
			f.d.Timestamp = f.w.lastCommon(t)
			f.req = signDeviceCreate(f.alice.key, f.d)
		}},
		{name: "own device id", status: protocol.StatusDeviceAlreadyExists, spoil: func(t *testing.T, f *fixture) {
			f.d.DeviceID = f.alice.device
			f.req = signDeviceCreate(f.alice.key, f.d)
		}},
		{name: "device id of another user", status: protocol.StatusDeviceAlreadyExists, spoil: func(t *testing.T, f *fixture) {
			f.d.DeviceID = f.bob.device
			f.req = signDeviceCreate(f.alice.key, f.d)
		}},
		{name: "redacted copy keeps the label", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.req.RedactedDeviceCertificate = f.req.DeviceCertificate
		}},
		{name: "redacted copy with another key", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			rd := f.d
			rd.DeviceLabel, rd.VerifyKey = nil, crypto.GenerateSigningKey().VerifyKey()
			f.req.RedactedDeviceCertificate = certif.Sign(f.alice.key, &rd)
		}},
		{name: "redacted copy at another time", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			rd := f.d
			rd.DeviceLabel, rd.Timestamp = nil, rd.Timestamp.Add(time.Millisecond)
			f.req.RedactedDeviceCertificate = certif.Sign(f.alice.key, &rd)
		}},
		{name: "redacted copy signed by another key", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			rd := f.d
			rd.DeviceLabel = nil
			f.req.RedactedDeviceCertificate = certif.Sign(crypto.GenerateSigningKey(), &rd)
		}},
		{name: "user certificate", status: protocol.StatusInvalidCertificate, spoil: func(t *testing.T, f *fixture) {
			f.req = protocol.DeviceCreateReq{DeviceCertificate: f.alice.userCert, RedactedDeviceCertificate: f.alice.redactedUserCert}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := &fixture{inviteCast: newInviteCast(t)}
			w, alice := f.w, f.alice
			f.by = alice
			f.d, _ = newDeviceCert(alice, w.tick())
			f.req = signDeviceCreate(alice.key, f.d)
			if tc.spoil != nil {
				tc.spoil(t, f)
			}
			before := w.commonCertificates(t, alice)
			wantStatus(t, w.call(t, f.by, protocol.CmdDeviceCreate, f.req, nil), tc.status)
			got := w.commonCertificates(t, alice)
			if tc.status != protocol.StatusOK {
				if len(got) != len(before) {
					t.Errorf("%d certificates after a refusal, want %d", len(got), len(before))
				}
				return
			}
			if diff := cmp.Diff(append(before, f.req.DeviceCertificate), got); diff != "" {
				t.Errorf("certificate_get (-want +got):\n%s", diff)
			}
			d := w.device(t, f.d.DeviceID)
			if d.UserID != f.by.user || d.Label != *f.d.DeviceLabel || !bytes.Equal(d.Certificate, f.req.DeviceCertificate) ||
				!bytes.Equal(d.RedactedCertificate, f.req.RedactedDeviceCertificate) || d.CreatedOn != f.d.Timestamp || *d.CreatedBy != f.by.device {
				t.Errorf("stored device %+v", d)
			}
		})
	}
}

// lastCommon is the timestamp of the last certificate of the common topic.
func (w *world) lastCommon(t *testing.T) parsec.DateTime {
	t.Helper()
	last := w.lastTimestamp(t, w.org, metastore.CommonTopic)
	if last.IsZero() {
		t.Fatal("no common certificate")
	}
	return last
}

func (w *world) device(t *testing.T, id parsec.DeviceID) metastore.Device {
	t.Helper()
	return stored(t, w, func(tx metastore.Tx) (metastore.Device, error) { return tx.Device(w.org, id) })
}
