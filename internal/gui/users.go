package gui

import (
	"net/http"
	"slices"
	"strings"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// userRow is a user as "Manage my organization" lists them.
type userRow struct {
	client.UserInfo
	Me         bool
	Selectable bool // may be revoked or changed: not revoked, not oneself
}

type usersData struct {
	Users    []userRow
	Total    int
	Search   string
	Profiles map[string]bool // the profile filters ticked
	Statuses map[string]bool // the status filters ticked
	Err      string
}

var allStatuses = []string{"active", "revoked", "frozen"}

// usersPage is "Manage my organization": the users, searched and filtered, with what
// Administrators can do to them.
func (a *App) usersPage(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	q := r.URL.Query()
	d := usersData{Search: q.Get("search"), Profiles: map[string]bool{}, Statuses: map[string]bool{}}
	f := client.UserFilter{Search: d.Search}
	for _, p := range q["profile"] {
		if pp, err := parsec.ParseProfile(p); err == nil {
			f.Profiles = append(f.Profiles, pp)
			d.Profiles[string(pp)] = true
		}
	}
	for _, st := range q["status"] {
		if slices.Contains(allStatuses, st) {
			f.Statuses = append(f.Statuses, st)
			d.Statuses[st] = true
		}
	}
	users, err := s.c.ListUsers(r.Context(), f)
	if err != nil {
		// Without the server, the certificates this device checked still say who is who
		// (only who is frozen is unknown); the banner says the server is unreachable.
		if !parsec.IsKind(err, parsec.Unavailable) {
			d.Err = errText(err)
		}
		users = f.Select(s.c.Users())
	}
	all := s.c.Users()
	d.Total = len(all)
	for _, u := range users {
		me := u.ID == s.dev.UserID
		row := userRow{UserInfo: u, Me: me, Selectable: !me && u.RevokedOn.IsZero()}
		if me {
			d.Users = append([]userRow{row}, d.Users...) // oneself first
		} else {
			d.Users = append(d.Users, row)
		}
	}
	a.page(w, r, "users", "Manage my organization", d, true)
}

type userData struct {
	User client.UserInfo
	Me   bool
}

func (a *App) userPage(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	u, ok := a.findUser(r, r.PathValue("id"))
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		a.say(true, "No such user.")
		a.page(w, r, "notallowed", "Not found", nil, false)
		return
	}
	a.page(w, r, "user", u.Handle.Label, userData{User: u, Me: u.ID == s.dev.UserID}, true)
}

// findUser finds a user of the organization by ID, with the state ListUsers gives.
func (a *App) findUser(r *http.Request, id string) (client.UserInfo, bool) {
	s := a.session(r)
	users, err := s.c.ListUsers(r.Context(), client.UserFilter{})
	if err != nil {
		users = s.c.Users()
	}
	for _, u := range users {
		if u.ID.String() == id {
			return u, true
		}
	}
	return client.UserInfo{}, false
}

// selected reads the users a form selected (user=ID, repeated).
func (a *App) selected(r *http.Request) []client.UserInfo {
	r.ParseForm()
	ids := r.PostForm["user"]
	if only := r.PostForm.Get("only"); only != "" {
		ids = []string{only} // a row's own menu
	}
	var out []client.UserInfo
	for _, id := range ids {
		if u, ok := a.findUser(r, id); ok && !slices.ContainsFunc(out, func(x client.UserInfo) bool { return x.ID == u.ID }) {
			out = append(out, u)
		}
	}
	return out
}

type confirmData struct {
	Users     []client.UserInfo
	Names     string
	Externals []client.UserInfo
	Single    *client.UserInfo // the one user, when only one is selected
	Profiles  []parsec.UserProfile
}

// postUsersAction asks to confirm an action on the users selected: "revoke" or "profile".
func (a *App) postUsersAction(w http.ResponseWriter, r *http.Request) {
	users := a.selected(r)
	if len(users) == 0 {
		a.say(true, "Select at least one user first.")
		http.Redirect(w, r, "/users", http.StatusSeeOther)
		return
	}
	d := confirmData{Users: users, Names: names(users)}
	if len(users) == 1 {
		d.Single = &users[0]
	}
	switch r.FormValue("do") {
	case "revoke":
		title := "Revoke this user"
		if len(users) > 1 {
			title = "Revoke these users"
		}
		a.page(w, r, "revoke", title, d, false)
	case "profile":
		for _, u := range users {
			if u.Profile == parsec.ProfileOutsider {
				d.Externals = append(d.Externals, u)
			}
		}
		d.Profiles = []parsec.UserProfile{parsec.ProfileAdmin, parsec.ProfileStandard}
		title := "Change profile"
		if len(users) > 1 {
			title = "Change profiles"
		}
		a.page(w, r, "profile", title, d, false)
	default:
		http.Redirect(w, r, "/users", http.StatusSeeOther)
	}
}

func names(users []client.UserInfo) string {
	var out []string
	for _, u := range users {
		out = append(out, u.Handle.Label)
	}
	return strings.Join(out, ", ")
}

// postRevoke revokes the users selected, once confirmed.
func (a *App) postRevoke(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	var done, failed []string
	results, _ := s.c.RevokeUsers(r.Context(), a.selected(r)) // a failure that stops the batch is its last result
	for _, res := range results {
		if res.Outcome == client.RevokeFailed {
			failed = append(failed, res.User.Handle.Label+": "+errText(res.Err))
		} else {
			done = append(done, res.User.Handle.Label)
		}
	}
	if len(done) > 0 {
		a.say(false, "Revoked: "+strings.Join(done, ", ")+".")
	}
	for _, f := range failed {
		a.say(true, "Not revoked: "+f)
	}
	a.events.publish("changed")
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// postProfile changes the profile of the users selected; External users are skipped.
func (a *App) postProfile(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	profile, err := parsec.ParseProfile(r.PostFormValue("profile"))
	if err != nil || profile == parsec.ProfileOutsider {
		a.say(true, "Choose the new profile: Administrator or Member.")
		http.Redirect(w, r, "/users", http.StatusSeeOther)
		return
	}
	results, err := s.c.ChangeProfiles(r.Context(), a.selected(r), profile)
	var changed, unchanged, skipped []string
	for _, res := range results {
		name := res.User.Handle.Label
		switch res.Outcome {
		case client.ProfileChanged:
			changed = append(changed, name)
		case client.ProfileUnchanged:
			unchanged = append(unchanged, name)
		case client.ProfileSkipped:
			skipped = append(skipped, name)
		default:
			a.say(true, "Profile of "+name+" not changed: "+errText(res.Err))
		}
	}
	if len(changed) > 0 {
		a.say(false, "Now "+profileWord(profile)+": "+strings.Join(changed, ", ")+".")
	}
	if len(unchanged) > 0 {
		a.say(false, "Already "+profileWord(profile)+", unchanged: "+strings.Join(unchanged, ", ")+".")
	}
	if len(skipped) > 0 {
		a.say(true, "External users keep their profile: "+strings.Join(skipped, ", ")+".")
	}
	if err != nil && len(results) == 0 {
		a.say(true, errText(err))
	}
	a.events.publish("changed")
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}
