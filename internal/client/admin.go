package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// Admin talks to a server's administration API with the administration token.
type Admin struct {
	Server protocol.ServerAddr
	Token  string
	HTTP   *http.Client
}

// NewAdmin parses the server address (parsec3:// or http(s)://).
func NewAdmin(addr, token string, hc *http.Client) (*Admin, error) {
	srv, err := protocol.ParseServerAddr(addr)
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, parsec.Errorf(parsec.Invalid, "an administration token is required (--admin-token or PARSEC_ADMIN_TOKEN)")
	}
	if hc == nil {
		hc = defaultHTTPClient
	}
	return &Admin{Server: srv, Token: token, HTTP: hc}, nil
}

func (a *Admin) do(ctx context.Context, method string, path []string, body, out any) error {
	u, _ := url.Parse(a.Server.HTTPURL())
	u = u.JoinPath(append([]string{"administration"}, path...)...)
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		if e := untrusted(a.Server.HTTPURL(), err); e != nil {
			return e
		}
		return parsec.Errorf(parsec.Unavailable, "cannot reach the server at %s: %v", a.Server.HTTPURL(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplySize))
	if err != nil {
		return parsec.Errorf(parsec.Unavailable, "connection to the server lost: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e protocol.AdminError
		json.Unmarshal(data, &e)
		if e.Detail == "" {
			e.Detail = http.StatusText(resp.StatusCode)
		}
		// The status, when the server gave one, stays in the chain for protocol.IsStatus.
		cause := &protocol.StatusError{Status: e.Status, Message: e.Detail}
		switch resp.StatusCode {
		case http.StatusForbidden:
			return parsec.Errorf(parsec.BadAuth, "the server refused the administration token (%s)", e.Detail)
		case http.StatusNotFound:
			return &parsec.Error{Kind: parsec.NotFound, Msg: e.Detail, Err: cause}
		case http.StatusBadRequest:
			return &parsec.Error{Kind: parsec.Exists, Msg: e.Detail, Err: cause}
		case http.StatusUnprocessableEntity:
			return &parsec.Error{Kind: parsec.Invalid, Msg: e.Detail, Err: cause}
		}
		return parsec.Errorf(parsec.Unavailable, "the server answered %d: %s", resp.StatusCode, e.Detail)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return parsec.Errorf(parsec.Tampered, "malformed reply from the server: %v", err)
		}
	}
	return nil
}

// OrgOptions are the settings an organization may be created with.
type OrgOptions struct {
	UserProfileOutsiderAllowed *bool
	ActiveUsersLimit           *int64
}

// CreateOrganization creates (or re-creates, if never bootstrapped) an organization and
// returns its bootstrap links.
func (a *Admin) CreateOrganization(ctx context.Context, org parsec.OrganizationID, o OrgOptions) (protocol.BootstrapURLs, error) {
	body := map[string]any{"organization_id": org}
	if o.UserProfileOutsiderAllowed != nil {
		body["user_profile_outsider_allowed"] = *o.UserProfileOutsiderAllowed
	}
	if o.ActiveUsersLimit != nil {
		body["active_users_limit"] = *o.ActiveUsersLimit
	}
	var out protocol.BootstrapURLs
	err := a.do(ctx, http.MethodPost, []string{"organizations"}, body, &out)
	if parsec.KindOf(err) == parsec.Exists {
		return out, parsec.Errorf(parsec.Exists, "organization %s already exists and is bootstrapped", org)
	}
	return out, err
}

// OrganizationStatus returns an organization's status and configuration.
func (a *Admin) OrganizationStatus(ctx context.Context, org parsec.OrganizationID) (protocol.OrganizationStatus, error) {
	var out protocol.OrganizationStatus
	err := a.do(ctx, http.MethodGet, []string{"organizations", string(org)}, nil, &out)
	return out, orgNotFound(err, org)
}

// OrganizationStats returns an organization's usage statistics.
func (a *Admin) OrganizationStats(ctx context.Context, org parsec.OrganizationID) (protocol.OrganizationStats, error) {
	var out protocol.OrganizationStats
	err := a.do(ctx, http.MethodGet, []string{"organizations", string(org), "stats"}, nil, &out)
	return out, orgNotFound(err, org)
}

// Freeze freezes (or unfreezes) the active user with this email.
func (a *Admin) Freeze(ctx context.Context, org parsec.OrganizationID, email string, frozen bool) (protocol.AdminUser, error) {
	var out protocol.AdminUser
	err := a.do(ctx, http.MethodPost, []string{"organizations", string(org), "users", "freeze"},
		map[string]any{"user_email": email, "frozen": frozen}, &out)
	if protocol.IsStatus(err, protocol.StatusUserNotFound) {
		return out, parsec.Errorf(parsec.NotFound, "no active user with email %s in organization %s", email, org)
	}
	return out, orgNotFound(err, org)
}

func orgNotFound(err error, org parsec.OrganizationID) error {
	if protocol.IsStatus(err, protocol.StatusOrganizationNotFound) {
		return parsec.Errorf(parsec.NotFound, "organization %s not found on this server", org)
	}
	return err
}

// CreateOrganizationLink creates an organization (see CreateOrganization) with the server's
// default settings and returns its bootstrap link, ready to open.
func (a *Admin) CreateOrganizationLink(ctx context.Context, org parsec.OrganizationID) (Link, error) {
	urls, err := a.CreateOrganization(ctx, org, OrgOptions{})
	if err != nil {
		return Link{}, err
	}
	return ParseBootstrapLink(urls.BootstrapURL)
}
