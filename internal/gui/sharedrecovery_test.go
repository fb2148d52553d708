package gui

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// The setup form: recipients ticked with their shares, the threshold (a majority when
// empty), and a sentence for each mistake.
func TestRecipientsOf(t *testing.T) {
	var users []client.UserInfo
	for _, name := range []string{"Bob", "Carol", "Dave"} {
		h, _ := parsec.NewHumanHandle(strings.ToLower(name)+"@example.com", name)
		users = append(users, client.UserInfo{ID: parsec.NewUserID(), Handle: h})
	}
	bob, carol := users[0].ID, users[1].ID
	form := func(threshold string, recipients ...string) url.Values {
		v := url.Values{"threshold": {threshold}}
		for i := 0; i < len(recipients); i += 2 {
			v.Add("recipient", recipients[i])
			v.Set("shares-"+recipients[i], recipients[i+1])
		}
		return v
	}
	for _, tc := range []struct {
		name      string
		form      url.Values
		want      []client.SharedRecipient
		threshold int
		err       string
	}{
		{"majority by default", form("", bob.String(), "1", carol.String(), "2"),
			[]client.SharedRecipient{{User: bob, Shares: 1}, {User: carol, Shares: 2}}, 2, ""},
		{"threshold chosen", form("3", bob.String(), "1", carol.String(), "2"),
			[]client.SharedRecipient{{User: bob, Shares: 1}, {User: carol, Shares: 2}}, 3, ""},
		{"nobody", form(""), nil, 0, "choose at least one recipient"},
		{"threshold above the shares", form("3", bob.String(), "1", carol.String(), "1"), nil, 0,
			"the threshold (3) is above the number of shares (2): nobody could ever recover your account"},
		{"threshold zero", form("0", bob.String(), "1"), nil, 0, "the threshold must be at least 1 share"},
		{"threshold not a number", form("two", bob.String(), "1"), nil, 0, `the threshold must be a number of shares, not "two"`},
		{"no shares", form("", bob.String(), "0"), nil, 0, "Bob: the number of shares must be between 1 and 255"},
		{"too many shares", form("", bob.String(), "200", carol.String(), "100"), nil, 0, "300 shares in all: at most 255"},
		{"unknown user", form("", parsec.NewUserID().String(), "1"), nil, 0, "no longer a user of the organization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/devices/shared-recovery", strings.NewReader(tc.form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.ParseForm()
			got, threshold, err := recipientsOf(r, users)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || threshold != tc.threshold {
				t.Errorf("threshold %d (want %d), recipients (-want +got):\n%s", threshold, tc.threshold, diff)
			}
		})
	}
}

// Pages of shared recovery drawn in states the browser tests do not reach: a shared-recovery
// invitation seen by someone who holds no share of it, and setups that cannot be read.
func TestSharedRecoveryPages(t *testing.T) {
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	admin := &sessionView{Org: "Acme", User: "Alice", Profile: parsec.ProfileAdmin, Admin: true}
	for _, tc := range []struct {
		name, page string
		data       any
		want, not  []string
	}{
		{"recipient greets", "invitations", invitationsData{Pending: []invitationRow{{Token: "t1", Recovery: true, Name: "Bob", Holder: true}}},
			[]string{"Bob", "shared recovery: to recover their account", `action="/invitations/t1/greet"`}, []string{"Only the recipients"}},
		{"administrator without a share", "invitations", invitationsData{Pending: []invitationRow{{Token: "t1", Recovery: true, Name: "Bob"}}},
			[]string{"Only the recipients of their shared recovery can greet them."}, []string{`action="/invitations/t1/greet"`}},
		{"an Administrator on a user's page", "user", userData{User: client.UserInfo{ID: parsec.UserID{1}, Handle: parsec.HumanHandle{Label: "Bob"}}},
			[]string{`action="/users/01000000000000000000000000000000/invite-recovery"`, "Invite to recover"}, nil},
		{"an Administrator on their own page", "user", userData{User: client.UserInfo{ID: parsec.UserID{1}}, Me: true},
			nil, []string{"Invite to recover"}},
		{"setups unreadable", "devices", devicesData{Shared: sharedData{Err: "The server cannot be reached."}},
			[]string{"Your shared recovery cannot be shown: The server cannot be reached."}, []string{"Set up shared recovery", "Delete the shared recovery"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			p.render(w, tc.page, pageData{Title: tc.page, Nav: tc.page, Session: admin, Data: tc.data})
			body := w.Body.String()
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("the page lacks %q", s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(body, s) {
					t.Errorf("the page shows %q", s)
				}
			}
		})
	}
}
