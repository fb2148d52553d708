package gui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

//go:embed templates static
var assets embed.FS

// pages are the parsed templates: each page with the layout and the shared partials.
type pages struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"profileLabel": func(p parsec.UserProfile) string { return profileWord(p) },
	"statusLabel":  func(s string) string { return capitalize(s) },
	"short":        func(v fmt.Stringer) string { s := v.String(); return s[:min(7, len(s))] },
	"date":         func(t parsec.DateTime) string { return t.Time().Local().Format("2006-01-02 15:04") },
	"datetime":     func(t parsec.DateTime) string { return t.Time().Local().Format("2006-01-02 15:04:05") },
	"join":         strings.Join,
	"size":         func(n uint64) string { return parsec.FormatSize(int64(n)) },
	"role":         roleWord,
	"dec":          func(n int) int { return n - 1 },
	"plural":       pluralWord,
}

// profileWord is a profile as people call it: Administrator, Member, External.
func profileWord(p parsec.UserProfile) string {
	switch p {
	case parsec.ProfileAdmin:
		return "Administrator"
	case parsec.ProfileStandard:
		return "Member"
	case parsec.ProfileOutsider:
		return "External"
	}
	return string(p)
}

func loadPages() (*pages, error) {
	shared := []string{"templates/layout.html", "templates/partials.html"}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || base == "partials" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, append(shared, n)...)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		p.byName[base] = t
	}
	return p, nil
}

// pageData is what every page template receives.
type pageData struct {
	Title   string
	Message string // the refused page's explanation
	Flash   []message
	Live    bool   // the page fetches itself again when something changes
	Seen    uint64 // the events published when the request came (see serveEvents)
	Nav     string

	Session    *sessionView
	Pending    int // pending invitations this user may greet, for the yellow button
	ServerDown string
	Dev        bool

	Data any // the page's own data
}

// sessionView is what pages show of the logged-in device.
type sessionView struct {
	Org     string
	User    string
	Email   string
	Device  string
	Profile parsec.UserProfile
	Admin   bool
	Outside bool
}

// render writes a page; a template failure is logged and shown as a plain error.
func (p *pages) render(w http.ResponseWriter, name string, d pageData) {
	t, ok := p.byName[name]
	if !ok {
		http.Error(w, "no such page: "+name, http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", d); err != nil {
		http.Error(w, "the page could not be drawn: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	}
	buf.WriteTo(w)
}

// page renders a page for the current session, with its flash messages and banners.
func (a *App) page(w http.ResponseWriter, r *http.Request, name, title string, data any, live bool) {
	d := pageData{Title: title, Live: live, Seen: seenOf(r), Nav: name, Data: data, Dev: a.cfg.DevServer != nil}
	if r.Header.Get("X-Parsec-Refresh") == "" {
		d.Flash = a.takeFlash() // a live refresh leaves the messages to the page that shows them
	}
	if s := a.session(r); s != nil {
		d.Session = viewOf(s)
		a.mu.Lock()
		if s.serverDown != nil {
			d.ServerDown = errText(s.serverDown)
		}
		a.mu.Unlock()
		d.Pending = a.pendingCount(r)
	}
	a.pages.render(w, name, d)
}

func viewOf(s *session) *sessionView {
	p := s.c.Profile()
	return &sessionView{Org: string(s.dev.OrganizationID), User: s.dev.HumanHandle.Label, Email: s.dev.HumanHandle.Email,
		Device: s.dev.DeviceLabel, Profile: p, Admin: p == parsec.ProfileAdmin, Outside: p == parsec.ProfileOutsider}
}

// pendingCount counts the pending invitations, for the yellow button; 0 when it cannot tell.
func (a *App) pendingCount(r *http.Request) int {
	s := a.session(r)
	if s == nil {
		return 0
	}
	invs, err := s.c.Invitations(r.Context())
	if err != nil {
		return 0
	}
	n := 0
	for _, inv := range invs {
		if inv.Status == client.InvitationPending {
			n++
		}
	}
	return n
}

// static serves the embedded CSS and JavaScript.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(assets, "static")
	return http.StripPrefix("/static/", http.FileServerFS(sub))
}
