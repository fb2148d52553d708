package protocol

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/parsec-go/parsec/internal/parsec"
)

// Scheme of the links that open the client.
const Scheme = "parsec3"

// Link actions (the "a" parameter).
const (
	ActionBootstrapOrganization = "bootstrap_organization"
	ActionClaimUser             = "claim_user"
	ActionClaimDevice           = "claim_device"
	ActionClaimRecovery         = "claim_shamir_recovery"
)

// ServerAddr is where a server is reached.
type ServerAddr struct {
	Host   string // host name or IP (IPv6 without brackets)
	Port   int    // 0: the scheme's default
	NoSSL  bool   // plain HTTP
	prefix string // path prefix of the http(s) form, when the server sits behind one
}

// ParseServerAddr accepts "parsec3://host[:port][?no_ssl=true]" and "http(s)://host[:port]".
func ParseServerAddr(s string) (ServerAddr, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		return ServerAddr{}, parsec.Errorf(parsec.Invalid, "invalid server address %q: want parsec3://host[:port] or http(s)://host[:port]", s)
	}
	a, err := serverFromURL(u)
	if err != nil {
		return ServerAddr{}, parsec.Errorf(parsec.Invalid, "invalid server address %q: %v", s, err)
	}
	if u.Scheme != Scheme {
		a.prefix = strings.TrimRight(u.EscapedPath(), "/")
	}
	return a, nil
}

func serverFromURL(u *url.URL) (ServerAddr, error) {
	var a ServerAddr
	switch u.Scheme {
	case Scheme:
		a.NoSSL = u.Query().Get("no_ssl") == "true"
	case "https":
	case "http":
		a.NoSSL = true
	default:
		return a, fmt.Errorf("unknown scheme %q", u.Scheme)
	}
	if u.User != nil {
		return a, fmt.Errorf("user information is not allowed")
	}
	a.Host = u.Hostname()
	if a.Host == "" {
		return a, fmt.Errorf("no host")
	}
	switch {
	case strings.Contains(a.Host, "%"):
		// An IPv6 zone (or an escaped byte) names an interface of one machine: meaningless
		// in a link given to others, and not written back by String.
		return a, fmt.Errorf("host %q: zones and escapes are not allowed", a.Host)
	case strings.Contains(a.Host, ":") && net.ParseIP(a.Host) == nil:
		return a, fmt.Errorf("host %q: not an IPv6 address", a.Host)
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return a, fmt.Errorf("bad port %q", p)
		}
		a.Port = n
	}
	return a, nil
}

func (a ServerAddr) hostPort() string {
	if a.Port == 0 {
		if strings.Contains(a.Host, ":") {
			return "[" + a.Host + "]"
		}
		return a.Host
	}
	return net.JoinHostPort(a.Host, strconv.Itoa(a.Port))
}

// HTTPURL is the base URL for requests, e.g. "https://parsec.example.com".
func (a ServerAddr) HTTPURL() string {
	scheme := "https"
	if a.NoSSL {
		scheme = "http"
	}
	return scheme + "://" + a.hostPort() + a.prefix
}

// String is the parsec3:// form.
func (a ServerAddr) String() string {
	s := Scheme + "://" + a.hostPort()
	if a.NoSSL {
		s += "?no_ssl=true"
	}
	return s
}

// Link is an action link: bootstrap an organization, claim an invitation.
type Link struct {
	Server ServerAddr
	Org    parsec.OrganizationID
	Action string
	Token  parsec.AccessToken
}

// ParseLink accepts both forms of a link:
//
//	parsec3://HOST[:PORT]/ORG?a=ACTION&p=TOKEN[&no_ssl=true]
//	http(s)://HOST[:PORT]/redirect/ORG?a=ACTION&p=TOKEN
func ParseLink(s string) (Link, error) {
	bad := func(why string) (Link, error) {
		return Link{}, parsec.Errorf(parsec.Invalid, "invalid link %q: %s", s, why)
	}
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return bad("not a URL")
	}
	if u.Host == "" {
		return bad("no host")
	}
	srv, err := serverFromURL(u)
	if err != nil {
		return bad(err.Error())
	}
	path := u.Path
	if u.Scheme != Scheme {
		// Look for the route in the escaped path, where the prefix is kept: the decoded path
		// may have it where the escaped one does not ("/%72edirect/").
		escaped := u.EscapedPath()
		i := strings.Index(escaped, RouteRedirect)
		if i < 0 {
			return bad("an http(s) link must have a " + RouteRedirect + "ORG path")
		}
		srv.prefix = strings.TrimRight(escaped[:i], "/")
		if path, err = url.PathUnescape(escaped[i+len(RouteRedirect):]); err != nil {
			return bad("bad path")
		}
	}
	orgName := strings.Trim(path, "/")
	if orgName == "" || strings.Contains(orgName, "/") {
		return bad("no organization in the path")
	}
	org, err := parsec.ParseOrganizationID(orgName)
	if err != nil {
		return bad(err.Error())
	}
	q := u.Query()
	l := Link{Server: srv, Org: org, Action: q.Get("a")}
	switch l.Action {
	case ActionBootstrapOrganization, ActionClaimUser, ActionClaimDevice, ActionClaimRecovery:
	case "":
		return bad("no action (a=…)")
	default:
		return bad(fmt.Sprintf("unknown action %q", l.Action))
	}
	p := q.Get("p")
	tok, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil || len(tok) != len(l.Token) {
		return bad("bad token (p=…)")
	}
	copy(l.Token[:], tok)
	return l, nil
}

func (l Link) query() string {
	v := "a=" + l.Action + "&p=" + base64.RawURLEncoding.EncodeToString(l.Token[:])
	return v
}

// String is the parsec3:// form.
func (l Link) String() string {
	s := Scheme + "://" + l.Server.hostPort() + "/" + url.PathEscape(string(l.Org)) + "?" + l.query()
	if l.Server.NoSSL {
		s += "&no_ssl=true"
	}
	return s
}

// HTTPRedirect is the http(s):// form, which the server answers with a page that opens the
// parsec3:// form; it is the form that survives email clients and chat tools.
func (l Link) HTTPRedirect() string {
	return l.Server.HTTPURL() + RouteRedirect + url.PathEscape(string(l.Org)) + "?" + l.query()
}
