// Package testenv builds in-process worlds for tests: a real server (SQLite metadata, disk
// blocks, event bus) on a loopback HTTP listener, organizations bootstrapped through the real
// client library, and — to test zero trust — a server that lies, by rewriting its replies.
package testenv

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server"
	"github.com/parsec-go/parsec/internal/server/blockstore/disk"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlite"
)

func init() { crypto.TestOnlyWeakenPasswordKDF() }

// AdminToken is the administration token of test servers.
const AdminToken = "test-admin-token"

// Server is a running test server.
type Server struct {
	URL   string
	Store metastore.Store
	Srv   *server.Server
	HTTP  *httptest.Server

	// Lie, when set, rewrites the reply to a command (of any family) before the client sees
	// it: the server lies. It gets the command name and the encoded reply body.
	Lie func(cmd string, reply []byte) []byte
	// LieStep, when set, rewrites the other side's payload in an ok reply to an invitation
	// step (protocol.CmdGreeterStep or protocol.CmdClaimerStep): it gets the command, the
	// step number and the genuine payload, and returns the one the client sees. It runs
	// before Lie.
	LieStep func(cmd string, step int, payload []byte) []byte
	// Front, when set, serves each request in place of the server, given the server's
	// handler (with Lie and LieStep): a test puts in front what an operator might, or
	// makes the server behave as an older version would.
	Front func(w http.ResponseWriter, r *http.Request, server http.Handler)
}

// NewServer starts a server for the duration of the test, its configuration changed by
// configure.
func NewServer(t testing.TB, configure ...func(*server.Config)) *Server {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(t.Context(), filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := disk.Open(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	bus := events.New(parsec.SystemClock{})
	s := &Server{Store: store}
	var srv *server.Server
	var h http.HandlerFunc
	front := func(w http.ResponseWriter, r *http.Request) {
		if s.Front != nil {
			s.Front(w, r, h)
			return
		}
		h(w, r)
	}
	h = func(w http.ResponseWriter, r *http.Request) {
		if s.Lie == nil && s.LieStep == nil || r.Method != http.MethodPost {
			srv.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		req, err := protocol.DecodeRequest(body)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		out := rec.Body.Bytes()
		if err == nil && rec.Code == http.StatusOK {
			if s.LieStep != nil {
				out = s.lieStep(req, out)
			}
			if s.Lie != nil {
				out = s.Lie(req.Cmd, out)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(out)
	}
	s.HTTP = httptest.NewServer(http.HandlerFunc(front))
	s.URL = s.HTTP.URL
	cfg := server.Config{
		PublicURL: s.URL, AdminToken: AdminToken, Store: store, Blocks: blocks, Bus: bus,
		Logger:      slog.New(slog.DiscardHandler),
		OrgDefaults: server.DefaultOrganizationConfig(),
	}
	for _, f := range configure {
		f(&cfg)
	}
	srv, err = server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Srv = srv
	t.Cleanup(func() {
		srv.Stopping()
		s.HTTP.Close()
		bus.Close()
		blocks.Close()
		store.Close()
	})
	return s
}

// lieStep applies LieStep to the reply of a step command; other replies, and step replies
// that are not ok, pass unchanged.
func (s *Server) lieStep(req protocol.Request, reply []byte) []byte {
	if req.Cmd != protocol.CmdGreeterStep && req.Cmd != protocol.CmdClaimerStep {
		return reply
	}
	var args protocol.StepReq
	var rep protocol.StepRep
	if codec.Unmarshal(req.Req, &args) != nil || protocol.DecodeReply(reply, &rep) != nil {
		return reply
	}
	rep.Payload = s.LieStep(req.Cmd, args.Step, rep.Payload)
	out, err := protocol.OK(rep)
	if err != nil {
		panic(err)
	}
	return out
}

// Admin returns an administration client.
func (s *Server) Admin(t testing.TB) *client.Admin {
	a, err := client.NewAdmin(s.URL, AdminToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// CreateOrg creates an organization and returns its bootstrap link.
func (s *Server) CreateOrg(t testing.TB, org parsec.OrganizationID) protocol.Link {
	t.Helper()
	urls, err := s.Admin(t).CreateOrganization(t.Context(), org, client.OrgOptions{})
	if err != nil {
		t.Fatal(err)
	}
	link, err := protocol.ParseLink(urls.BootstrapURL)
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// User is a person's device in a test world.
type User struct {
	ConfigDir string
	Device    *device.Local
	Password  []byte
}

// Bootstrap creates and bootstraps an organization; the returned user is its first
// Administrator.
func (s *Server) Bootstrap(t testing.TB, org parsec.OrganizationID, email, name string) *User {
	t.Helper()
	link := s.CreateOrg(t, org)
	u := &User{ConfigDir: t.TempDir(), Password: []byte("password of " + email)}
	dev, err := client.Bootstrap(t.Context(), u.ConfigDir, client.BootstrapRequest{
		Link: link, Email: email, Name: name, DeviceLabel: "laptop", Password: u.Password,
	})
	if err != nil {
		t.Fatal(err)
	}
	u.Device = dev
	return u
}

// Open opens a client for the user's device; it is closed at the end of the test.
func (u *User) Open(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.Open(t.Context(), u.ConfigDir, u.Device, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// StoredCommon returns the common certificates the server stores for an organization.
func (s *Server) StoredCommon(t testing.TB, org parsec.OrganizationID) []metastore.Certificate {
	t.Helper()
	var out []metastore.Certificate
	err := s.Store.View(t.Context(), func(tx metastore.Tx) error {
		var err error
		out, err = tx.Certificates(org, metastore.CommonTopic, 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// SetExpired expires or un-expires an organization, as the server administrator would.
func (s *Server) SetExpired(t testing.TB, org parsec.OrganizationID, expired bool) error {
	return s.Store.Update(t.Context(), func(tx metastore.Tx) error {
		o, err := tx.Organization(org)
		if err != nil {
			return err
		}
		o.Config.IsExpired = expired
		return tx.PutOrganization(o)
	})
}
