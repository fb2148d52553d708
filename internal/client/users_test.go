package client_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/testenv"
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

// Interfaces poll from several goroutines at once (the GUI follows the server's events while
// a page acts): concurrent polls of the same new certificates are no lie of the server.
func TestConcurrentPolls(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	for round := range 5 {
		testenv.Join(t, p.ac, fmt.Sprintf("user%d@example.com", round), "User", parsec.ProfileStandard)
		var wg sync.WaitGroup
		errs := make([]error, 16)
		for i := range errs {
			wg.Go(func() { _, errs[i] = p.bc.PollCertificates(ctx) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: a concurrent poll failed: %v", round, err)
			}
		}
	}
}
