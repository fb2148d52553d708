package gui

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Config configures the GUI.
type Config struct {
	ConfigDir string // where device files and local caches live (shared with the CLI)
	// DevServer, when set, is a development server the GUI may create organizations on
	// (parsec gui --dev): its URL and administration token.
	DevServer *DevServer
	// Link, when set, is a Parsec link (bootstrap or invitation) to open at the first visit.
	Link   string
	Logger *slog.Logger
	// HTTPClient reaches the Parsec server (nil: the default).
	HTTPClient *http.Client
}

// DevServer is an embedded development server.
type DevServer struct {
	URL        string
	AdminToken string
}

// App is the GUI: an HTTP handler and the state of one person's session.
type App struct {
	cfg    Config
	log    *slog.Logger
	pages  *pages
	events *broker

	mu      sync.Mutex
	addr    string // host:port the GUI listens on, for the Host check
	secret  string // the one-time secret of the launch URL; "" once used
	cookie  string // the session cookie's value
	sess    *session
	link    *client.Link // a link being opened (bootstrap or join), kept out of URLs
	flows   map[string]*flow
	waiting map[parsec.AccessToken]bool // invitations whose guest waits to be greeted
	flash   []message
}

// session is the unlocked device and its client, while logged in.
type session struct {
	dev    *device.Local
	file   string // the device file it was unlocked from (see postChangePassword, postForget)
	c      *client.Client
	cancel context.CancelFunc // stops following the server's events
	// serverDown is set while the server cannot be reached: pages show a banner and keep
	// working on what the device has.
	serverDown error
	// gone is set when the server refuses this device for good (revoked, frozen, expired).
	gone error
	// recovery is the recovery file just made, until the person says it is saved (or logs
	// out): its passphrase is shown once more on its page.
	recovery *recoveryFile
}

// message is a one-time notice shown at the top of the next page.
type message struct {
	Text  string
	Alert bool // an error or a warning (role=alert), else a status
}

// New makes the GUI. Serve it with Serve.
func New(cfg Config) (*App, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: cfg.Logger, pages: p, events: newBroker(), flows: map[string]*flow{}, waiting: map[parsec.AccessToken]bool{},
		secret: randomHex(32), cookie: randomHex(32)}
	if cfg.Link != "" {
		link, err := client.ParseLink(cfg.Link)
		if err != nil {
			return nil, err
		}
		a.link = &link
	}
	return a, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Listen opens the loopback listener the GUI serves on: addr is host:port with a loopback
// host (port 0 picks a free one).
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, parsec.Errorf(parsec.Invalid, "invalid --listen %q: want host:port", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, parsec.Errorf(parsec.Invalid, "invalid --listen %q: the GUI listens on the loopback address only (127.0.0.1, ::1 or localhost)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, parsec.Errorf(parsec.Unavailable, "cannot listen on %s: %v", addr, err)
	}
	return ln, nil
}

// URL is the launch URL for a listener: it carries the one-time secret.
func (a *App) URL(ln net.Listener) string {
	return "http://" + ln.Addr().String() + "/?secret=" + a.secret
}

// Serve serves the GUI on ln until ctx is done, then logs out (the device is forgotten).
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	a.mu.Lock()
	a.addr = ln.Addr().String()
	a.mu.Unlock()
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.events.close()
	srv.Shutdown(sctx)
	a.logout()
	return nil
}

// Handler is the GUI's HTTP handler, behind its protections.
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	a.routes(mux)
	cop := http.NewCrossOriginProtection()
	return a.protect(cop.Handler(mux))
}

// protect applies the local web app's protections to every request: the Host check, the
// secret exchanged for a cookie, and the security headers.
func (a *App) protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		if !a.hostAllowed(r.Host) {
			http.Error(w, "refused: this address is not the one the Parsec GUI listens on", http.StatusMisdirectedRequest)
			return
		}
		if secret := r.URL.Query().Get("secret"); secret != "" && r.Method == http.MethodGet {
			a.mu.Lock()
			ok := a.secret != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(a.secret)) == 1
			if ok {
				a.secret = "" // one time only
			}
			cookie := a.cookie
			a.mu.Unlock()
			if !ok {
				a.refuse(w, "This link has already been used or is wrong. Start “parsec gui” again and open the address it prints.")
				return
			}
			http.SetCookie(w, &http.Cookie{Name: cookieName, Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			q := r.URL.Query()
			q.Del("secret")
			http.Redirect(w, r, (&url.URL{Path: r.URL.Path, RawQuery: q.Encode()}).String(), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/static/") {
			// The style sheet and script are the same in every copy of the program: the
			// refusal page, shown without the cookie, needs them too.
			next.ServeHTTP(w, r)
			return
		}
		c, err := r.Cookie(cookieName)
		if err != nil || subtle.ConstantTimeCompare([]byte(c.Value), []byte(a.cookie)) != 1 {
			a.refuse(w, "Open the address that “parsec gui” printed: this browser has not been let in.")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), seenKey{}, a.events.seen())))
	})
}

const cookieName = "parsec_gui"

// hostAllowed reports whether a request's Host names the address the GUI listens on.
func (a *App) hostAllowed(host string) bool {
	a.mu.Lock()
	addr := a.addr
	a.mu.Unlock()
	if addr == "" {
		return false
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
		if host == h+":"+port {
			return true
		}
	}
	return host == addr
}

func (a *App) refuse(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	a.pages.render(w, "refused", pageData{Title: "Not allowed", Message: msg})
}

// current returns the session, or nil when nobody is logged in.
func (a *App) current() *session {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sess
}

// sessionKey is where loggedIn puts the session it checked in the request's context.
type sessionKey struct{}

// session returns the session a logged-in handler was served with (see loggedIn), else the
// current one. A handler keeps it even if another tab logs out meanwhile: its client's
// calls then fail, which the page says, where a session gone nil crashed the handler.
func (a *App) session(r *http.Request) *session {
	if s, ok := r.Context().Value(sessionKey{}).(*session); ok {
		return s
	}
	return a.current()
}

// say queues a message for the next page.
func (a *App) say(alert bool, text string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.flash = append(a.flash, message{Text: text, Alert: alert})
}

// takeFlash returns the queued messages and forgets them.
func (a *App) takeFlash() []message {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := a.flash
	a.flash = nil
	return m
}

// login unlocks a device with its password and opens its client.
func (a *App) login(ctx context.Context, id string, password []byte) error {
	file, err := device.Find(a.cfg.ConfigDir, id)
	if err != nil {
		return err
	}
	local, err := file.Unlock(password)
	if err != nil {
		return err
	}
	return a.startFrom(local, file.Path)
}

// start opens the client of a device just made on this computer, saved at its own path,
// and follows the server's events.
func (a *App) start(local *device.Local) error {
	return a.startFrom(local, device.Path(a.cfg.ConfigDir, local.DeviceID))
}

// startFrom opens the client of a device unlocked from the device file at path, and
// follows the server's events.
func (a *App) startFrom(local *device.Local, path string) error {
	c, err := client.Open(context.Background(), a.cfg.ConfigDir, local, client.Options{HTTPClient: a.cfg.HTTPClient,
		Warn: func(msg string) { a.say(true, "Warning: "+msg) }})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{dev: local, file: path, c: c, cancel: cancel}
	a.mu.Lock()
	old := a.sess
	a.sess = s
	a.mu.Unlock()
	if old != nil {
		old.close()
	}
	a.refresh(ctx, s)
	go a.follow(ctx, s)
	return nil
}

// refresh brings the session's certificates up to date and notes whether the server
// answers.
func (a *App) refresh(ctx context.Context, s *session) {
	_, err := s.c.PollCertificates(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case err == nil:
		s.serverDown = nil
	case parsec.IsKind(err, parsec.Unavailable):
		s.serverDown = err
	case parsec.IsKind(err, parsec.Revoked), parsec.IsKind(err, parsec.Frozen), parsec.IsKind(err, parsec.Expired),
		parsec.IsKind(err, parsec.BadAuth), parsec.IsKind(err, parsec.Tampered):
		s.gone = err
	}
}

// follow listens to the server's events while logged in, and tells the pages.
func (a *App) follow(ctx context.Context, s *session) {
	err := s.c.Watch(ctx, func(ch client.Change) {
		if ch.Lost != nil {
			// The banner shows on the open pages at once, not at the next click.
			a.mu.Lock()
			s.serverDown = ch.Lost
			a.mu.Unlock()
			a.events.publish("changed")
			return
		}
		if ch.IsInvitation() {
			a.mu.Lock()
			if ch.GuestWaiting {
				a.waiting[ch.Invitation] = true
			} else {
				delete(a.waiting, ch.Invitation)
			}
			a.mu.Unlock()
		} else {
			if ch.Vlob != (parsec.VlobID{}) {
				// Keep the device's copy current, so that lists and the last change are
				// live; an error shows when the workspace is opened.
				if ws, err := s.c.Workspace(ctx, ch.Realm); err == nil {
					ws.Pull(ctx)
				}
			}
			a.refresh(ctx, s)
		}
		a.events.publish("changed")
	})
	if err != nil && ctx.Err() == nil {
		a.mu.Lock()
		s.gone = err
		a.mu.Unlock()
		a.events.publish("changed")
	}
}

// logout forgets the unlocked device.
func (a *App) logout() {
	a.mu.Lock()
	s := a.sess
	a.sess = nil
	flows := a.flows
	a.flows = map[string]*flow{}
	a.mu.Unlock()
	for _, f := range flows {
		f.stop()
	}
	if s != nil {
		s.close()
	}
}

// close stops following the server and closes the device's client.
func (s *session) close() {
	s.cancel()
	s.c.Close()
}

// errText is how a page tells an error: the error's own sentence, with what to do for the
// kinds that call for it.
func errText(err error) string {
	var msg string
	switch {
	case errors.Is(err, context.Canceled):
		return "Cancelled."
	case parsec.IsKind(err, parsec.Unavailable):
		msg = " The server cannot be reached: check your connection, then try again."
	case parsec.IsKind(err, parsec.Tampered):
		msg = " The server sent data that failed verification: it may be compromised. Nothing was changed."
	}
	return capitalize(err.Error()) + "." + msg
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	if r[0] >= 'a' && r[0] <= 'z' {
		r[0] -= 'a' - 'A'
	}
	return string(r)
}

// itoa is strconv.Itoa for templates' callers.
func itoa(n int) string { return strconv.Itoa(n) }
