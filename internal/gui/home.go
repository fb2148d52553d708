package gui

import (
	"context"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/parsec"
)

func (a *App) routes(mux *http.ServeMux) {
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("GET /events", a.serveEvents)
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /login", a.postLogin)
	mux.HandleFunc("POST /logout", a.postLogout)
	mux.HandleFunc("POST /link", a.postLink)
	mux.HandleFunc("GET /bootstrap", a.bootstrapPage)
	mux.HandleFunc("POST /bootstrap", a.postBootstrap)
	mux.HandleFunc("POST /dev/organization", a.postDevOrganization)

	mux.HandleFunc("GET /organization", a.loggedIn(a.organizationPage))
	mux.HandleFunc("GET /devices", a.loggedIn(a.devicesPage))
	mux.HandleFunc("GET /users", a.notExternal(a.usersPage))
	mux.HandleFunc("GET /users/{id}", a.notExternal(a.userPage))
	mux.HandleFunc("POST /users/action", a.admin(a.postUsersAction))
	mux.HandleFunc("POST /users/revoke", a.admin(a.postRevoke))
	mux.HandleFunc("POST /users/profile", a.admin(a.postProfile))

	// Everybody sees the invitations they may greet (their own devices', the shared
	// recoveries they hold shares of); Administrators invite users.
	mux.HandleFunc("GET /invitations", a.loggedIn(a.invitationsPage))
	mux.HandleFunc("POST /invitations", a.admin(a.postInvite))
	mux.HandleFunc("POST /invitations/{token}/cancel", a.loggedIn(a.postCancelInvitation))
	mux.HandleFunc("POST /invitations/{token}/resend", a.admin(a.postResend))
	mux.HandleFunc("POST /invitations/{token}/greet", a.loggedIn(a.postGreet))
	mux.HandleFunc("POST /devices/add", a.loggedIn(a.postAddDevice))
	mux.HandleFunc("GET /join", a.joinPage)
	mux.HandleFunc("POST /join", a.postJoin)

	a.workspaceRoutes(mux)
	a.recoveryRoutes(mux)
	a.sharedRecoveryRoutes(mux)

	mux.HandleFunc("GET /flow/{id}", a.flowPage)
	mux.HandleFunc("GET /flow/{id}/qr", a.flowQR)
	mux.HandleFunc("POST /flow/{id}", a.postFlow)
}

// loggedIn serves h only with an unlocked device; otherwise the home page.
func (a *App) loggedIn(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := a.current()
		if s == nil {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, s))
		// Each page shows the certificates as the server has them now (or says the server
		// is unreachable); a revoked or frozen person learns it at once.
		a.refresh(r.Context(), s)
		a.mu.Lock()
		gone := s.gone
		a.mu.Unlock()
		if gone != nil {
			a.logout()
			a.say(true, errText(gone)+" You have been logged out.")
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		h(w, r)
	}
}

// admin serves h to Administrators only.
func (a *App) admin(h http.HandlerFunc) http.HandlerFunc {
	return a.loggedIn(func(w http.ResponseWriter, r *http.Request) {
		if a.session(r).c.Profile() != parsec.ProfileAdmin {
			w.WriteHeader(http.StatusForbidden)
			a.page(w, r, "notallowed", "Not allowed", nil, false)
			return
		}
		h(w, r)
	})
}

// notExternal serves h to Administrators and Members: External users never see other
// users' names and emails.
func (a *App) notExternal(h http.HandlerFunc) http.HandlerFunc {
	return a.loggedIn(func(w http.ResponseWriter, r *http.Request) {
		if a.session(r).c.Profile() == parsec.ProfileOutsider {
			w.WriteHeader(http.StatusForbidden)
			a.page(w, r, "notallowed", "Not allowed", nil, false)
			return
		}
		h(w, r)
	})
}

// deviceRow is a device stored on this computer, as the home page lists it.
type deviceRow struct {
	ID     string
	Org    string
	User   string
	Email  string
	Label  string
	Server string
}

type homeData struct {
	Devices  []deviceRow
	Problems []string
}

func (a *App) home(w http.ResponseWriter, r *http.Request) {
	if a.current() != nil { // not through loggedIn: whoever is logged in now
		http.Redirect(w, r, "/organization", http.StatusSeeOther)
		return
	}
	a.mu.Lock()
	link := a.link
	a.mu.Unlock()
	if link != nil {
		http.Redirect(w, r, flowFor(*link), http.StatusSeeOther)
		return
	}
	files, errs := device.List(a.cfg.ConfigDir)
	var d homeData
	for _, f := range files {
		h := f.Header
		d.Devices = append(d.Devices, deviceRow{ID: h.DeviceID.String(), Org: string(h.OrganizationID), User: h.HumanHandle.Label,
			Email: h.HumanHandle.Email, Label: h.DeviceLabel, Server: h.ServerURL})
	}
	for _, err := range errs {
		d.Problems = append(d.Problems, errText(err))
	}
	a.page(w, r, "home", "Parsec", d, false)
}

// flowFor is the page that opens a link.
func flowFor(l client.Link) string {
	if l.Action == client.ActionBootstrap {
		return "/bootstrap"
	}
	return "/join"
}

func (a *App) postLogin(w http.ResponseWriter, r *http.Request) {
	id, password := r.PostFormValue("device"), []byte(r.PostFormValue("password"))
	if id == "" {
		a.say(true, "Choose a device to log in with.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if err := a.login(r.Context(), id, password); err != nil {
		if parsec.IsKind(err, parsec.BadAuth) {
			a.say(true, "Wrong password: the device is still locked. Try again.")
		} else {
			a.say(true, errText(err))
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/organization", http.StatusSeeOther)
}

func (a *App) postLogout(w http.ResponseWriter, r *http.Request) {
	a.logout()
	a.say(false, "Logged out: the device is locked again.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// postLink opens a link entered by hand: a bootstrap link or an invitation.
func (a *App) postLink(w http.ResponseWriter, r *http.Request) {
	link, err := client.ParseLink(strings.TrimSpace(r.PostFormValue("url")))
	if err != nil {
		a.say(true, "This is not a Parsec link: "+errText(err))
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.mu.Lock()
	a.link = &link
	a.mu.Unlock()
	http.Redirect(w, r, flowFor(link), http.StatusSeeOther)
}

type bootstrapData struct {
	Org   string
	Label string
	Name  string
	Email string
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "my computer"
	}
	return h
}

func (a *App) bootstrapPage(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	link := a.link
	a.mu.Unlock()
	if link == nil || link.Action != client.ActionBootstrap {
		a.say(true, "Open a bootstrap link first (Enter a URL manually).")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.page(w, r, "bootstrap", "Create an organization", bootstrapData{Org: string(link.Org), Label: hostname()}, false)
}

func (a *App) postBootstrap(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	link := a.link
	a.mu.Unlock()
	if link == nil || link.Action != client.ActionBootstrap {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	d := bootstrapData{Org: string(link.Org), Name: r.PostFormValue("name"), Email: r.PostFormValue("email"), Label: r.PostFormValue("label")}
	fail := func(msg string) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		a.say(true, msg)
		a.page(w, r, "bootstrap", "Create an organization", d, false)
	}
	password, err := newPassword(r)
	if err != nil {
		fail(errText(err))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
	defer cancel()
	dev, err := client.Bootstrap(ctx, a.cfg.ConfigDir, client.BootstrapRequest{Link: *link, Email: d.Email, Name: d.Name,
		DeviceLabel: d.Label, Password: password, HTTPClient: a.cfg.HTTPClient})
	if err != nil {
		fail(errText(err))
		return
	}
	a.mu.Lock()
	a.link = nil
	a.mu.Unlock()
	if err := a.start(dev); err != nil {
		a.say(true, errText(err))
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.say(false, "Organization "+d.Org+" created: you are its first Administrator.")
	http.Redirect(w, r, "/organization", http.StatusSeeOther)
}

// newPassword reads a new password typed twice.
func newPassword(r *http.Request) ([]byte, error) {
	r.ParseForm()
	return newPasswordOf(r.PostForm)
}

// postDevOrganization creates an organization on the embedded development server, then
// opens its bootstrap link.
func (a *App) postDevOrganization(w http.ResponseWriter, r *http.Request) {
	dev := a.cfg.DevServer
	if dev == nil {
		http.NotFound(w, r)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("org"))
	org, err := parsec.ParseOrganizationID(name)
	if err == nil {
		var adm *client.Admin
		if adm, err = client.NewAdmin(dev.URL, dev.AdminToken, a.cfg.HTTPClient); err == nil {
			var link client.Link
			if link, err = adm.CreateOrganizationLink(r.Context(), org); err == nil {
				a.mu.Lock()
				a.link = &link
				a.mu.Unlock()
				http.Redirect(w, r, "/bootstrap", http.StatusSeeOther)
				return
			}
		}
	}
	a.say(true, errText(err))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type orgData struct {
	Server          string
	Admins, Members int
	Externals       int
	Revoked         int
	Outsiders       bool
	Limit           string
	Offline         bool // the server cannot be reached: its settings are unknown
	Err             string
}

func (a *App) organizationPage(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	d := orgData{Server: s.dev.ServerURL, Limit: "none"}
	for _, u := range s.c.Users() {
		switch {
		case !u.RevokedOn.IsZero():
			d.Revoked++
		case u.Profile == parsec.ProfileAdmin:
			d.Admins++
		case u.Profile == parsec.ProfileStandard:
			d.Members++
		default:
			d.Externals++
		}
	}
	cfg, err := s.c.OrganizationConfig(r.Context())
	switch {
	case parsec.IsKind(err, parsec.Unavailable):
		// The banner says the server cannot be reached; only what the server alone knows
		// is missing.
		d.Offline = true
	case err != nil:
		d.Err = errText(err)
	default:
		d.Outsiders = cfg.UserProfileOutsiderAllowed
		if cfg.ActiveUsersLimit != nil {
			d.Limit = itoa(int(*cfg.ActiveUsersLimit)) + " active users"
		}
	}
	a.page(w, r, "organization", "My organization", d, true)
}

type devicesData struct {
	Devices []client.DeviceInfo
	Current parsec.DeviceID
	Shared  sharedData
}

func (a *App) devicesPage(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	d := a.devices(r, s)
	d.Shared = a.sharedRecovery(r, s, nil)
	a.page(w, r, "devices", "My devices", d, true)
}

// devices lists this user's devices.
func (a *App) devices(r *http.Request, s *session) devicesData {
	d := devicesData{Current: s.dev.DeviceID}
	for _, u := range s.c.Users() {
		if u.ID == s.dev.UserID {
			d.Devices = u.Devices
		}
	}
	return d
}
