package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/protocol"
)

// adminFuzzRoutes are the administration requests that carry a JSON body, by the index the
// fuzz input chooses.
var adminFuzzRoutes = []struct{ method, path string }{
	{http.MethodPost, "/administration/organizations"},
	{http.MethodPatch, "/administration/organizations/Acme"},
	{http.MethodPost, "/administration/organizations/Acme/users/freeze"},
}

// FuzzAdminBodies sends arbitrary JSON bodies to the administration requests that take one
// (organization creation and update, freeze). The server must refuse a malformed or invalid
// body with 400, 404 or 422 and a JSON detail, never 500; and when it accepts one, it
// must have done what the body says: the link of a created organization names it, the
// configuration read back has every field the update set, the user has the state asked.
func FuzzAdminBodies(f *testing.F) {
	w := newFuzzWorld(f)
	for _, seed := range []struct {
		route uint8
		body  string
	}{
		{0, `{"organization_id": "Acme2"}`},
		{0, `{"organization_id": "Org_3", "user_profile_outsider_allowed": false, "active_users_limit": 10, "minimum_archiving_period": 0}`},
		{0, `{"organization_id": "Acme"}`},
		{0, `{"organization_id": "bad id!"}`},
		{1, `{"is_expired": false, "user_profile_outsider_allowed": true, "active_users_limit": null, "minimum_archiving_period": 86400}`},
		{1, `{"active_users_limit": 3}`},
		{1, `{"active_users_limit": -1}`},
		{1, `{"is_expired": null}`},
		{1, `{"unknown": 1}`},
		{1, `{"Active_Users_Limit": 5}`}, // was decoded, then not applied (keys are exact names)
		{2, `{"frozen": true, "user_email": "alice@example.com"}`},
		{2, `{"frozen": false, "user_email": "alice@example.com"}`},
		{2, `{"frozen": true, "user_id": "00000000000000000000000000000000"}`},
		{2, `{"frozen": true}`},
		{2, `[]`},
		{1, `null`},
		{0, ``},
	} {
		f.Add(seed.route, []byte(seed.body))
	}

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		w.init(t)
		rt := adminFuzzRoutes[int(route)%len(adminFuzzRoutes)]
		rec := w.adminDo(t, rt.method, rt.path, body)
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("%s %s %q: Content-Type %q", rt.method, rt.path, body, ct)
		}
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity:
			var e protocol.AdminError
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Detail == "" {
				t.Fatalf("%s %s %q: HTTP %d with body %q, want a detail", rt.method, rt.path, body, rec.Code, rec.Body)
			}
			return
		default:
			t.Fatalf("%s %s %q: HTTP %d %q", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		var keys map[string]json.RawMessage
		if json.Unmarshal(body, &keys) != nil || keys == nil {
			t.Fatalf("%s %s %q: accepted a body that is not a JSON object", rt.method, rt.path, body)
		}
		switch route := int(route) % len(adminFuzzRoutes); route {
		case 0:
			var req createOrgJSON
			json.Unmarshal(body, &req)
			var urls protocol.BootstrapURLs
			json.Unmarshal(rec.Body.Bytes(), &urls)
			link, err := protocol.ParseLink(urls.BootstrapURL)
			if err != nil || string(link.Org) != req.OrganizationID || link.Action != protocol.ActionBootstrapOrganization {
				t.Fatalf("create %q: bootstrap link %q (%+v, %v)", body, urls.BootstrapURL, link, err)
			}
			w.checkConfigApplied(t, body, req.orgConfigJSON, nil, "/administration/organizations/"+req.OrganizationID)
		case 1:
			var req patchOrgJSON
			json.Unmarshal(body, &req)
			w.checkConfigApplied(t, body, req.orgConfigJSON, req.IsExpired, rt.path)
		case 2:
			var req freezeJSON
			json.Unmarshal(body, &req)
			var got protocol.AdminUser
			json.Unmarshal(rec.Body.Bytes(), &got)
			if req.Frozen == nil || got.Frozen != *req.Frozen || got.UserEmail != w.alice.email {
				t.Fatalf("freeze %q: user %+v", body, got)
			}
		}
	})
}

// adminDo sends an administration request with the right token, without the network.
func (w *fuzzWorld) adminDo(t *testing.T, method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(t.Context(), method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	rec := httptest.NewRecorder()
	w.srv.ServeHTTP(rec, req)
	return rec
}

// checkConfigApplied reads an organization's configuration back after an accepted create or
// update: every field the request decoded to a value must be there, and an
// active_users_limit given as null must have removed the limit.
func (w *fuzzWorld) checkConfigApplied(t *testing.T, body []byte, req orgConfigJSON, expired *bool, path string) {
	t.Helper()
	rec := w.adminDo(t, http.MethodGet, path, nil)
	var got protocol.OrganizationStatus
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &got) != nil {
		t.Fatalf("%q accepted, then GET %s: HTTP %d %q", body, path, rec.Code, rec.Body)
	}
	want := got
	if req.UserProfileOutsiderAllowed != nil {
		want.UserProfileOutsiderAllowed = *req.UserProfileOutsiderAllowed
	}
	if req.MinimumArchivingPeriod != nil {
		want.MinimumArchivingPeriod = *req.MinimumArchivingPeriod
	}
	if expired != nil {
		want.IsExpired = *expired
	}
	var keys map[string]json.RawMessage
	json.Unmarshal(body, &keys)
	if _, ok := keys["active_users_limit"]; ok || req.ActiveUsersLimit != nil {
		want.ActiveUsersLimit = req.ActiveUsersLimit
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("%q accepted, but the organization is not as it says (-want +got):\n%s", body, diff)
	}
}
