package parsec

// The realm-role rules, written once: who may give which role to whom, what External users
// may hold, who may promote itself OWNER, who may write. The certificate engine, the server
// and the client all decide with these functions, each turning a Refusal into its own
// vocabulary (a certificate rejection, a protocol status, a disabled choice with its reason).

// Refusal says why the rules refuse something; RefusalNone means they allow it. Its String
// is a sentence for a person, suitable for a tooltip.
type Refusal uint8

const (
	RefusalNone              Refusal = iota
	RefusalNotMember                 // the author has no role in the workspace
	RefusalOwnRole                   // nobody changes their own role (self-promotion aside)
	RefusalRevoked                   // a revoked user gets no role (removing one is fine)
	RefusalOutsiderCap               // an External user is at most CONTRIBUTOR
	RefusalNotOwnerOrManager         // readers and contributors give or remove no role
	RefusalOwnerOnly                 // the OWNER and MANAGER roles are an owner's business
	RefusalUnchanged                 // the user already has that role
	RefusalActiveOwner               // self-promotion: the workspace still has an active owner
	RefusalHigherRole                // self-promotion: an active member has a higher role
)

var refusalSentences = [...]string{
	RefusalNone:              "",
	RefusalNotMember:         "You are not a member of this workspace",
	RefusalOwnRole:           "You cannot change your own role",
	RefusalRevoked:           "This user is revoked",
	RefusalOutsiderCap:       "External users can be at most Contributor",
	RefusalNotOwnerOrManager: "Only an owner or a manager can give or remove roles",
	RefusalOwnerOnly:         "Only an owner can give or change the Manager and Owner roles",
	RefusalUnchanged:         "The user already has this role",
	RefusalActiveOwner:       "The workspace still has an active owner",
	RefusalHigherRole:        "An active member has a higher role than yours",
}

func (r Refusal) String() string {
	if int(r) < len(refusalSentences) {
		return refusalSentences[r]
	}
	return "Not allowed"
}

// MaxRole is the highest role a user of profile p may be given: CONTRIBUTOR for External
// users, OWNER for the others. (An External user may keep a higher role given before its
// profile changed; it is never given one.)
func MaxRole(p UserProfile) RealmRole {
	if p == ProfileOutsider {
		return RoleContributor
	}
	return RoleOwner
}

// mayOwn reports whether a user of profile p may become OWNER.
func mayOwn(p UserProfile) bool { return MaxRole(p) == RoleOwner }

// CanCreateRealm reports whether a user of profile p may create a workspace (and so become
// its OWNER): External users may not.
func CanCreateRealm(p UserProfile) bool { return mayOwn(p) }

// CanWrite reports whether the role may change workspace content (vlobs and blocks):
// OWNER, MANAGER and CONTRIBUTOR may, READER may not.
func (r RealmRole) CanWrite() bool { return r.Rank() >= RoleContributor.Rank() }

// ownersBusiness reports whether giving or removing role r takes an OWNER.
func ownersBusiness(r RealmRole) bool { return r == RoleOwner || r == RoleManager }

// RoleChange is a change of a user's role in a workspace, with what the rules look at.
// Self-promotion is no RoleChange: see SelfPromotion.
type RoleChange struct {
	Author  RealmRole   // the author's current role
	Self    bool        // the author changes its own role
	Current RealmRole   // the target's current role
	Next    RealmRole   // the role asked for; RoleNone removes the current one
	Target  UserProfile // the target's profile
	Revoked bool        // the target is revoked
}

// Check applies the rules to the change, in this order, and returns the first refusal:
//
//   - the author must have a role (RefusalNotMember);
//   - nobody changes their own role (RefusalOwnRole);
//   - a role is given only to a user who is not revoked (RefusalRevoked), and to an
//     External user only up to CONTRIBUTOR (RefusalOutsiderCap);
//   - READER and CONTRIBUTOR roles are given and removed by an OWNER or a MANAGER
//     (RefusalNotOwnerOrManager), MANAGER and OWNER roles, the target's current one or the
//     one asked for, by an OWNER only (RefusalOwnerOnly): so a MANAGER cannot change another
//     MANAGER, and an OWNER may demote another OWNER;
//   - the change must change something (RefusalUnchanged).
func (c RoleChange) Check() Refusal {
	touches := c.Current != RoleNone || c.Next != RoleNone // removing no role touches none
	switch {
	case c.Author == RoleNone:
		return RefusalNotMember
	case c.Self:
		return RefusalOwnRole
	case c.Next != RoleNone && c.Revoked:
		return RefusalRevoked
	case c.Next.Rank() > MaxRole(c.Target).Rank():
		return RefusalOutsiderCap
	case touches && c.Author != RoleOwner && c.Author != RoleManager:
		return RefusalNotOwnerOrManager
	case c.Author != RoleOwner && (ownersBusiness(c.Current) || ownersBusiness(c.Next)):
		return RefusalOwnerOnly
	case c.Current == c.Next:
		return RefusalUnchanged
	}
	return RefusalNone
}

// Member is another member of a workspace, as the self-promotion rule sees it.
type Member struct {
	Role    RealmRole
	Profile UserProfile
	Revoked bool
}

// SelfPromotion decides whether a member whose role is me and profile p may make itself
// OWNER of a workspace whose other members are others (RFC 1027), checking in this order:
//
//   - External users never become owners (RefusalOutsiderCap);
//   - the member must have a role (RefusalNotMember), and not be OWNER already
//     (RefusalUnchanged);
//   - no other member still active (not revoked) may be OWNER, whatever its profile
//     (RefusalActiveOwner);
//   - no active member who could become owner (not External) may have a higher role
//     (RefusalHigherRole).
//
// This is the rule of a request: the server applies it, and clients offer self-promotion
// by it. A chain of certificates obeys SelfPromotionInChain.
func SelfPromotion(me RealmRole, p UserProfile, others []Member) Refusal {
	switch {
	case !mayOwn(p):
		return RefusalOutsiderCap
	case me == RoleNone:
		return RefusalNotMember
	case me == RoleOwner:
		return RefusalUnchanged
	}
	higher := false
	for _, m := range others {
		switch {
		case m.Revoked:
		case m.Role == RoleOwner:
			return RefusalActiveOwner
		case mayOwn(m.Profile) && m.Role.Rank() > me.Rank():
			higher = true
		}
	}
	if higher {
		return RefusalHigherRole
	}
	return RefusalNone
}

// SelfPromotionInChain is SelfPromotion as every client checks it in the certificates: the
// same rule, except that External members do not count at all, so that an active External
// OWNER (made OWNER before its profile changed) does not block the promotion (RFC 1027).
// The server is stricter (SelfPromotion refuses with RefusalActiveOwner); a chain is not
// made invalid by a promotion that a server following the RFC's rule accepted.
func SelfPromotionInChain(me RealmRole, p UserProfile, others []Member) Refusal {
	var counted []Member
	for _, m := range others {
		if mayOwn(m.Profile) {
			counted = append(counted, m)
		}
	}
	return SelfPromotion(me, p, counted)
}
