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
	"sync/atomic"
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

// This file holds the test harness: a world (newWorld) is a real server (SQLite metadata,
// disk blocks, in-process event bus) behind httptest, with a settable clock, and a real
// organization with real signed certificates, whose members make real signed requests.

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

// world is a test server and the organization "Acme" with its users, as newWorld declares.
type world struct {
	srv   *Server
	hs    *httptest.Server
	url   string
	store metastore.Store // the metadata store itself, even when an option wraps the server's
	clock *testClock
	org   parsec.OrganizationID
	kit   *bootstrapKit // how the first user bootstrapped the organization: the root key
	users map[string]*member

	signed atomic.Int64 // requests signed by w.sign
}

// sign signs a request of a device at time at plus one microsecond per request w signed
// before: the test clock stands still, and the server refuses a request signed twice the
// same (a replay).
func (w *world) sign(key crypto.SigningKey, dev parsec.DeviceID, method, path string, at parsec.DateTime, body []byte) string {
	return protocol.SignRequest(key, dev, method, path, at.Add(time.Duration(w.signed.Add(1))*time.Microsecond), body)
}

// newWorld starts a server for one test, with the organization and users spec declares;
// opts adjust the server's configuration. spec lists name:role, role being admin, member,
// external or revoked ("" for a server without organization):
//
//	w := newWorld(t, "alice:admin bob:member xena:external gone:revoked")
//
// The first user, an admin, bootstraps "Acme" at testStart and creates the others with
// user_create, in order, each a tick after the previous; then it revokes those marked
// revoked (Members until then), in order. w.user(name) returns them.
func newWorld(t *testing.T, spec string, opts ...func(*Config)) *world {
	t.Helper()
	w := startServer(t, opts...)
	var first *member
	var revoked []*member
	for _, f := range strings.Fields(spec) {
		name, role, _ := strings.Cut(f, ":")
		profile, ok := profiles[role]
		if !ok || w.users[name] != nil || first == nil && role != "admin" {
			t.Fatalf("world %q: %q: want name:role, role admin (first), member, external or revoked, each name once", spec, f)
		}
		if first == nil {
			first, w.kit = w.bootstrap(t, w.org, name)
			w.users[name] = first
			continue
		}
		w.users[name] = w.createUser(t, first, name, profile)
		if role == "revoked" {
			revoked = append(revoked, w.users[name])
		}
	}
	for _, m := range revoked {
		wantStatus(t, w.revoke(t, first, revokeCert(first, m.user, w.tick())), protocol.StatusOK)
	}
	return w
}

// profiles are the roles of a world's spec.
var profiles = map[string]parsec.UserProfile{
	"admin": parsec.ProfileAdmin, "member": parsec.ProfileStandard, "external": parsec.ProfileOutsider, "revoked": parsec.ProfileStandard,
}

// startServer starts the server of a world, with no organization yet.
func startServer(t testing.TB, opts ...func(*Config)) *world {
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
	return &world{srv: srv, hs: hs, url: hs.URL, store: store, clock: clock, org: "Acme", users: map[string]*member{}}
}

// user is the member the world's spec names.
func (w *world) user(name string) *member {
	m := w.users[name]
	if m == nil {
		panic("the world has no user " + name)
	}
	return m
}

// tick moves the server's clock one second on and returns the new time: each certificate of
// a test gets its own, later, timestamp.
func (w *world) tick() parsec.DateTime {
	now := w.clock.Now().Add(time.Second)
	w.clock.Set(now)
	return now
}

// response is what came back from the server.
type response struct {
	code   int
	header http.Header
	body   []byte
}

func (w *world) do(t *testing.T, req *http.Request) response {
	t.Helper()
	resp, err := w.hs.Client().Do(req)
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

func (w *world) newRequest(t *testing.T, method, path string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, w.url+path, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// rpcRequest is a well-formed RPC request without authentication.
func (w *world) rpcRequest(t *testing.T, path string, body []byte) *http.Request {
	t.Helper()
	req := w.newRequest(t, http.MethodPost, path, body)
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
func (w *world) anonymous(t *testing.T, org parsec.OrganizationID, cmd string, args, rep any) error {
	t.Helper()
	return decodeReply(t, w.do(t, w.rpcRequest(t, protocol.RouteAnonymous+string(org), encodeRequest(t, cmd, args))), rep)
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
func (w *world) signedRequest(t *testing.T, m *member, body []byte, at parsec.DateTime) *http.Request {
	t.Helper()
	req := w.rpcRequest(t, m.path(), body)
	req.Header.Set(protocol.HeaderAuthorization, w.sign(m.key, m.device, http.MethodPost, m.path(), at, body))
	return req
}

// call calls a command of the authenticated family, signed now.
func (w *world) call(t *testing.T, m *member, cmd string, args, rep any) error {
	t.Helper()
	return decodeReply(t, w.do(t, w.signedRequest(t, m, encodeRequest(t, cmd, args), w.clock.Now())), rep)
}

// adminRequest makes a request to the administration API with the given Authorization
// header ("" for none) and a raw body.
func (w *world) adminRequest(t *testing.T, method, path, auth, body string) response {
	t.Helper()
	var b []byte
	if body != "" {
		b = []byte(body)
	}
	req := w.newRequest(t, method, path, b)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return w.do(t, req)
}

// admin calls the administration API with the right token; body is marshalled to JSON
// unless it is a string (sent as is) or nil (no body). It checks the HTTP status and
// decodes the reply into out when not nil.
func (w *world) admin(t *testing.T, method, path string, body any, wantCode int, out any) response {
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
	r := w.adminRequest(t, method, path, "Bearer "+testAdminToken, raw)
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
func (w *world) createOrg(t *testing.T, org parsec.OrganizationID) protocol.Link {
	t.Helper()
	var urls protocol.BootstrapURLs
	w.admin(t, http.MethodPost, "/administration/organizations", map[string]any{"organization_id": org}, http.StatusOK, &urls)
	link, err := protocol.ParseLink(urls.BootstrapURL)
	if err != nil {
		t.Fatal(err)
	}
	return link
}

func (w *world) orgStatus(t *testing.T, org parsec.OrganizationID) protocol.OrganizationStatus {
	t.Helper()
	var st protocol.OrganizationStatus
	w.admin(t, http.MethodGet, orgPath(org), nil, http.StatusOK, &st)
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

// bootstrap creates and bootstraps an organization whose first user is name, at the
// server's current time.
func (w *world) bootstrap(t *testing.T, org parsec.OrganizationID, name string) (*member, *bootstrapKit) {
	t.Helper()
	link := w.createOrg(t, org)
	k := newBootstrapKit(t, name, w.clock.Now())
	req := k.request(link.Token)
	wantStatus(t, w.anonymous(t, org, protocol.CmdOrganizationBootstrap, req, nil), protocol.StatusOK)
	return k.member(org, req), k
}

// createUser creates a user and its first device through user_create, as author, a tick
// after the last certificate.
func (w *world) createUser(t *testing.T, author *member, name string, profile parsec.UserProfile) *member {
	t.Helper()
	k := newcomerKit(t, author, name, profile, w.tick())
	req := signUserCreate(k, author.key)
	wantStatus(t, w.call(t, author, protocol.CmdUserCreate, req, nil), protocol.StatusOK)
	return createdMember(k, author.org, req)
}

// newcomerKit prepares a user that author creates at time at: its keys and its unsigned
// certificates (author set).
func newcomerKit(t *testing.T, author *member, name string, profile parsec.UserProfile, at parsec.DateTime) *bootstrapKit {
	t.Helper()
	k := newBootstrapKit(t, name, at)
	k.user.Profile = profile
	k.user.Author, k.device.Author = &author.device, &author.device
	return k
}

// signUserCreate signs the kit's certificates and their redacted copies with key.
func signUserCreate(k *bootstrapKit, key crypto.SigningKey) protocol.UserCreateReq {
	u, d := k.user, k.device
	ru, rd := k.redacted()
	return protocol.UserCreateReq{
		UserCertificate: certif.Sign(key, &u), DeviceCertificate: certif.Sign(key, &d),
		RedactedUserCertificate: certif.Sign(key, &ru), RedactedDeviceCertificate: certif.Sign(key, &rd),
	}
}

// createdMember is the member that a user_create request of the kit made.
func createdMember(k *bootstrapKit, org parsec.OrganizationID, req protocol.UserCreateReq) *member {
	return &member{
		org: org, user: k.user.UserID, device: k.device.DeviceID, key: k.deviceKey, email: k.user.HumanHandle.Email,
		userCert: req.UserCertificate, deviceCert: req.DeviceCertificate,
		redactedUserCert: req.RedactedUserCertificate, redactedDeviceCert: req.RedactedDeviceCertificate,
	}
}

// view runs fn on a snapshot of the metadata store.
func (w *world) view(t *testing.T, fn func(tx metastore.Tx) error) {
	t.Helper()
	if err := w.store.View(t.Context(), fn); err != nil {
		t.Fatal(err)
	}
}

// stored reads one value from the store.
func stored[T any](t *testing.T, w *world, read func(tx metastore.Tx) (T, error)) T {
	t.Helper()
	var v T
	w.view(t, func(tx metastore.Tx) error {
		var err error
		v, err = read(tx)
		return err
	})
	return v
}

// setUser changes a user's record in the metadata store.
func (w *world) setUser(t *testing.T, m *member, change func(*metastore.User)) {
	t.Helper()
	err := w.store.Update(t.Context(), func(tx metastore.Tx) error {
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
	w := newWorld(t, "")
	r := w.do(t, w.newRequest(t, http.MethodGet, protocol.RouteHealth, nil))
	if r.code != http.StatusOK || string(r.body) != "ok\n" {
		t.Fatalf("GET %s = %d %q, want 200 \"ok\\n\"", protocol.RouteHealth, r.code, r.body)
	}
	w.store.Close()
	r = w.do(t, w.newRequest(t, http.MethodGet, protocol.RouteHealth, nil))
	if r.code != http.StatusServiceUnavailable {
		t.Fatalf("GET %s with the metadata store closed = %d %q, want 503", protocol.RouteHealth, r.code, r.body)
	}
}

func TestRedirect(t *testing.T) {
	w := newWorld(t, "")
	tok := parsec.NewAccessToken()
	p := "p=" + base64URL(tok[:])
	public, err := protocol.ParseServerAddr(w.url)
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{protocol.ActionClaimUser, protocol.ActionClaimDevice, protocol.ActionBootstrapOrganization} {
		t.Run(action, func(t *testing.T) {
			r := w.do(t, w.newRequest(t, http.MethodGet, "/redirect/Acme?a="+action+"&"+p, nil))
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
			r := w.do(t, w.newRequest(t, http.MethodGet, target, nil))
			if r.code != http.StatusBadRequest {
				t.Errorf("GET %s = %d %q, want 400", target, r.code, r.body)
			}
		})
	}
}

// encodeCBOR is codec.MustMarshal, for building bodies by hand.
func encodeCBOR(v any) []byte { return codec.MustMarshal(v) }

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
