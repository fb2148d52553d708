package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/blockstore/disk"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlite"
)

// This file holds the test harness: a real server (SQLite metadata, disk blocks, in-process
// event bus) behind httptest, a settable clock, and helpers that build real organizations
// with real signed certificates and make real signed requests.

const testAdminToken = "test-admin-token"

// testStart is the server's time when a test starts.
var testStart = parsec.FromTime(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))

// testClock is a settable clock, safe to read from the server's goroutines while a test
// moves it.
type testClock struct {
	mu  sync.Mutex
	now parsec.DateTime
}

func (c *testClock) Now() parsec.DateTime {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t parsec.DateTime) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

type testServer struct {
	srv   *Server
	hs    *httptest.Server
	url   string
	store metastore.Store
	bus   *events.Memory
	clock *testClock
}

// newTestServer starts a server for one test; options adjust its configuration.
func newTestServer(t *testing.T, opts ...func(*Config)) *testServer {
	t.Helper()
	dir := t.TempDir()
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := disk.Open(filepath.Join(dir, "blocks"))
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{now: testStart}
	bus := events.New(clock)
	hs := httptest.NewUnstartedServer(nil)
	cfg := Config{
		PublicURL:    "http://" + hs.Listener.Addr().String(),
		AdminToken:   testAdminToken,
		Store:        store,
		Blocks:       blocks,
		Bus:          bus,
		Clock:        clock,
		Logger:       slog.New(slog.DiscardHandler),
		OrgDefaults:  DefaultOrganizationConfig(),
		SSEKeepalive: time.Hour,
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(func() {
		srv.Stopping() // ends event streams a failed test left open, so that Close returns
		hs.Close()
		bus.Close()
		blocks.Close()
		store.Close()
	})
	return &testServer{srv: srv, hs: hs, url: hs.URL, store: store, bus: bus, clock: clock}
}

// response is what came back from the server.
type response struct {
	code   int
	header http.Header
	body   []byte
}

func (ts *testServer) do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := ts.hs.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: body}
}

func (ts *testServer) newRequest(t *testing.T, method, path string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ts.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// rpcRequest is a well-formed RPC request without authentication.
func (ts *testServer) rpcRequest(t *testing.T, path string, body []byte) *http.Request {
	t.Helper()
	req := ts.newRequest(t, http.MethodPost, path, body)
	req.Header.Set(protocol.HeaderAPIVersion, protocol.APIVersion)
	req.Header.Set("Content-Type", protocol.ContentType)
	return req
}

func encodeRequest(t *testing.T, cmd string, args any) []byte {
	t.Helper()
	b, err := protocol.EncodeRequest(cmd, args)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodeReply decodes a 200 reply; it returns the *protocol.StatusError of a non-ok reply.
func decodeReply(t *testing.T, r response, rep any) error {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("HTTP status %d (%q), want 200", r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != protocol.ContentType {
		t.Fatalf("reply Content-Type %q, want %q", ct, protocol.ContentType)
	}
	err := protocol.DecodeReply(r.body, rep)
	var se *protocol.StatusError
	if err != nil && !errors.As(err, &se) {
		t.Fatalf("cannot decode the reply: %v", err)
	}
	return err
}

// wantStatus checks a reply's status ("ok" for success).
func wantStatus(t *testing.T, err error, status protocol.Status) {
	t.Helper()
	got := protocol.StatusOK
	var se *protocol.StatusError
	if errors.As(err, &se) {
		got = se.Status
	}
	if got != status {
		t.Fatalf("reply status %q (%v), want %q", got, err, status)
	}
}

// anonymous calls a command of the anonymous family.
func (ts *testServer) anonymous(t *testing.T, org parsec.OrganizationID, cmd string, args, rep any) error {
	t.Helper()
	return decodeReply(t, ts.do(t, ts.rpcRequest(t, protocol.RouteAnonymous+string(org), encodeRequest(t, cmd, args))), rep)
}

// member is a user with one device, able to sign requests.
type member struct {
	org    parsec.OrganizationID
	user   parsec.UserID
	device parsec.DeviceID
	key    crypto.SigningKey
	email  string
	// The certificates that created it, full then redacted.
	userCert, deviceCert, redactedUserCert, redactedDeviceCert []byte
}

func (m *member) path() string { return protocol.RouteAuthenticated + string(m.org) }

// signedRequest is a well-formed authenticated request signed at the given time.
func (ts *testServer) signedRequest(t *testing.T, m *member, body []byte, at parsec.DateTime) *http.Request {
	t.Helper()
	req := ts.rpcRequest(t, m.path(), body)
	req.Header.Set(protocol.HeaderAuthorization, protocol.SignRequest(m.key, m.device, http.MethodPost, m.path(), at, body))
	return req
}

// call calls a command of the authenticated family, signed now.
func (ts *testServer) call(t *testing.T, m *member, cmd string, args, rep any) error {
	t.Helper()
	return decodeReply(t, ts.do(t, ts.signedRequest(t, m, encodeRequest(t, cmd, args), ts.clock.Now())), rep)
}

// adminRequest makes a request to the administration API with the given Authorization
// header ("" for none) and a raw body.
func (ts *testServer) adminRequest(t *testing.T, method, path, auth, body string) response {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	req := ts.newRequest(t, method, path, b)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return ts.do(t, req)
}

// admin calls the administration API with the right token; body is marshalled to JSON
// unless it is a string (sent as is) or nil (no body). It checks the HTTP status and
// decodes the reply into out when not nil.
func (ts *testServer) admin(t *testing.T, method, path string, body any, wantCode int, out any) response {
	t.Helper()
	var raw string
	switch b := body.(type) {
	case nil:
	case string:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(j)
	}
	r := ts.adminRequest(t, method, path, "Bearer "+testAdminToken, raw)
	if r.code != wantCode {
		t.Fatalf("%s %s %s: HTTP %d %s, want %d", method, path, raw, r.code, r.body, wantCode)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	if out != nil {
		dec := json.NewDecoder(bytes.NewReader(r.body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(out); err != nil {
			t.Fatalf("%s %s: decoding %s: %v", method, path, r.body, err)
		}
	}
	return r
}

func orgPath(org parsec.OrganizationID) string {
	return "/administration/organizations/" + string(org)
}

// createOrg creates an organization through the administration API and returns its
// bootstrap link.
func (ts *testServer) createOrg(t *testing.T, org parsec.OrganizationID) protocol.Link {
	t.Helper()
	var urls protocol.BootstrapURLs
	ts.admin(t, http.MethodPost, "/administration/organizations", map[string]any{"organization_id": org}, http.StatusOK, &urls)
	link, err := protocol.ParseLink(urls.BootstrapURL)
	if err != nil {
		t.Fatal(err)
	}
	return link
}

func (ts *testServer) orgStatus(t *testing.T, org parsec.OrganizationID) protocol.OrganizationStatus {
	t.Helper()
	var st protocol.OrganizationStatus
	ts.admin(t, http.MethodGet, orgPath(org), nil, http.StatusOK, &st)
	return st
}

// bootstrapKit holds the keys and the certificates of an organization bootstrap, before
// signing, so that tests can spoil them.
type bootstrapKit struct {
	root      crypto.SigningKey
	deviceKey crypto.SigningKey
	user      certif.UserCertificate
	device    certif.DeviceCertificate
}

func newBootstrapKit(t *testing.T, name string, at parsec.DateTime) *bootstrapKit {
	t.Helper()
	h, err := parsec.NewHumanHandle(name+"@example.com", name)
	if err != nil {
		t.Fatal(err)
	}
	label := name + "'s laptop"
	k := &bootstrapKit{root: crypto.GenerateSigningKey(), deviceKey: crypto.GenerateSigningKey()}
	k.user = certif.UserCertificate{
		Timestamp: at, UserID: parsec.NewUserID(), HumanHandle: &h,
		PublicKey: crypto.GenerateUserKey().Public(), Algorithm: crypto.UserKeyAlgorithm, Profile: parsec.ProfileAdmin,
	}
	k.device = certif.DeviceCertificate{
		Timestamp: at, UserID: k.user.UserID, DeviceID: parsec.NewDeviceID(), DeviceLabel: &label,
		VerifyKey: k.deviceKey.VerifyKey(), Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose,
	}
	return k
}

// redacted returns the redacted flavours of the kit's certificates.
func (k *bootstrapKit) redacted() (certif.UserCertificate, certif.DeviceCertificate) {
	u, d := k.user, k.device
	u.HumanHandle, d.DeviceLabel = nil, nil
	return u, d
}

// request signs the kit's certificates with its root key.
func (k *bootstrapKit) request(token parsec.AccessToken) protocol.OrganizationBootstrapReq {
	u, d := k.user, k.device
	ru, rd := k.redacted()
	vk := k.root.VerifyKey()
	return protocol.OrganizationBootstrapReq{
		BootstrapToken:            token,
		RootVerifyKey:             vk[:],
		UserCertificate:           certif.Sign(k.root, &u),
		DeviceCertificate:         certif.Sign(k.root, &d),
		RedactedUserCertificate:   certif.Sign(k.root, &ru),
		RedactedDeviceCertificate: certif.Sign(k.root, &rd),
	}
}

func (k *bootstrapKit) member(org parsec.OrganizationID, req protocol.OrganizationBootstrapReq) *member {
	return &member{
		org: org, user: k.user.UserID, device: k.device.DeviceID, key: k.deviceKey, email: k.user.HumanHandle.Email,
		userCert: req.UserCertificate, deviceCert: req.DeviceCertificate,
		redactedUserCert: req.RedactedUserCertificate, redactedDeviceCert: req.RedactedDeviceCertificate,
	}
}

// bootstrap creates and bootstraps an organization whose first user is alice, at the
// server's current time.
func (ts *testServer) bootstrap(t *testing.T, org parsec.OrganizationID) (*member, *bootstrapKit) {
	t.Helper()
	link := ts.createOrg(t, org)
	k := newBootstrapKit(t, "alice", ts.clock.Now())
	req := k.request(link.Token)
	wantStatus(t, ts.anonymous(t, org, protocol.CmdOrganizationBootstrap, req, nil), protocol.StatusOK)
	return k.member(org, req), k
}

// addUser writes a user created by author, and its first device, straight into the
// metadata store (no command creates users yet), with certificates signed by author's
// device at the given time.
func (ts *testServer) addUser(t *testing.T, author *member, name string, profile parsec.UserProfile, at parsec.DateTime) *member {
	t.Helper()
	k := newBootstrapKit(t, name, at)
	k.user.Profile = profile
	k.user.Author, k.device.Author = &author.device, &author.device
	u, d := k.user, k.device
	ru, rd := k.redacted()
	m := &member{
		org: author.org, user: u.UserID, device: d.DeviceID, key: k.deviceKey, email: u.HumanHandle.Email,
		userCert: certif.Sign(author.key, &u), deviceCert: certif.Sign(author.key, &d),
		redactedUserCert: certif.Sign(author.key, &ru), redactedDeviceCert: certif.Sign(author.key, &rd),
	}
	vk := k.deviceKey.VerifyKey()
	err := ts.store.Update(t.Context(), func(tx metastore.Tx) error {
		if err := tx.InsertUser(m.org, metastore.User{
			ID: m.user, Email: u.HumanHandle.Email, Name: u.HumanHandle.Label, InitialProfile: profile, Profile: profile,
			CreatedOn: at, CreatedBy: &author.device, Certificate: m.userCert, RedactedCertificate: m.redactedUserCert,
		}); err != nil {
			return err
		}
		if err := tx.InsertDevice(m.org, metastore.Device{
			ID: m.device, UserID: m.user, Label: *d.DeviceLabel, VerifyKey: vk[:],
			CreatedOn: at, CreatedBy: &author.device, Certificate: m.deviceCert, RedactedCertificate: m.redactedDeviceCert,
		}); err != nil {
			return err
		}
		if err := tx.AddCertificate(m.org, metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: at,
			Kind: certif.KindUser, Data: m.userCert, Redacted: m.redactedUserCert}); err != nil {
			return err
		}
		return tx.AddCertificate(m.org, metastore.Certificate{Topic: metastore.CommonTopic, Timestamp: at,
			Kind: certif.KindDevice, Data: m.deviceCert, Redacted: m.redactedDeviceCert})
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// setUser changes a user's record in the metadata store.
func (ts *testServer) setUser(t *testing.T, m *member, change func(*metastore.User)) {
	t.Helper()
	err := ts.store.Update(t.Context(), func(tx metastore.Tx) error {
		u, err := tx.User(m.org, m.user)
		if err != nil {
			return err
		}
		change(&u)
		return tx.UpdateUser(m.org, u)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestHealth(t *testing.T) {
	ts := newTestServer(t)
	r := ts.do(t, ts.newRequest(t, http.MethodGet, protocol.RouteHealth, nil))
	if r.code != http.StatusOK || string(r.body) != "ok\n" {
		t.Fatalf("GET %s = %d %q, want 200 \"ok\\n\"", protocol.RouteHealth, r.code, r.body)
	}
	ts.store.Close()
	r = ts.do(t, ts.newRequest(t, http.MethodGet, protocol.RouteHealth, nil))
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("GET %s with the metadata store closed = %d %q, want 503", protocol.RouteHealth, r.code, r.body)
	}
}

func TestRedirect(t *testing.T) {
	ts := newTestServer(t)
	tok := parsec.NewAccessToken()
	p := "p=" + base64URL(tok[:])
	public, err := protocol.ParseServerAddr(ts.url)
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{protocol.ActionClaimUser, protocol.ActionClaimDevice, protocol.ActionBootstrapOrganization} {
		t.Run(action, func(t *testing.T) {
			r := ts.do(t, ts.newRequest(t, http.MethodGet, "/redirect/Acme?a="+action+"&"+p, nil))
			if r.code != http.StatusOK {
				t.Fatalf("HTTP %d %q, want 200", r.code, r.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("Content-Type %q, want text/html", ct)
			}
			if r.header.Get("Content-Security-Policy") == "" {
				t.Error("no Content-Security-Policy")
			}
			want := protocol.Link{Server: public, Org: "Acme", Action: action, Token: tok}.String()
			if !strings.HasPrefix(want, "parsec3://") {
				t.Fatalf("link %q", want)
			}
			if !strings.Contains(string(r.body), `href="`+html.EscapeString(want)+`"`) {
				t.Errorf("page does not link to %q:\n%s", want, r.body)
			}
		})
	}
	for name, target := range map[string]string{
		"no token":          "/redirect/Acme?a=claim_user",
		"short token":       "/redirect/Acme?a=claim_user&p=AQID",
		"no action":         "/redirect/Acme?" + p,
		"unknown action":    "/redirect/Acme?a=steal&" + p,
		"bad organization":  "/redirect/Ac$me?a=claim_user&" + p,
		"long organization": "/redirect/" + strings.Repeat("A", 33) + "?a=claim_user&" + p,
	} {
		t.Run(name, func(t *testing.T) {
			r := ts.do(t, ts.newRequest(t, http.MethodGet, target, nil))
			if r.code != http.StatusBadRequest {
				t.Errorf("GET %s = %d %q, want 400", target, r.code, r.body)
			}
		})
	}
}

// encodeCBOR is codec.MustMarshal, for building bodies by hand.
func encodeCBOR(v any) []byte { return codec.MustMarshal(v) }

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
