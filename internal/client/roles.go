package client

import (
	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/parsec"
)

// RoleChoice is one role an interface may offer for a user of a workspace.
type RoleChoice struct {
	Role    parsec.RealmRole // parsec.RoleNone: not shared
	Current bool             // the user has this role now
	Allowed bool             // this user may give it
	Reason  string           // why not, when not Allowed: a sentence for a tooltip
}

// offeredRoles are the roles a sharing dialog offers, in the order it shows them.
var offeredRoles = [...]parsec.RealmRole{parsec.RoleNone, parsec.RoleReader, parsec.RoleContributor, parsec.RoleManager, parsec.RoleOwner}

// RoleChoices says what this user may make of user's role in workspace ws: "not shared"
// (parsec.RoleNone), then READER, CONTRIBUTOR, MANAGER and OWNER, each allowed or refused
// with its reason, by the rules the server and every client apply (parsec.RoleChange) to
// the certificates this device validated. A sharing dialog shows the refused ones disabled
// with their reason; the current role is refused too, as unchanged or for what forbids
// touching it. Nobody chooses their own role: self-promotion is
// WorkspaceInfo.CanSelfPromote and SelfPromote.
//
// The choices are as fresh as the certificates: the server refuses a choice allowed here
// when it knows of a later change (PollCertificates, then ask again).
func (c *Client) RoleChoices(ws parsec.VlobID, user parsec.UserID) ([]RoleChoice, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.certs.Realm(ws); !ok {
		return nil, parsec.Errorf(parsec.NotFound, "workspace %s not found", parsec.ShortID(ws))
	}
	u, ok := c.certs.User(user)
	if !ok {
		return nil, parsec.Errorf(parsec.NotFound, "user %s not found", parsec.ShortID(user))
	}
	author, _ := c.certs.RealmRole(ws, c.dev.UserID)
	current, _ := c.certs.RealmRole(ws, user)
	change := parsec.RoleChange{Author: author, Self: user == c.dev.UserID, Current: current, Target: u.Profile(), Revoked: u.Revoked()}
	out := make([]RoleChoice, 0, len(offeredRoles))
	for _, role := range offeredRoles {
		change.Next = role
		r := change.Check()
		out = append(out, RoleChoice{Role: role, Current: role == current, Allowed: r == parsec.RefusalNone, Reason: r.String()})
	}
	return out, nil
}

// selfPromotion applies the server's rule of self-promotion (parsec.SelfPromotion) to this
// user, of role role in realm r, and to the other members as the certificates describe them.
func (c *Client) selfPromotion(r certif.Realm, role parsec.RealmRole) parsec.Refusal {
	profile := c.Profile()
	c.mu.Lock()
	defer c.mu.Unlock()
	var others []parsec.Member
	for _, m := range r.Members {
		if m.UserID == c.dev.UserID {
			continue
		}
		if u, ok := c.certs.User(m.UserID); ok {
			others = append(others, parsec.Member{Role: m.Role, Profile: u.Profile(), Revoked: u.Revoked()})
		}
	}
	return parsec.SelfPromotion(role, profile, others)
}
