package gui

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// usersOf makes n users as ListUsers gives them.
func usersOf(n int) usersData {
	d := usersData{Total: n, Profiles: map[string]bool{}, Statuses: map[string]bool{}}
	profiles := []parsec.UserProfile{parsec.ProfileAdmin, parsec.ProfileStandard, parsec.ProfileOutsider}
	for i := range n {
		h, _ := parsec.NewHumanHandle(fmt.Sprintf("user%d@example.com", i), fmt.Sprintf("User Number %d", i))
		u := client.UserInfo{ID: parsec.NewUserID(), Handle: h, Profile: profiles[i%3], CreatedOn: parsec.DateTime(1_700_000_000_000_000 + int64(i))}
		d.Users = append(d.Users, userRow{UserInfo: u, Selectable: true})
	}
	return d
}

// The users page of an Administrator, drawn for an organization of 1,000 users.
func BenchmarkUsersPage1000(b *testing.B) {
	p, err := loadPages()
	if err != nil {
		b.Fatal(err)
	}
	d := pageData{Title: "Manage my organization", Nav: "users", Live: true, Data: usersOf(1000),
		Session: &sessionView{Org: "Acme", User: "Alice", Profile: parsec.ProfileAdmin, Admin: true}}
	b.ReportAllocs()
	for b.Loop() {
		p.render(discard{httptest.NewRecorder()}, "users", d)
	}
}

// discard is a ResponseWriter that keeps nothing.
type discard struct{ *httptest.ResponseRecorder }

func (discard) Write(b []byte) (int, error) { return io.Discard.Write(b) }

// The page draws every user, with the controls an Administrator has.
func TestUsersPageDrawsEveryone(t *testing.T) {
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	d := pageData{Title: "Manage my organization", Nav: "users", Data: usersOf(30),
		Session: &sessionView{Org: "Acme", User: "Alice", Profile: parsec.ProfileAdmin, Admin: true}}
	p.render(w, "users", d)
	body := w.Body.String()
	for _, want := range []string{"User Number 0", "User Number 29", "Revoke this user", "Change profiles", "30 of 30 users", "External"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

func TestConflictCopyNames(t *testing.T) {
	for name, want := range map[string]bool{
		"report (sync conflict 1).txt": true,
		"report (sync conflict 12)":    true,
		"report.txt":                   false,
		"report (copy 1).txt":          false,
		"(sync conflict 1) notes.txt":  false,
	} {
		if got := conflictCopy.MatchString(name); got != want {
			t.Errorf("conflictCopy(%q) = %v, want %v", name, got, want)
		}
	}
}

// A conflict copy made by sync is marked and explained in the explorer.
func TestFilesPageExplainsConflictCopies(t *testing.T) {
	p, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	name := "plan (sync conflict 1).txt"
	d := filesData{Workspace: client.WorkspaceInfo{Name: "Docs"}, Path: "/", Crumbs: []crumb{{Name: "Docs", Path: "/"}}, Writable: true,
		Entries: []entryRow{{Entry: client.Entry{Name: "plan.txt", Path: "/plan.txt"}}, {Entry: client.Entry{Name: name, Path: "/" + name}, Conflict: conflictCopy.MatchString(name)}}}
	w := httptest.NewRecorder()
	p.render(w, "files", pageData{Title: "Docs", Nav: "files", Data: d, Session: &sessionView{Org: "Acme", User: "Alice"}})
	body := w.Body.String()
	if strings.Count(body, "conflict copy") != 1 || !strings.Contains(body, "Two people changed this file at the same time") {
		t.Errorf("the conflict copy is not marked and explained once:\n%s", body)
	}
}
