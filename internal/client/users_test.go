package client_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// One filter for every interface's list of users.
func TestListUsers(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	if err := p.ac.RevokeUser(ctx, p.bob.Device.UserID); err != nil {
		t.Fatal(err)
	}
	emails := func(users []client.UserInfo) []string {
		var out []string
		for _, u := range users {
			out = append(out, u.Handle.Email)
		}
		return out
	}
	tests := []struct {
		name string
		f    client.UserFilter
		want []string
	}{
		{"everybody", client.UserFilter{}, []string{"alice@example.com", "bob@example.com", "mallory@example.com"}},
		{"by profile", client.UserFilter{Profiles: []parsec.UserProfile{parsec.ProfileOutsider, parsec.ProfileAdmin}}, []string{"alice@example.com", "mallory@example.com"}},
		{"by status", client.UserFilter{Statuses: []string{"revoked"}}, []string{"bob@example.com"}},
		{"by search, any case", client.UserFilter{Search: "MALL"}, []string{"mallory@example.com"}},
		{"all at once", client.UserFilter{Profiles: []parsec.UserProfile{parsec.ProfileStandard}, Statuses: []string{"active"}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			users, err := p.ac.ListUsers(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, emails(users)); diff != "" {
				t.Errorf("ListUsers (-want +got):\n%s", diff)
			}
		})
	}
	_, err := p.ac.ListUsers(ctx, client.UserFilter{Statuses: []string{"asleep"}})
	wantKind(t, "an unknown status", err, parsec.Invalid)

	bob, err := p.ac.ShowUser(ctx, "bob@example.com")
	if err != nil || bob.Status() != "revoked" || bob.RevokedByName != "Alice" {
		t.Errorf("ShowUser(bob) = %+v, %v; want revoked by Alice", bob, err)
	}
	_, err = p.ac.ShowUser(ctx, "nobody@example.com")
	wantKind(t, "showing nobody", err, parsec.NotFound)
}
