package client

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// FindUser returns the user with this email: the active one if any, else the last revoked
// one. External users cannot find anybody by email (they do not see emails).
func (c *Client) FindUser(email string) (UserInfo, error) {
	e, err := parsec.ParseEmail(email)
	if err != nil {
		return UserInfo{}, err
	}
	var found *UserInfo
	users := c.Users()
	for i := range users {
		u := &users[i]
		if u.Handle.Email != e {
			continue
		}
		if u.RevokedOn.IsZero() {
			return *u, nil
		}
		if found == nil || u.CreatedOn > found.CreatedOn {
			found = u
		}
	}
	if found == nil {
		return UserInfo{}, parsec.Errorf(parsec.NotFound, "no user with email %s in organization %s", e, c.dev.OrganizationID)
	}
	return *found, nil
}

// RevokeUser revokes a user (Administrators; not oneself). It is irreversible: all the user's
// devices are refused at once. Revoking a user already revoked returns an error of kind
// parsec.Exists.
func (c *Client) RevokeUser(ctx context.Context, user parsec.UserID) error {
	if user == c.dev.UserID {
		return parsec.Errorf(parsec.Invalid, "you cannot revoke yourself")
	}
	err := c.certify(ctx, userOffset, protocol.CmdUserRevoke,
		func(ts parsec.DateTime) certif.Certificate {
			return &certif.RevokedUserCertificate{Author: c.dev.DeviceID, Timestamp: ts, UserID: user}
		},
		func(signed []byte) any { return protocol.UserRevokeReq{RevokedUserCertificate: signed} })
	if err != nil {
		return err
	}
	// Remove the user from the workspaces this user owns and rotate their keys at once,
	// so that nothing written from now on is readable with keys the revoked user had.
	if err := c.MaintainWorkspaces(ctx); err != nil {
		return parsec.Wrap(err, "user revoked, but its workspaces could not all be rekeyed (the next sync will retry)")
	}
	return nil
}

// Outcome of a revocation in a batch.
const (
	RevokeDone    = "revoked"
	RevokeAlready = "already revoked"
	RevokeFailed  = "failed"
)

// RevokeResult is what became of one user in RevokeUsers.
type RevokeResult struct {
	User    UserInfo
	Outcome string
	Err     error // with RevokeFailed
}

// RevokeUsers revokes users one by one (see RevokeUser). A user the server or the
// certificates already hold revoked is reported so, and each failure is reported without
// stopping the others, unless it makes going on pointless (parsec.StopsBatch): then the
// results so far, that failure last, come back with its error.
func (c *Client) RevokeUsers(ctx context.Context, users []UserInfo) ([]RevokeResult, error) {
	var out []RevokeResult
	for _, u := range users {
		r := RevokeResult{User: u}
		err := c.RevokeUser(ctx, u.ID)
		switch {
		case err == nil:
			r.Outcome = RevokeDone
		case parsec.IsKind(err, parsec.Exists) || !u.RevokedOn.IsZero():
			r.Outcome = RevokeAlready
		default:
			r.Outcome, r.Err = RevokeFailed, err
			if parsec.StopsBatch(err) {
				return append(out, r), err
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// UpdateProfile changes a user's profile (Administrators; not one's own). A user already at
// that profile gives an error of kind parsec.Exists.
func (c *Client) UpdateProfile(ctx context.Context, user parsec.UserID, profile parsec.UserProfile) error {
	if user == c.dev.UserID {
		return parsec.Errorf(parsec.Invalid, "you cannot change your own profile")
	}
	if !profile.Valid() {
		return parsec.Errorf(parsec.Invalid, "invalid profile %q", profile)
	}
	return c.certify(ctx, userOffset, protocol.CmdUserUpdate,
		func(ts parsec.DateTime) certif.Certificate {
			return &certif.UserUpdateCertificate{Author: c.dev.DeviceID, Timestamp: ts, UserID: user, NewProfile: profile}
		},
		func(signed []byte) any { return protocol.UserUpdateReq{UserUpdateCertificate: signed} })
}

// userOffset is the timestamp offset of user certificates (see WithFreshTimestamp).
const userOffset = 500 * time.Millisecond

// Outcome of a profile change in a batch.
const (
	ProfileChanged   = "changed"
	ProfileUnchanged = "unchanged" // already at that profile
	ProfileSkipped   = "skipped"   // External users are never changed in a batch
	ProfileFailed    = "failed"
)

// ProfileResult is what became of one user in ChangeProfiles.
type ProfileResult struct {
	User    UserInfo
	Outcome string
	Err     error // with ProfileFailed
}

// ChangeProfiles changes users between Administrator and Member, one by one. External users
// are skipped (their profile is not affected), users already at that profile are reported
// unchanged, and each failure is reported without stopping the others.
func (c *Client) ChangeProfiles(ctx context.Context, users []UserInfo, profile parsec.UserProfile) ([]ProfileResult, error) {
	if profile != parsec.ProfileAdmin && profile != parsec.ProfileStandard {
		return nil, parsec.Errorf(parsec.Invalid, "profiles change only between Administrator and Member, not to %s", profile.Label())
	}
	if c.Profile() != parsec.ProfileAdmin {
		// Said before anything else, even for a batch that holds only External users.
		return nil, parsec.Errorf(parsec.Permission, "only an Administrator can change profiles")
	}
	var out []ProfileResult
	for _, u := range users {
		r := ProfileResult{User: u}
		switch {
		case u.Profile == parsec.ProfileOutsider:
			r.Outcome = ProfileSkipped
		case u.Profile == profile:
			r.Outcome = ProfileUnchanged
		default:
			err := c.UpdateProfile(ctx, u.ID, profile)
			switch {
			case err == nil:
				r.Outcome = ProfileChanged
			case protocol.IsStatus(err, protocol.StatusUserNoChanges):
				r.Outcome = ProfileUnchanged
			default:
				r.Outcome, r.Err = ProfileFailed, err
				if parsec.KindOf(err) == parsec.Tampered || parsec.KindOf(err) == parsec.Revoked {
					return append(out, r), err
				}
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// FrozenUsers asks which users the server administrator froze (Administrators only).
func (c *Client) FrozenUsers(ctx context.Context) ([]parsec.UserID, error) {
	var rep protocol.ListFrozenUsersRep
	err := c.Call(ctx, protocol.CmdListFrozenUsers, protocol.ListFrozenUsersReq{}, &rep)
	return rep.FrozenUsers, err
}

// UserFilter selects users in ListUsers; an empty field selects everybody.
type UserFilter struct {
	Profiles []parsec.UserProfile
	Statuses []string // "active", "revoked", "frozen"
	Search   string   // a part of the name, email or ID, in any case
}

// ListUsers lists the organization's users from the certificates this device validated,
// those the filter selects, in the certificates' order. For an Administrator, it first asks
// the server which users its administrator froze, to show them so; RevokedByName names who
// revoked a user.
func (c *Client) ListUsers(ctx context.Context, f UserFilter) ([]UserInfo, error) {
	for _, s := range f.Statuses {
		if s != "active" && s != "revoked" && s != "frozen" {
			return nil, parsec.Errorf(parsec.Invalid, "invalid status %q: want active, revoked or frozen", s)
		}
	}
	all, err := c.usersWithState(ctx)
	if err != nil {
		return nil, err
	}
	return f.Select(all), nil
}

// Select returns the users the filter selects, in order.
func (f UserFilter) Select(users []UserInfo) []UserInfo {
	search := strings.ToLower(f.Search)
	var out []UserInfo
	for _, u := range users {
		switch {
		case len(f.Profiles) > 0 && !slices.Contains(f.Profiles, u.Profile),
			len(f.Statuses) > 0 && !slices.Contains(f.Statuses, u.Status()),
			search != "" && !strings.Contains(strings.ToLower(u.Handle.Label+" "+u.Handle.Email+" "+u.ID.String()), search):
			continue
		}
		out = append(out, u)
	}
	return out
}

// ShowUser describes the user with this email as ListUsers does.
func (c *Client) ShowUser(ctx context.Context, email string) (UserInfo, error) {
	u, err := c.FindUser(email)
	if err != nil {
		return u, err
	}
	all, err := c.usersWithState(ctx)
	if err != nil {
		return u, err
	}
	if i := slices.IndexFunc(all, func(x UserInfo) bool { return x.ID == u.ID }); i >= 0 {
		u = all[i]
	}
	return u, nil
}

// usersWithState is Users with who froze and who revoked them filled in.
func (c *Client) usersWithState(ctx context.Context) ([]UserInfo, error) {
	users := c.Users()
	if c.Profile() == parsec.ProfileAdmin {
		frozen, err := c.FrozenUsers(ctx)
		if err != nil {
			return nil, err
		}
		for i := range users {
			users[i].Frozen = slices.Contains(frozen, users[i].ID)
		}
	}
	names := map[parsec.DeviceID]string{}
	for _, u := range users {
		for _, d := range u.Devices {
			names[d.ID] = u.Handle.Label
		}
	}
	for i, u := range users {
		if u.RevokedBy != nil {
			users[i].RevokedByName = names[*u.RevokedBy]
		}
	}
	return users, nil
}

// UserHandle returns a user's name and email as the validated certificates give them (the
// redacted placeholder for an unknown user, or for an External viewer).
func (c *Client) UserHandle(id parsec.UserID) parsec.HumanHandle {
	if id == c.dev.UserID {
		return c.dev.HumanHandle
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if u, ok := c.certs.User(id); ok {
		return u.Handle()
	}
	return parsec.RedactedHandle(id)
}
