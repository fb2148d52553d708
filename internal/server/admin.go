package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
	"github.com/parsec-go/parsec/internal/server/events"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// The administration API is JSON over HTTP, for the server administrator (and the CLI's
// org and server commands), authenticated by the administration bearer token.
//
//	POST  /administration/organizations                     create (or re-create if not bootstrapped)
//	GET   /administration/organizations/{org}               status and configuration
//	PATCH /administration/organizations/{org}               change configuration
//	GET   /administration/organizations/{org}/stats         usage statistics
//	GET   /administration/organizations/{org}/users         users that are not revoked
//	POST  /administration/organizations/{org}/users/freeze  freeze or unfreeze a user
//
// Errors are {"detail": "..."} with 400, 403 (bad token), 404 (unknown organization or
// user), 405 (wrong method) or 422 (malformed body).

func (s *Server) adminRoutes(m *http.ServeMux) {
	m.HandleFunc("/administration/organizations", s.admin(map[string]adminHandler{
		http.MethodPost: s.adminCreateOrg,
	}))
	m.HandleFunc("/administration/organizations/{org}", s.admin(map[string]adminHandler{
		http.MethodGet:   s.adminGetOrg,
		http.MethodPatch: s.adminPatchOrg,
	}))
	m.HandleFunc("/administration/organizations/{org}/stats", s.admin(map[string]adminHandler{
		http.MethodGet: s.adminStats,
	}))
	m.HandleFunc("/administration/organizations/{org}/users", s.admin(map[string]adminHandler{
		http.MethodGet: s.adminUsers,
	}))
	m.HandleFunc("/administration/organizations/{org}/users/freeze", s.admin(map[string]adminHandler{
		http.MethodPost: s.adminFreeze,
	}))
}

type adminHandler func(r *http.Request, body []byte) (any, error)

// adminError is a refusal of the administration API: an HTTP code, a detail for people
// and, where a client acts on it, a status (protocol.AdminError).
type adminError struct {
	code   int
	status protocol.Status
	detail string
}

func (e *adminError) Error() string { return e.detail }

func adminErr(code int, format string, args ...any) error {
	return &adminError{code: code, detail: fmt.Sprintf(format, args...)}
}

var (
	errAdminOrgNotFound  = &adminError{code: http.StatusNotFound, status: protocol.StatusOrganizationNotFound, detail: "Organization not found"}
	errAdminUserNotFound = &adminError{code: http.StatusNotFound, status: protocol.StatusUserNotFound, detail: "User not found"}
)

func (s *Server) admin(methods map[string]adminHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reply := func(code int, v any) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(v)
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !tokenEqual(token, s.cfg.AdminToken) {
			reply(http.StatusForbidden, map[string]string{"detail": "invalid administration token"})
			return
		}
		h, ok := methods[r.Method]
		if !ok {
			reply(http.StatusMethodNotAllowed, map[string]string{"detail": "method not allowed"})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, protocol.MaxBodySize))
		if err != nil {
			reply(http.StatusRequestEntityTooLarge, map[string]string{"detail": "request body too large"})
			return
		}
		v, err := h(r, body)
		if err != nil {
			var ae *adminError
			if errors.As(err, &ae) {
				reply(ae.code, protocol.AdminError{Detail: ae.detail, Status: ae.status})
				return
			}
			reply(s.adminFailed(r, err))
			return
		}
		reply(http.StatusOK, v)
	}
}

// decodeJSON decodes a JSON object strictly into v and also returns which keys were present,
// so that "absent" and "null" can mean different things.
func decodeJSON(body []byte, v any) (map[string]json.RawMessage, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil || keys == nil {
		return nil, adminErr(http.StatusUnprocessableEntity, "malformed JSON body: want an object")
	}
	// A key given twice is read one way into keys (the last wins) and another into v (a
	// null leaves a field as it was): {"organization_id": "X", "organization_id": null}
	// created X. Refused.
	if k, twice := duplicateKey(body); twice {
		return nil, adminErr(http.StatusUnprocessableEntity, "malformed JSON body: field %q given twice", k)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, adminErr(http.StatusUnprocessableEntity, "malformed JSON body: %v", err)
	}
	// The decoder matches keys to fields ignoring case, but keys is read by exact name
	// ("absent" or "null"): {"Active_Users_Limit": 5} was decoded, then not applied. Only
	// exact names are accepted (v's fields have no omitempty: all are in its encoding).
	names := map[string]json.RawMessage{}
	if b, err := json.Marshal(v); err == nil {
		json.Unmarshal(b, &names)
	}
	for k := range keys {
		if _, ok := names[k]; !ok {
			return nil, adminErr(http.StatusUnprocessableEntity, "malformed JSON body: unknown field %q", k)
		}
	}
	return keys, nil
}

// duplicateKey reports a key the top-level object of body (valid JSON) gives twice.
func duplicateKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		k, _ := t.(string)
		if seen[k] {
			return k, true
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
}

func (s *Server) orgParam(r *http.Request) (parsec.OrganizationID, error) {
	id, err := parsec.ParseOrganizationID(r.PathValue("org"))
	if err != nil {
		return "", errAdminOrgNotFound
	}
	return id, nil
}

func (s *Server) getOrg(tx metastore.Tx, id parsec.OrganizationID) (metastore.Organization, error) {
	o, err := tx.Organization(id)
	if errors.Is(err, metastore.ErrNotFound) {
		return o, errAdminOrgNotFound
	}
	return o, err
}

// orgConfigJSON is the configuration part of create and patch bodies.
type orgConfigJSON struct {
	UserProfileOutsiderAllowed *bool  `json:"user_profile_outsider_allowed"`
	ActiveUsersLimit           *int64 `json:"active_users_limit"`
	MinimumArchivingPeriod     *int64 `json:"minimum_archiving_period"`
}

// apply changes cfg for the keys present: an explicit null active_users_limit removes the
// limit.
func (j orgConfigJSON) apply(cfg *metastore.OrganizationConfig, keys map[string]json.RawMessage) error {
	if j.UserProfileOutsiderAllowed != nil {
		cfg.UserProfileOutsiderAllowed = *j.UserProfileOutsiderAllowed
	} else if _, ok := keys["user_profile_outsider_allowed"]; ok {
		return adminErr(http.StatusUnprocessableEntity, "user_profile_outsider_allowed must be true or false")
	}
	if _, ok := keys["active_users_limit"]; ok {
		if j.ActiveUsersLimit != nil && *j.ActiveUsersLimit < 0 {
			return adminErr(http.StatusUnprocessableEntity, "active_users_limit must be 0 or more, or null for no limit")
		}
		cfg.ActiveUsersLimit = j.ActiveUsersLimit
	}
	if j.MinimumArchivingPeriod != nil {
		if *j.MinimumArchivingPeriod < 0 {
			return adminErr(http.StatusUnprocessableEntity, "minimum_archiving_period must be 0 or more seconds")
		}
		cfg.MinimumArchivingPeriod = *j.MinimumArchivingPeriod
	} else if _, ok := keys["minimum_archiving_period"]; ok {
		return adminErr(http.StatusUnprocessableEntity, "minimum_archiving_period must be a number of seconds")
	}
	return nil
}

type createOrgJSON struct {
	OrganizationID string `json:"organization_id"`
	orgConfigJSON
}

func (s *Server) adminCreateOrg(r *http.Request, body []byte) (any, error) {
	var req createOrgJSON
	keys, err := decodeJSON(body, &req)
	if err != nil {
		return nil, err
	}
	id, err := parsec.ParseOrganizationID(req.OrganizationID)
	if err != nil {
		return nil, adminErr(http.StatusUnprocessableEntity, "%v", err)
	}
	cfg := s.cfg.OrgDefaults
	if err := req.apply(&cfg, keys); err != nil {
		return nil, err
	}
	org := metastore.Organization{ID: id, CreatedOn: s.now(), BootstrapToken: parsec.NewAccessToken(), Config: cfg}
	err = s.cfg.Store.Update(r.Context(), func(tx metastore.Tx) error {
		old, err := tx.Organization(id)
		switch {
		case err == nil && old.Bootstrapped():
			return adminErr(http.StatusBadRequest, "Organization already exists")
		case err != nil && !errors.Is(err, metastore.ErrNotFound):
			return err
		}
		// A new organization, or one never bootstrapped: (re)create it with a fresh token,
		// which makes any earlier bootstrap link useless.
		return tx.PutOrganization(org)
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("organization created", "org", id)
	link := protocol.Link{Server: s.public, Org: id, Action: protocol.ActionBootstrapOrganization, Token: org.BootstrapToken}
	return protocol.BootstrapURLs{BootstrapURL: link.String(), BootstrapURLAsHTTPRedirection: link.HTTPRedirect()}, nil
}

func (s *Server) adminGetOrg(r *http.Request, body []byte) (any, error) {
	id, err := s.orgParam(r)
	if err != nil {
		return nil, err
	}
	var org metastore.Organization
	err = s.cfg.Store.View(r.Context(), func(tx metastore.Tx) error {
		org, err = s.getOrg(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return protocol.OrganizationStatus{
		IsBootstrapped: org.Bootstrapped(), IsExpired: org.Config.IsExpired,
		UserProfileOutsiderAllowed: org.Config.UserProfileOutsiderAllowed,
		ActiveUsersLimit:           org.Config.ActiveUsersLimit, MinimumArchivingPeriod: org.Config.MinimumArchivingPeriod,
	}, nil
}

type patchOrgJSON struct {
	IsExpired *bool `json:"is_expired"`
	orgConfigJSON
}

func (s *Server) adminPatchOrg(r *http.Request, body []byte) (any, error) {
	id, err := s.orgParam(r)
	if err != nil {
		return nil, err
	}
	var req patchOrgJSON
	keys, err := decodeJSON(body, &req)
	if err != nil {
		return nil, err
	}
	var org metastore.Organization
	err = s.cfg.Store.Update(r.Context(), func(tx metastore.Tx) error {
		org, err = s.getOrg(tx, id)
		if err != nil {
			return err
		}
		if req.IsExpired != nil {
			org.Config.IsExpired = *req.IsExpired
		} else if _, ok := keys["is_expired"]; ok {
			return adminErr(http.StatusUnprocessableEntity, "is_expired must be true or false")
		}
		if err := req.apply(&org.Config, keys); err != nil {
			return err
		}
		return tx.PutOrganization(org)
	})
	if err != nil {
		return nil, err
	}
	if org.Config.IsExpired {
		s.publish(id, internalOrgExpired, nil, everyone())
	}
	s.log.Info("organization updated", "org", id)
	return struct{}{}, nil
}

func (s *Server) adminStats(r *http.Request, body []byte) (any, error) {
	id, err := s.orgParam(r)
	if err != nil {
		return nil, err
	}
	st := protocol.OrganizationStats{UsersPerProfileDetail: map[parsec.UserProfile]*protocol.ProfileCount{
		parsec.ProfileAdmin: {}, parsec.ProfileStandard: {}, parsec.ProfileOutsider: {},
	}}
	err = s.cfg.Store.View(r.Context(), func(tx metastore.Tx) error {
		if _, err := s.getOrg(tx, id); err != nil {
			return err
		}
		users, err := tx.Users(id)
		if err != nil {
			return err
		}
		for _, u := range users {
			st.Users++
			pc := st.UsersPerProfileDetail[u.Profile]
			if pc == nil {
				continue
			}
			if u.Revoked() {
				pc.Revoked++
			} else {
				pc.Active++
				st.ActiveUsers++
			}
		}
		topics, err := tx.RealmTopics(id)
		if err != nil {
			return err
		}
		st.Realms = len(topics)
		for _, t := range append(topics, metastore.CommonTopic) {
			certs, err := tx.Certificates(id, t, 0)
			if err != nil {
				return err
			}
			for _, c := range certs {
				st.MetadataSize += int64(len(c.Data) + len(c.Redacted))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

func adminUser(u metastore.User) protocol.AdminUser {
	return protocol.AdminUser{UserID: u.ID.String(), UserEmail: u.Email, UserName: u.Name, Profile: u.Profile, Frozen: u.Frozen}
}

func (s *Server) adminUsers(r *http.Request, body []byte) (any, error) {
	id, err := s.orgParam(r)
	if err != nil {
		return nil, err
	}
	out := struct {
		Users []protocol.AdminUser `json:"users"`
	}{Users: []protocol.AdminUser{}}
	err = s.cfg.Store.View(r.Context(), func(tx metastore.Tx) error {
		if _, err := s.getOrg(tx, id); err != nil {
			return err
		}
		users, err := tx.Users(id)
		if err != nil {
			return err
		}
		for _, u := range users {
			if !u.Revoked() {
				out.Users = append(out.Users, adminUser(u))
			}
		}
		return nil
	})
	return out, err
}

type freezeJSON struct {
	Frozen    *bool   `json:"frozen"`
	UserID    *string `json:"user_id"`
	UserEmail *string `json:"user_email"`
}

// adminFreeze freezes or unfreezes a user, named by ID or by email (the active user with that
// email). A frozen user's devices are refused (462) and its event streams end; freezing is
// reversible, and attached to the user ID (a new user with the same email is not frozen).
func (s *Server) adminFreeze(r *http.Request, body []byte) (any, error) {
	id, err := s.orgParam(r)
	if err != nil {
		return nil, err
	}
	var req freezeJSON
	if _, err := decodeJSON(body, &req); err != nil {
		return nil, err
	}
	if req.Frozen == nil {
		return nil, adminErr(http.StatusUnprocessableEntity, "frozen (true or false) is required")
	}
	if (req.UserID == nil) == (req.UserEmail == nil) {
		return nil, adminErr(http.StatusBadRequest, "give exactly one of user_id and user_email")
	}
	var user metastore.User
	err = s.cfg.Store.Update(r.Context(), func(tx metastore.Tx) error {
		if _, err := s.getOrg(tx, id); err != nil {
			return err
		}
		if req.UserID != nil {
			uid, err := parsec.ParseUserID(*req.UserID)
			if err != nil {
				return adminErr(http.StatusUnprocessableEntity, "%v", err)
			}
			user, err = tx.User(id, uid)
			if errors.Is(err, metastore.ErrNotFound) {
				return errAdminUserNotFound
			}
			if err != nil {
				return err
			}
			if user.Revoked() {
				return adminErr(http.StatusNotFound, "User has been revoked")
			}
		} else {
			email, err := parsec.ParseEmail(*req.UserEmail)
			if err != nil {
				return adminErr(http.StatusUnprocessableEntity, "%v", err)
			}
			user, err = tx.ActiveUserByEmail(id, email)
			if errors.Is(err, metastore.ErrNotFound) {
				return errAdminUserNotFound
			}
			if err != nil {
				return err
			}
		}
		user.Frozen = *req.Frozen
		return tx.UpdateUser(id, user)
	})
	if err != nil {
		return nil, err
	}
	if user.Frozen {
		s.publish(id, internalUserBlocked, nil, events.Audience{Users: []parsec.UserID{user.ID}})
	}
	s.log.Info("user freeze changed", "org", id, "user", user.ID, "frozen", user.Frozen)
	return adminUser(user), nil
}
