package gui

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Workspaces: the list, creating, renaming, archiving, claiming ownership, and sharing. Every
// action is one client call; what may be offered comes from the client's rules
// (WorkspaceInfo.Writable, RoleChoices, CanSelfPromote).

func (a *App) workspaceRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /workspaces", a.loggedIn(a.workspacesPage))
	mux.HandleFunc("POST /workspaces", a.loggedIn(a.postWorkspace))
	mux.HandleFunc("POST /workspaces/{ws}/rename", a.loggedIn(a.postRenameWorkspace))
	mux.HandleFunc("POST /workspaces/{ws}/archiving", a.loggedIn(a.postArchiving))
	mux.HandleFunc("POST /workspaces/{ws}/claim", a.loggedIn(a.postClaim))
	mux.HandleFunc("GET /workspaces/{ws}/sharing", a.loggedIn(a.sharingPage))
	mux.HandleFunc("POST /workspaces/{ws}/sharing", a.loggedIn(a.postSharing))
	a.fileRoutes(mux)
}

type workspaceRow struct {
	client.WorkspaceInfo
	Owner    bool
	Archived bool
	Updated  parsec.DateTime // the last change this device knows of
	By       string          // who made it
}

type workspacesData struct {
	Workspaces []workspaceRow
	CanCreate  bool
	Err        string
	DeleteMin  string // the first day a deletion may be planned for (YYYY-MM-DD)
}

// defaultArchivingPeriod is assumed when the server cannot say its organization's minimum.
const defaultArchivingPeriod = 30 * 24 * time.Hour

// firstDeletionDay is the first day whose end is at least the organization's minimum
// archiving period away.
func (a *App) firstDeletionDay(r *http.Request) time.Time {
	period := defaultArchivingPeriod
	if cfg, err := a.session(r).c.OrganizationConfig(r.Context()); err == nil {
		period = time.Duration(cfg.MinimumArchivingPeriod) * time.Second
	}
	return time.Now().Add(period)
}

// endOfDay is the last second of the local day of t.
func endOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 23, 59, 59, 0, time.Local)
}

func (a *App) workspacesPage(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	d := workspacesData{CanCreate: parsec.CanCreateRealm(s.c.Profile()), DeleteMin: a.firstDeletionDay(r).Format(time.DateOnly)}
	all, err := s.c.Workspaces(r.Context())
	if err != nil {
		d.Err = errText(err)
	}
	author := s.c.Authors()
	for _, info := range all {
		row := workspaceRow{WorkspaceInfo: info, Owner: info.Role == parsec.RoleOwner, Archived: info.ReadOnly()}
		if ws, err := s.c.Workspace(r.Context(), info.ID); err == nil {
			if at, by := ws.LastChange(); at != 0 {
				row.Updated, row.By = at, author(by)
			}
		}
		d.Workspaces = append(d.Workspaces, row)
	}
	a.page(w, r, "workspaces", "Workspaces", d, true)
}

// workspaceOf finds the workspace named in the path, or tells the person it is gone.
func (a *App) workspaceOf(w http.ResponseWriter, r *http.Request) (client.WorkspaceInfo, *client.Workspace, bool) {
	s := a.session(r)
	info, err := findWorkspace(r.Context(), s.c, r.PathValue("ws"))
	var ws *client.Workspace
	if err == nil {
		ws, err = s.c.Workspace(r.Context(), info.ID)
	}
	if err != nil {
		a.say(true, errText(err))
		http.Redirect(w, r, "/workspaces", http.StatusSeeOther)
		return info, nil, false
	}
	return info, ws, true
}

// findWorkspace finds a workspace of this user by the ID a URL or a form gives: never by
// name, which a member chooses (and may choose to be another workspace's ID).
func findWorkspace(ctx context.Context, c *client.Client, ref string) (client.WorkspaceInfo, error) {
	id, err := parsec.ParseVlobID(ref)
	if err != nil {
		return client.WorkspaceInfo{}, err
	}
	info, err := c.FindWorkspace(ctx, ref)
	if err == nil && info.ID != id {
		err = parsec.Errorf(parsec.NotFound, "workspace %s is not shared with you", parsec.ShortID(id))
	}
	return info, err
}

func (a *App) postWorkspace(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	name := strings.TrimSpace(r.PostFormValue("name"))
	all, _ := s.c.Workspaces(r.Context())
	id, err := s.c.CreateWorkspace(r.Context(), name)
	if err != nil {
		a.say(true, errText(err))
		http.Redirect(w, r, "/workspaces", http.StatusSeeOther)
		return
	}
	msg := "Workspace “" + name + "” created: you are its owner."
	if slices.ContainsFunc(all, func(i client.WorkspaceInfo) bool { return strings.EqualFold(i.Name, name) }) {
		msg += " Another workspace of yours has the same name: rename one to tell them apart."
	}
	a.say(false, msg)
	http.Redirect(w, r, "/workspaces/"+id.String()+"/files", http.StatusSeeOther)
}

func (a *App) postRenameWorkspace(w http.ResponseWriter, r *http.Request) {
	info, _, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	a.report(w, r, "/workspaces", a.session(r).c.RenameWorkspace(r.Context(), info.ID, name), "Workspace renamed “"+name+"”.")
}

// postArchiving archives, unarchives, or plans the deletion of a workspace (owners).
func (a *App) postArchiving(w http.ResponseWriter, r *http.Request) {
	info, _, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	var err error
	var msg string
	switch r.PostFormValue("to") {
	case "archived":
		err, msg = a.session(r).c.ArchiveWorkspace(r.Context(), info.ID, certif.ArchivingArchived, 0), "is archived: read-only for everybody."
	case "available":
		err, msg = a.session(r).c.ArchiveWorkspace(r.Context(), info.ID, certif.ArchivingAvailable, 0), "is available again."
	case "deletion":
		// Deleted after the end of the day chosen, which the organization's minimum
		// archiving period may not precede.
		day, perr := time.ParseInLocation(time.DateOnly, r.PostFormValue("day"), time.Local)
		first := a.firstDeletionDay(r)
		switch {
		case perr != nil:
			err = parsec.Errorf(parsec.Invalid, "choose the day after which the workspace is deleted")
		case endOfDay(day).Before(first):
			err = parsec.Errorf(parsec.Invalid, "the deletion cannot be planned before %s (the organization's minimum archiving period)", first.Format(time.DateOnly))
		default:
			at := parsec.FromTime(endOfDay(day))
			err = a.session(r).c.ArchiveWorkspace(r.Context(), info.ID, certif.ArchivingDeletionPlanned, at)
			msg = "is archived and will be deleted after " + day.Format(time.DateOnly) + "."
		}
	default:
		err = parsec.Errorf(parsec.Invalid, "unknown archiving %q", r.PostFormValue("to"))
	}
	a.report(w, r, "/workspaces", err, "Workspace “"+info.Name+"” "+msg)
}

// postClaim makes this user owner of a workspace left without an active owner.
func (a *App) postClaim(w http.ResponseWriter, r *http.Request) {
	info, _, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	a.report(w, r, "/workspaces", a.session(r).c.SelfPromote(r.Context(), info.ID), "You are now owner of “"+info.Name+"”.")
}

// sharingRow is a user of the organization in the sharing dialog, with the roles offered.
type sharingRow struct {
	User    client.UserInfo
	Me      bool
	Role    parsec.RealmRole
	Choices []client.RoleChoice
	Fixed   string // why no other role can be chosen, when none can
}

// fixedReason says why none of the choices but the current one is allowed ("" when one is).
func fixedReason(choices []client.RoleChoice) string {
	reason := ""
	for _, c := range choices {
		switch {
		case c.Allowed && !c.Current:
			return ""
		case !c.Allowed && !c.Current && reason == "":
			reason = c.Reason
		}
	}
	return reason
}

type sharingData struct {
	Workspace client.WorkspaceInfo
	Rows      []sharingRow
	Alone     bool // shared with nobody else
	Search    string
	Profile   string
}

// roleWord is a role as people read it: Owner, Manager, Contributor, Reader, Not shared.
func roleWord(r parsec.RealmRole) string {
	if r == parsec.RoleNone {
		return "Not shared"
	}
	return capitalize(r.Label())
}

func (a *App) sharingPage(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	info, _, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d := sharingData{Workspace: info, Search: q.Get("search"), Profile: q.Get("profile"), Alone: true}
	f := client.UserFilter{Search: d.Search, Statuses: []string{"active"}}
	if p, err := parsec.ParseProfile(d.Profile); err == nil {
		f.Profiles = []parsec.UserProfile{p}
	}
	members, _ := s.c.WorkspaceMembers(info.ID)
	roleOf := map[parsec.UserID]parsec.RealmRole{}
	for _, m := range members {
		roleOf[m.User.ID] = m.Role
		if m.User.ID != s.dev.UserID {
			d.Alone = false
		}
	}
	for _, u := range f.Select(s.c.Users()) {
		choices, err := s.c.RoleChoices(info.ID, u.ID)
		if err != nil {
			continue
		}
		d.Rows = append(d.Rows, sharingRow{User: u, Me: u.ID == s.dev.UserID, Role: roleOf[u.ID], Choices: choices, Fixed: fixedReason(choices)})
	}
	a.page(w, r, "sharing", "Share “"+info.Name+"”", d, true)
}

// postSharing gives a user a role, or removes theirs.
func (a *App) postSharing(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	info, _, ok := a.workspaceOf(w, r)
	if !ok {
		return
	}
	back := "/workspaces/" + info.ID.String() + "/sharing"
	u, found := a.findUser(r, r.PostFormValue("user"))
	if !found {
		a.say(true, "No such user.")
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	role := parsec.RealmRole(r.PostFormValue("role"))
	if role == parsec.RoleNone {
		key, rotated, err := s.c.UnshareWorkspace(r.Context(), info.ID, u.ID)
		switch {
		case parsec.IsKind(err, parsec.Exists):
			a.say(false, u.Handle.Label+" is not a member.")
		case err != nil:
			a.say(true, errText(err))
		case rotated:
			a.say(false, u.Handle.Label+" no longer has access. The workspace has a new key (key "+itoa(int(key))+"): they cannot read anything written from now on.")
		default:
			a.say(false, u.Handle.Label+" no longer has access. An owner's device will give the workspace a new key at its next sync.")
		}
	} else {
		err := s.c.ShareWorkspace(r.Context(), info.ID, u.ID, role)
		switch {
		case parsec.IsKind(err, parsec.Exists):
			a.say(false, u.Handle.Label+" already is "+roleWord(role)+".")
		case err != nil:
			a.say(true, errText(err))
		default:
			a.say(false, u.Handle.Label+" is now "+roleWord(role)+" of “"+info.Name+"”.")
		}
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
