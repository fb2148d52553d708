package gui

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Shared recovery: the GUI's side of parsec shared-recovery create, list and delete, and of
// parsec invite shared-recovery. The greeting (a recipient sends their shares) and the claim
// (the user collects them and gets a new device) are flows, in invite.go.

func (a *App) sharedRecoveryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /devices/shared-recovery", a.loggedIn(a.postSharedRecovery))
	mux.HandleFunc("POST /devices/shared-recovery/delete", a.loggedIn(a.postDeleteSharedRecovery))
	// An Administrator, or a recipient of the user's setup (the server decides).
	mux.HandleFunc("POST /users/{id}/invite-recovery", a.loggedIn(a.postInviteRecovery))
}

// maxShares is the most shares a setup may have in all (certif.MaxRecoveryShares).
const maxShares = 255

// sharedData is the "Shared recovery" section of My devices.
type sharedData struct {
	Own        *setupView
	Others     []setupView // setups this user holds shares of
	Candidates []candidate // who may be chosen as a recipient
	Threshold  string      // as typed, when a setup was refused
	FormErr    string      // why the setup was refused
	Err        string      // the setups cannot be read
	Outside    bool        // an External user does not see the others' names
}

// setupView is a setup in force as the page shows it.
type setupView struct {
	User       client.UserInfo
	CreatedOn  parsec.DateTime
	Threshold  int
	Total      int // shares in all
	Reachable  int // shares of the recipients not revoked
	Usable     bool
	Mine       int // shares this user holds (others' setups)
	Recipients []client.SharedRecoveryRecipient
}

// candidate is an active user who may hold shares, with what the form holds for them.
type candidate struct {
	ID      string
	Handle  parsec.HumanHandle
	Checked bool
	Shares  string
}

func viewOfSetup(s client.SharedRecovery, me parsec.UserID) setupView {
	v := setupView{User: s.User, CreatedOn: s.CreatedOn, Threshold: s.Threshold, Reachable: s.Reachable(), Usable: s.Usable()}
	for _, r := range s.Recipients {
		v.Total += r.Shares
		if r.User.ID == me {
			v.Mine = r.Shares
		}
	}
	v.Recipients = slices.SortedFunc(slices.Values(s.Recipients), func(x, y client.SharedRecoveryRecipient) int {
		return cmp.Compare(x.User.Handle.Label, y.User.Handle.Label)
	})
	return v
}

// sharedRecovery reads the setups and the users who may be chosen; form, when not nil, is a
// setup form sent back with what was typed.
func (a *App) sharedRecovery(r *http.Request, s *session, form *http.Request) sharedData {
	d := sharedData{Outside: s.c.Profile() == parsec.ProfileOutsider}
	own, others, err := s.c.SharedRecoveries(r.Context())
	if err != nil {
		d.Err = errText(err)
	}
	if own != nil {
		v := viewOfSetup(*own, s.dev.UserID)
		d.Own = &v
	}
	for _, o := range others {
		d.Others = append(d.Others, viewOfSetup(o, s.dev.UserID))
	}
	slices.SortFunc(d.Others, func(x, y setupView) int { return cmp.Compare(x.User.Handle.Label, y.User.Handle.Label) })
	var chosen []string
	if form != nil {
		chosen = form.PostForm["recipient"]
		d.Threshold = form.PostFormValue("threshold")
	}
	for _, u := range s.c.Users() {
		if u.ID == s.dev.UserID || !u.RevokedOn.IsZero() {
			continue
		}
		c := candidate{ID: u.ID.String(), Handle: u.Handle, Shares: "1"}
		if form != nil {
			c.Checked = slices.Contains(chosen, c.ID)
			if n := form.PostFormValue("shares-" + c.ID); n != "" {
				c.Shares = n
			}
		}
		d.Candidates = append(d.Candidates, c)
	}
	slices.SortFunc(d.Candidates, func(x, y candidate) int { return cmp.Compare(x.Handle.Label, y.Handle.Label) })
	return d
}

// recipientsOf reads the setup form: the recipients ticked with their shares, and the
// threshold (a majority when left empty). Its errors are sentences for the page.
func recipientsOf(r *http.Request, users []client.UserInfo) ([]client.SharedRecipient, int, error) {
	byID := make(map[string]client.UserInfo)
	for _, u := range users {
		byID[u.ID.String()] = u
	}
	var rs []client.SharedRecipient
	total := 0
	for _, id := range r.PostForm["recipient"] {
		u, ok := byID[id]
		if !ok {
			return nil, 0, parsec.Errorf(parsec.NotFound, "one of the recipients chosen is no longer a user of the organization: reload the page")
		}
		n, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("shares-" + id)))
		if err != nil || n < 1 || n > maxShares {
			return nil, 0, parsec.Errorf(parsec.Invalid, "%s: the number of shares must be between 1 and %d", u.Handle.Label, maxShares)
		}
		rs = append(rs, client.SharedRecipient{User: u.ID, Shares: n})
		total += n
	}
	if len(rs) == 0 {
		return nil, 0, parsec.Errorf(parsec.Invalid, "choose at least one recipient")
	}
	if total > maxShares {
		return nil, 0, parsec.Errorf(parsec.Invalid, "%d shares in all: at most %d", total, maxShares)
	}
	t := strings.TrimSpace(r.PostFormValue("threshold"))
	if t == "" {
		return rs, client.DefaultThreshold(total), nil
	}
	threshold, err := strconv.Atoi(t)
	switch {
	case err != nil:
		return nil, 0, parsec.Errorf(parsec.Invalid, "the threshold must be a number of shares, not %q", t)
	case threshold < 1:
		return nil, 0, parsec.Errorf(parsec.Invalid, "the threshold must be at least 1 share")
	case threshold > total:
		return nil, 0, parsec.Errorf(parsec.Invalid, "the threshold (%d) is above the number of shares (%d): nobody could ever recover your account. Choose at most %d, or give more shares",
			threshold, total, total)
	}
	return rs, threshold, nil
}

// postSharedRecovery sets up this user's shared recovery; a refusal shows in the page, with
// the form as it was filled.
func (a *App) postSharedRecovery(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	r.ParseForm()
	rs, threshold, err := recipientsOf(r, s.c.Users())
	if err == nil {
		err = s.c.SetupSharedRecovery(r.Context(), rs, threshold)
	}
	if err != nil {
		d := a.devices(r, s)
		d.Shared = a.sharedRecovery(r, s, r)
		d.Shared.FormErr = errText(err)
		w.WriteHeader(http.StatusUnprocessableEntity)
		a.page(w, r, "devices", "My devices", d, false)
		return
	}
	total := 0
	for _, rc := range rs {
		total += rc.Shares
	}
	a.say(false, fmt.Sprintf("Shared recovery set up: %d of the %d shares bring you back if you lose every device.", threshold, total))
	a.events.publish("changed")
	http.Redirect(w, r, "/devices#shared-h", http.StatusSeeOther)
}

// postDeleteSharedRecovery deletes this user's setup, once confirmed in the page.
func (a *App) postDeleteSharedRecovery(w http.ResponseWriter, r *http.Request) {
	err := a.session(r).c.DeleteSharedRecovery(r.Context())
	a.report(w, r, "/devices#shared-h", err, "Shared recovery deleted: its shares are void, nobody can recover your account with them any more.")
}

// postInviteRecovery invites a user who lost every device to be recovered by the recipients
// of their setup, then shows the invitation's link to pass on.
func (a *App) postInviteRecovery(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	id := r.PathValue("id")
	back := r.PostFormValue("back")
	if back != "/devices" && back != "/users" {
		back = "/users/" + id
	}
	u, ok := a.findUser(r, id)
	if !ok {
		a.say(true, "No such user.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	inv, err := s.c.InviteSharedRecovery(r.Context(), u.ID)
	if err != nil {
		a.say(true, "No invitation to recover "+u.Handle.Label+": "+errText(err))
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	a.events.publish("changed")
	http.Redirect(w, r, "/invitations?created="+inv.Token.String(), http.StatusSeeOther)
}
