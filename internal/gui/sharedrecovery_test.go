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
