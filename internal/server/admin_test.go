package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// detail decodes an administration error body: a detail, and a status only where clients
// act on it.
func detail(t *testing.T, r response) string {
	t.Helper()
	d, status := adminErrorBody(t, r)
	if status != "" {
		t.Errorf("error body %q: unexpected status", r.body)
	}
	return d
}

// adminErrorBody decodes an administration error body, {"detail": …[, "status": …]}.
func adminErrorBody(t *testing.T, r response) (string, protocol.Status) {
	t.Helper()
	var d map[string]string
	if err := json.Unmarshal(r.body, &d); err != nil || d["detail"] == "" || len(d) > 2 || len(d) == 2 && d["status"] == "" {
		t.Fatalf("error body %q: want {\"detail\": ...[, \"status\": ...]}", r.body)
	}
	return d["detail"], protocol.Status(d["status"])
}

// orgState reads an organization's record, to check that a refused request changed nothing.
func (w *world) orgState(t *testing.T, org parsec.OrganizationID) metastore.Organization {
	t.Helper()
	return stored(t, w, func(tx metastore.Tx) (metastore.Organization, error) { return tx.Organization(org) })
}

func TestAdminAuthentication(t *testing.T) {
	w := newWorld(t, "")
	w.createOrg(t, "Acme")
	before := w.orgState(t, "Acme")
	routes := []struct{ method, path, body string }{
		{http.MethodPost, "/administration/organizations", `{"organization_id": "Acme"}`},
		{http.MethodGet, orgPath("Acme"), ""},
		{http.MethodPatch, orgPath("Acme"), `{"is_expired": true}`},
		{http.MethodGet, orgPath("Acme") + "/stats", ""},
		{http.MethodGet, orgPath("Acme") + "/users", ""},
		{http.MethodPost, orgPath("Acme") + "/users/freeze", `{"frozen": true, "user_email": "a@example.com"}`},
	}
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer wrong-token", "Bearer " + testAdminToken + "x",
		"bearer " + testAdminToken, "Basic " + testAdminToken, testAdminToken, "Bearer  " + testAdminToken} {
		for _, rt := range routes {
			t.Run(rt.method+" "+rt.path+"/"+auth, func(t *testing.T) {
				r := w.adminRequest(t, rt.method, rt.path, auth, rt.body)
				wantCode(t, r, http.StatusForbidden)
				detail(t, r)
			})
		}
	}
	if diff := cmp.Diff(before, w.orgState(t, "Acme")); diff != "" {
		t.Errorf("refused requests changed the organization (-before +after):\n%s", diff)
	}
}

func TestAdminMethods(t *testing.T) {
	w := newWorld(t, "")
	w.createOrg(t, "Acme")
	for _, rt := range []struct{ method, path string }{
		{http.MethodGet, "/administration/organizations"},
		{http.MethodDelete, "/administration/organizations"},
		{http.MethodPut, orgPath("Acme")},
		{http.MethodPost, orgPath("Acme")},
		{http.MethodDelete, orgPath("Acme")},
		{http.MethodPost, orgPath("Acme") + "/stats"},
		{http.MethodPatch, orgPath("Acme") + "/users"},
		{http.MethodGet, orgPath("Acme") + "/users/freeze"},
	} {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			r := w.admin(t, rt.method, rt.path, nil, http.StatusMethodNotAllowed, nil)
			detail(t, r)
		})
	}
}

func TestAdminMalformedBodies(t *testing.T) {
	w := newWorld(t, "")
	w.createOrg(t, "Acme")
	before := w.orgState(t, "Acme")
	tests := []struct{ name, method, path, body string }{
		{"create: empty", http.MethodPost, "/administration/organizations", ""},
		{"create: not JSON", http.MethodPost, "/administration/organizations", "organization_id=Acme"},
		{"create: truncated", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme"`},
		{"create: array", http.MethodPost, "/administration/organizations", `["Acme"]`},
		{"create: null", http.MethodPost, "/administration/organizations", `null`},
		{"create: two objects", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme"} {}`},
		{"create: no ID", http.MethodPost, "/administration/organizations", `{}`},
		{"create: ID a number", http.MethodPost, "/administration/organizations", `{"organization_id": 5}`},
		{"create: empty ID", http.MethodPost, "/administration/organizations", `{"organization_id": ""}`},
		{"create: ID with a space", http.MethodPost, "/administration/organizations", `{"organization_id": "Ac me"}`},
		{"create: ID with a slash", http.MethodPost, "/administration/organizations", `{"organization_id": "Ac/me"}`},
		{"create: ID too long", http.MethodPost, "/administration/organizations", `{"organization_id": "` + strings.Repeat("a", 33) + `"}`},
		{"create: unknown field", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme", "color": "blue"}`},
		{"create: ID given twice, then null", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme2", "organization_id": null}`},
		{"create: ID given twice", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme2", "organization_id": "Acme3"}`},
		{"create: is_expired", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme", "is_expired": true}`},
		{"create: negative limit", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme", "active_users_limit": -1}`},
		{"create: limit a string", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme", "active_users_limit": "10"}`},
		{"create: limit not an integer", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme", "active_users_limit": 1.5}`},
		{"create: outsider allowed a string", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme", "user_profile_outsider_allowed": "yes"}`},
		{"create: outsider allowed null", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme", "user_profile_outsider_allowed": null}`},
		{"create: negative archiving period", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme", "minimum_archiving_period": -1}`},
		{"create: archiving period null", http.MethodPost, "/administration/organizations", `{"organization_id": "Acme", "minimum_archiving_period": null}`},
		{"patch: empty", http.MethodPatch, orgPath("Acme"), ""},
		{"patch: not JSON", http.MethodPatch, orgPath("Acme"), "is_expired"},
		{"patch: unknown field", http.MethodPatch, orgPath("Acme"), `{"is_expired": true, "organization_id": "Other"}`},
		{"patch: field given twice", http.MethodPatch, orgPath("Acme"), `{"is_expired": true, "is_expired": false}`},
		{"patch: expired a string", http.MethodPatch, orgPath("Acme"), `{"is_expired": "true"}`},
		{"patch: expired null", http.MethodPatch, orgPath("Acme"), `{"is_expired": null}`},
		{"patch: negative limit", http.MethodPatch, orgPath("Acme"), `{"is_expired": true, "active_users_limit": -5}`},
		{"patch: limit a bool", http.MethodPatch, orgPath("Acme"), `{"active_users_limit": true}`},
		{"patch: outsider allowed null", http.MethodPatch, orgPath("Acme"), `{"is_expired": true, "user_profile_outsider_allowed": null}`},
		{"freeze: empty", http.MethodPost, orgPath("Acme") + "/users/freeze", ""},
		{"freeze: no frozen", http.MethodPost, orgPath("Acme") + "/users/freeze", `{"user_email": "a@example.com"}`},
		{"freeze: frozen a string", http.MethodPost, orgPath("Acme") + "/users/freeze", `{"frozen": "yes", "user_email": "a@example.com"}`},
		{"freeze: unknown field", http.MethodPost, orgPath("Acme") + "/users/freeze", `{"frozen": true, "user_email": "a@example.com", "why": "x"}`},
		{"freeze: bad user ID", http.MethodPost, orgPath("Acme") + "/users/freeze", `{"frozen": true, "user_id": "bob"}`},
		{"freeze: bad email", http.MethodPost, orgPath("Acme") + "/users/freeze", `{"frozen": true, "user_email": "not an email"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := w.admin(t, tc.method, tc.path, tc.body, http.StatusUnprocessableEntity, nil)
			detail(t, r)
		})
	}
	if diff := cmp.Diff(before, w.orgState(t, "Acme")); diff != "" {
		t.Errorf("refused requests changed the organization (-before +after):\n%s", diff)
	}
	if orgs := stored(t, w, func(tx metastore.Tx) ([]metastore.Organization, error) { return tx.Organizations() }); len(orgs) != 1 {
		t.Errorf("%d organizations, want 1", len(orgs))
	}
}

func TestAdminCreateOrganization(t *testing.T) {
	w := newWorld(t, "")
	public, err := protocol.ParseServerAddr(w.url)
	if err != nil {
		t.Fatal(err)
	}

	create := func(t *testing.T, body any) protocol.Link {
		t.Helper()
		var urls protocol.BootstrapURLs
		w.admin(t, http.MethodPost, "/administration/organizations", body, http.StatusOK, &urls)
		if !strings.HasPrefix(urls.BootstrapURL, "parsec3://") || !strings.Contains(urls.BootstrapURL, "?a=bootstrap_organization&p=") {
			t.Errorf("bootstrap_url %q", urls.BootstrapURL)
		}
		if !strings.HasPrefix(urls.BootstrapURLAsHTTPRedirection, w.url+"/redirect/") {
			t.Errorf("bootstrap_url_as_http_redirection %q, want it under %s/redirect/", urls.BootstrapURLAsHTTPRedirection, w.url)
		}
		l1, err := protocol.ParseLink(urls.BootstrapURL)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := protocol.ParseLink(urls.BootstrapURLAsHTTPRedirection)
		if err != nil {
			t.Fatal(err)
		}
		if l1 != l2 {
			t.Errorf("the two bootstrap URLs differ: %+v and %+v", l1, l2)
		}
		if l1.Server != public || l1.Action != protocol.ActionBootstrapOrganization {
			t.Errorf("link %+v: want server %+v and action %s", l1, public, protocol.ActionBootstrapOrganization)
		}
		// The redirection page opens the same link.
		r := w.do(t, w.newRequest(t, http.MethodGet, strings.TrimPrefix(urls.BootstrapURLAsHTTPRedirection, w.url), nil))
		wantOK(t, r)
		return l1
	}

	first := create(t, map[string]any{"organization_id": "Acme", "active_users_limit": 3, "user_profile_outsider_allowed": false, "minimum_archiving_period": 60})
	if first.Org != "Acme" {
		t.Errorf("organization %q, want Acme", first.Org)
	}
	limit := int64(3)
	want := protocol.OrganizationStatus{ActiveUsersLimit: &limit, MinimumArchivingPeriod: 60}
	if diff := cmp.Diff(want, w.orgStatus(t, "Acme")); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}

	// Re-creating an organization that was not bootstrapped replaces its token and its
	// configuration.
	second := create(t, map[string]any{"organization_id": "Acme"})
	if second.Token == first.Token {
		t.Fatal("re-creating the organization kept its bootstrap token")
	}
	want = protocol.OrganizationStatus{UserProfileOutsiderAllowed: true, MinimumArchivingPeriod: 2592000}
	if diff := cmp.Diff(want, w.orgStatus(t, "Acme")); diff != "" {
		t.Errorf("status after re-creation (-want +got):\n%s", diff)
	}
	k := newBootstrapKit(t, "alice", w.clock.Now())
	wantStatus(t, w.anonymous(t, "Acme", protocol.CmdOrganizationBootstrap, k.request(first.Token), nil), protocol.StatusInvalidBootstrapToken)
	wantStatus(t, w.anonymous(t, "Acme", protocol.CmdOrganizationBootstrap, k.request(second.Token), nil), protocol.StatusOK)

	// A bootstrapped organization cannot be re-created.
	before := w.orgState(t, "Acme")
	r := w.admin(t, http.MethodPost, "/administration/organizations", map[string]any{"organization_id": "Acme"}, http.StatusBadRequest, nil)
	var got map[string]any
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"detail": "Organization already exists"}, got); diff != "" {
		t.Errorf("reply (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, w.orgState(t, "Acme")); diff != "" {
		t.Errorf("refused re-creation changed the organization (-before +after):\n%s", diff)
	}

	// Organization IDs are case-sensitive and normalized.
	create(t, map[string]any{"organization_id": "acme"})
	l := create(t, map[string]any{"organization_id": "Socie\u0301te\u0301"})
	if l.Org != "Soci\u00e9t\u00e9" {
		t.Errorf("organization %q, want it in NFC", l.Org)
	}
}

func TestAdminOrganization(t *testing.T) {
	w := newWorld(t, "")
	w.createOrg(t, "Acme")

	t.Run("fresh", func(t *testing.T) {
		r := w.admin(t, http.MethodGet, orgPath("Acme"), nil, http.StatusOK, nil)
		var got map[string]any
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"is_bootstrapped": false, "is_expired": false, "user_profile_outsider_allowed": true,
			"active_users_limit": nil, "minimum_archiving_period": float64(2592000),
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})

	ten, five := int64(10), int64(5)
	steps := []struct {
		name  string
		patch string
		want  protocol.OrganizationStatus
	}{
		{"set limit", `{"active_users_limit": 10}`,
			protocol.OrganizationStatus{UserProfileOutsiderAllowed: true, ActiveUsersLimit: &ten, MinimumArchivingPeriod: 2592000}},
		{"other fields untouched", `{"user_profile_outsider_allowed": false}`,
			protocol.OrganizationStatus{ActiveUsersLimit: &ten, MinimumArchivingPeriod: 2592000}},
		{"empty patch", `{}`,
			protocol.OrganizationStatus{ActiveUsersLimit: &ten, MinimumArchivingPeriod: 2592000}},
		{"expire", `{"is_expired": true, "minimum_archiving_period": 0}`,
			protocol.OrganizationStatus{IsExpired: true, ActiveUsersLimit: &ten}},
		{"change limit", `{"active_users_limit": 5, "is_expired": false}`,
			protocol.OrganizationStatus{ActiveUsersLimit: &five}},
		{"remove limit", `{"active_users_limit": null}`,
			protocol.OrganizationStatus{}},
		{"limit zero", `{"active_users_limit": 0, "user_profile_outsider_allowed": true}`,
			protocol.OrganizationStatus{UserProfileOutsiderAllowed: true, ActiveUsersLimit: new(int64)}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			w.admin(t, http.MethodPatch, orgPath("Acme"), st.patch, http.StatusOK, nil)
			if diff := cmp.Diff(st.want, w.orgStatus(t, "Acme")); diff != "" {
				t.Errorf("after PATCH %s (-want +got):\n%s", st.patch, diff)
			}
		})
	}
}

func TestAdminUnknownOrganization(t *testing.T) {
	w := newWorld(t, "")
	w.createOrg(t, "Acme")
	for _, org := range []string{"Nope", "acme", "Ac$me", strings.Repeat("a", 33)} {
		for _, rt := range []struct{ method, path, body string }{
			{http.MethodGet, "", ""},
			{http.MethodPatch, "", `{"is_expired": true}`},
			{http.MethodGet, "/stats", ""},
			{http.MethodGet, "/users", ""},
			{http.MethodPost, "/users/freeze", `{"frozen": true, "user_email": "alice@example.com"}`},
		} {
			t.Run(org+"/"+rt.method+rt.path, func(t *testing.T) {
				r := w.admin(t, rt.method, "/administration/organizations/"+org+rt.path, rt.body, http.StatusNotFound, nil)
				if d, st := adminErrorBody(t, r); d != "Organization not found" || st != protocol.StatusOrganizationNotFound {
					t.Errorf("detail %q, status %q, want %q, %q", d, st, "Organization not found", protocol.StatusOrganizationNotFound)
				}
			})
		}
	}
}

func TestAdminStatsAndUsers(t *testing.T) {
	w := newWorld(t, "")
	link := w.createOrg(t, "Acme")

	stats := func(t *testing.T) protocol.OrganizationStats {
		t.Helper()
		var st protocol.OrganizationStats
		w.admin(t, http.MethodGet, orgPath("Acme")+"/stats", nil, http.StatusOK, &st)
		return st
	}
	users := func(t *testing.T) []protocol.AdminUser {
		t.Helper()
		var out struct {
			Users []protocol.AdminUser `json:"users"`
		}
		w.admin(t, http.MethodGet, orgPath("Acme")+"/users", nil, http.StatusOK, &out)
		return out.Users
	}
	perProfile := func(admin, standard, outsider protocol.ProfileCount) map[parsec.UserProfile]*protocol.ProfileCount {
		return map[parsec.UserProfile]*protocol.ProfileCount{
			parsec.ProfileAdmin: &admin, parsec.ProfileStandard: &standard, parsec.ProfileOutsider: &outsider,
		}
	}

	t.Run("not bootstrapped", func(t *testing.T) {
		want := protocol.OrganizationStats{UsersPerProfileDetail: perProfile(protocol.ProfileCount{}, protocol.ProfileCount{}, protocol.ProfileCount{})}
		if diff := cmp.Diff(want, stats(t)); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
		if u := users(t); len(u) != 0 {
			t.Errorf("users %+v, want none", u)
		}
	})

	k := newBootstrapKit(t, "alice", w.clock.Now())
	req := k.request(link.Token)
	wantStatus(t, w.anonymous(t, "Acme", protocol.CmdOrganizationBootstrap, req, nil), protocol.StatusOK)
	alice := k.member("Acme", req)
	t0 := k.user.Timestamp
	bootstrapSize := int64(len(alice.userCert) + len(alice.deviceCert) + len(alice.redactedUserCert) + len(alice.redactedDeviceCert))

	t.Run("bootstrapped", func(t *testing.T) {
		want := protocol.OrganizationStats{Users: 1, ActiveUsers: 1, MetadataSize: bootstrapSize,
			UsersPerProfileDetail: perProfile(protocol.ProfileCount{Active: 1}, protocol.ProfileCount{}, protocol.ProfileCount{})}
		if diff := cmp.Diff(want, stats(t)); diff != "" {
			t.Errorf("stats (-want +got):\n%s", diff)
		}
		want2 := []protocol.AdminUser{{UserID: alice.user.String(), UserEmail: "alice@example.com", UserName: "alice", Profile: parsec.ProfileAdmin}}
		if diff := cmp.Diff(want2, users(t)); diff != "" {
			t.Errorf("users (-want +got):\n%s", diff)
		}
	})

	bob := w.createUser(t, alice, "bob", parsec.ProfileStandard)
	xena := w.createUser(t, alice, "xena", parsec.ProfileOutsider)
	carol := w.createUser(t, alice, "carol", parsec.ProfileStandard)
	w.setUser(t, carol, func(u *metastore.User) { u.RevokedOn, u.RevokedBy = t0.Add(4*time.Second), &alice.device })

	t.Run("with more users", func(t *testing.T) {
		st := stats(t)
		want := perProfile(protocol.ProfileCount{Active: 1}, protocol.ProfileCount{Active: 1, Revoked: 1}, protocol.ProfileCount{Active: 1})
		if st.Users != 4 || st.ActiveUsers != 3 || st.Realms != 0 || st.MetadataSize <= bootstrapSize {
			t.Errorf("stats %+v: want 4 users, 3 active, 0 realms, more metadata than %d", st, bootstrapSize)
		}
		if diff := cmp.Diff(want, st.UsersPerProfileDetail); diff != "" {
			t.Errorf("per profile (-want +got):\n%s", diff)
		}
		want2 := []protocol.AdminUser{
			{UserID: alice.user.String(), UserEmail: "alice@example.com", UserName: "alice", Profile: parsec.ProfileAdmin},
			{UserID: bob.user.String(), UserEmail: "bob@example.com", UserName: "bob", Profile: parsec.ProfileStandard},
			{UserID: xena.user.String(), UserEmail: "xena@example.com", UserName: "xena", Profile: parsec.ProfileOutsider},
		}
		if diff := cmp.Diff(want2, users(t)); diff != "" {
			t.Errorf("users (revoked ones left out) (-want +got):\n%s", diff)
		}
	})

	t.Run("freeze", func(t *testing.T) {
		freezePath := orgPath("Acme") + "/users/freeze"
		frozenBob := protocol.AdminUser{UserID: bob.user.String(), UserEmail: "bob@example.com", UserName: "bob", Profile: parsec.ProfileStandard, Frozen: true}
		activeBob := frozenBob
		activeBob.Frozen = false
		steps := []struct {
			name string
			body map[string]any
			want protocol.AdminUser
		}{
			{"by ID", map[string]any{"frozen": true, "user_id": bob.user.String()}, frozenBob},
			{"by ID again", map[string]any{"frozen": true, "user_id": bob.user.String()}, frozenBob},
			{"by email, frozen", map[string]any{"frozen": true, "user_email": "bob@example.com"}, frozenBob},
			{"unfreeze by email", map[string]any{"frozen": false, "user_email": "BOB@example.com"}, activeBob},
			{"unfreeze by email again", map[string]any{"frozen": false, "user_email": "bob@example.com"}, activeBob},
			{"freeze by email", map[string]any{"frozen": true, "user_email": "bob@example.com"}, frozenBob},
			{"unfreeze by ID", map[string]any{"frozen": false, "user_id": bob.user.String()}, activeBob},
		}
		for _, st := range steps {
			t.Run(st.name, func(t *testing.T) {
				var got protocol.AdminUser
				w.admin(t, http.MethodPost, freezePath, st.body, http.StatusOK, &got)
				if diff := cmp.Diff(st.want, got); diff != "" {
					t.Errorf("reply (-want +got):\n%s", diff)
				}
				for _, u := range users(t) {
					if u.UserID == bob.user.String() && u.Frozen != st.want.Frozen {
						t.Errorf("users list shows frozen=%v, want %v", u.Frozen, st.want.Frozen)
					}
				}
			})
		}

		refused := []struct {
			name   string
			body   map[string]any
			code   int
			detail string
		}{
			{"unknown ID", map[string]any{"frozen": true, "user_id": parsec.NewUserID().String()}, 404, "User not found"},
			{"unknown email", map[string]any{"frozen": true, "user_email": "nobody@example.com"}, 404, "User not found"},
			{"revoked user by ID", map[string]any{"frozen": true, "user_id": carol.user.String()}, 404, "User has been revoked"},
			{"revoked user by email", map[string]any{"frozen": true, "user_email": "carol@example.com"}, 404, "User not found"},
			{"both", map[string]any{"frozen": true, "user_id": bob.user.String(), "user_email": "bob@example.com"}, 400, ""},
			{"neither", map[string]any{"frozen": true}, 400, ""},
			{"user of another organization", map[string]any{"frozen": true, "user_id": bob.user.String()}, 404, ""},
		}
		w.createOrg(t, "Other")
		for _, tc := range refused {
			t.Run(tc.name, func(t *testing.T) {
				path := freezePath
				if tc.name == "user of another organization" {
					path = orgPath("Other") + "/users/freeze"
				}
				r := w.admin(t, http.MethodPost, path, tc.body, tc.code, nil)
				d, st := adminErrorBody(t, r)
				if tc.code == http.StatusNotFound && tc.detail == "User not found" && st != protocol.StatusUserNotFound {
					t.Errorf("status %q, want %q", st, protocol.StatusUserNotFound)
				}
				if tc.detail != "" && d != tc.detail {
					t.Errorf("detail %q, want %q", d, tc.detail)
				}
			})
		}
		for _, u := range users(t) {
			if u.Frozen {
				t.Errorf("user %s frozen after refused requests", u.UserEmail)
			}
		}
	})
}
