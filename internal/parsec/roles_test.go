package parsec

import "testing"

const (
	none        = RoleNone
	reader      = RoleReader
	contributor = RoleContributor
	manager     = RoleManager
	owner       = RoleOwner
	admin       = ProfileAdmin
	member      = ProfileStandard
	external    = ProfileOutsider
)

func TestRoleChange(t *testing.T) {
	tests := []struct {
		name   string
		change RoleChange
		want   Refusal
	}{
		// Who may give which role.
		{"owner makes a reader", RoleChange{Author: owner, Next: reader, Target: member}, RefusalNone},
		{"owner makes a manager", RoleChange{Author: owner, Current: reader, Next: manager, Target: member}, RefusalNone},
		{"owner makes another owner", RoleChange{Author: owner, Current: manager, Next: owner, Target: admin}, RefusalNone},
		{"owner demotes another owner", RoleChange{Author: owner, Current: owner, Next: reader, Target: member}, RefusalNone},
		{"owner unshares a manager", RoleChange{Author: owner, Current: manager, Next: none, Target: member}, RefusalNone},
		{"manager makes a contributor", RoleChange{Author: manager, Current: reader, Next: contributor, Target: member}, RefusalNone},
		{"manager unshares a reader", RoleChange{Author: manager, Current: reader, Next: none, Target: member}, RefusalNone},
		{"manager makes a manager", RoleChange{Author: manager, Current: contributor, Next: manager, Target: member}, RefusalOwnerOnly},
		{"manager makes an owner", RoleChange{Author: manager, Next: owner, Target: member}, RefusalOwnerOnly},
		{"manager demotes a manager", RoleChange{Author: manager, Current: manager, Next: reader, Target: member}, RefusalOwnerOnly},
		{"manager unshares an owner", RoleChange{Author: manager, Current: owner, Next: none, Target: member}, RefusalOwnerOnly},
		{"contributor shares", RoleChange{Author: contributor, Next: reader, Target: member}, RefusalNotOwnerOrManager},
		{"reader unshares", RoleChange{Author: reader, Current: contributor, Next: none, Target: member}, RefusalNotOwnerOrManager},
		{"non-member shares", RoleChange{Author: none, Next: reader, Target: member}, RefusalNotMember},

		// External users: at most CONTRIBUTOR.
		{"External contributor", RoleChange{Author: owner, Current: reader, Next: contributor, Target: external}, RefusalNone},
		{"External manager", RoleChange{Author: owner, Current: reader, Next: manager, Target: external}, RefusalOutsiderCap},
		{"External owner", RoleChange{Author: owner, Next: owner, Target: external}, RefusalOutsiderCap},
		{"External demoted from owner", RoleChange{Author: owner, Current: owner, Next: reader, Target: external}, RefusalNone},

		// Revoked users keep no role.
		{"revoked user shared", RoleChange{Author: owner, Next: reader, Target: member, Revoked: true}, RefusalRevoked},
		{"revoked user unshared", RoleChange{Author: manager, Current: contributor, Next: none, Target: member, Revoked: true}, RefusalNone},

		// Nobody changes their own role.
		{"owner demotes itself", RoleChange{Author: owner, Self: true, Current: owner, Next: reader, Target: admin}, RefusalOwnRole},
		{"reader promotes itself by a share", RoleChange{Author: reader, Self: true, Current: reader, Next: owner, Target: member}, RefusalOwnRole},

		// A change changes something.
		{"role already granted", RoleChange{Author: owner, Current: reader, Next: reader, Target: member}, RefusalUnchanged},
		{"never shared, unshared", RoleChange{Author: manager, Next: none, Target: member}, RefusalUnchanged},

		// The first refusal wins, in the order the server answers.
		{"non-member changes its own role", RoleChange{Author: none, Self: true, Next: reader, Target: member}, RefusalNotMember},
		{"revoked before External", RoleChange{Author: owner, Next: manager, Target: external, Revoked: true}, RefusalRevoked},
		{"External before the author's role", RoleChange{Author: manager, Next: manager, Target: external}, RefusalOutsiderCap},
		{"not owner or manager before owner only", RoleChange{Author: reader, Current: manager, Next: owner, Target: member}, RefusalNotOwnerOrManager},
		{"the author's role before unchanged", RoleChange{Author: manager, Current: manager, Next: manager, Target: member}, RefusalOwnerOnly},
		{"unchanged removal before the author's role", RoleChange{Author: reader, Next: none, Target: member}, RefusalUnchanged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.change.Check(); got != tc.want {
				t.Errorf("%+v.Check() = %v, want %v", tc.change, got, tc.want)
			}
		})
	}
}

func TestSelfPromotion(t *testing.T) {
	revokedOwner := Member{Role: owner, Profile: admin, Revoked: true}
	tests := []struct {
		name    string
		me      RealmRole
		profile UserProfile
		others  []Member
		want    Refusal // by SelfPromotion (the server's rule)
		inChain Refusal // by SelfPromotionInChain
	}{
		{"highest once the owner is revoked", contributor, member, []Member{revokedOwner, {Role: reader, Profile: admin}}, RefusalNone, RefusalNone},
		{"equal to another member", manager, member, []Member{revokedOwner, {Role: manager, Profile: admin}}, RefusalNone, RefusalNone},
		{"alone", reader, admin, nil, RefusalNone, RefusalNone},
		{"an owner is active", manager, member, []Member{{Role: owner, Profile: member}}, RefusalActiveOwner, RefusalActiveOwner},
		{"an External owner is active", manager, member, []Member{{Role: owner, Profile: external}}, RefusalActiveOwner, RefusalNone},
		{"below an active manager", contributor, member, []Member{revokedOwner, {Role: manager, Profile: member}}, RefusalHigherRole, RefusalHigherRole},
		{"below an active External manager", contributor, member, []Member{revokedOwner, {Role: manager, Profile: external}}, RefusalNone, RefusalNone},
		{"below a revoked manager", contributor, member, []Member{revokedOwner, {Role: manager, Profile: member, Revoked: true}}, RefusalNone, RefusalNone},
		{"an active owner before a higher member", reader, member, []Member{{Role: manager, Profile: member}, {Role: owner, Profile: member}}, RefusalActiveOwner, RefusalActiveOwner},
		{"External", contributor, external, []Member{revokedOwner}, RefusalOutsiderCap, RefusalOutsiderCap},
		{"External without role", none, external, []Member{revokedOwner}, RefusalOutsiderCap, RefusalOutsiderCap},
		{"non-member", none, member, []Member{revokedOwner}, RefusalNotMember, RefusalNotMember},
		{"already owner", owner, admin, []Member{{Role: owner, Profile: admin}}, RefusalUnchanged, RefusalUnchanged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := SelfPromotion(tc.me, tc.profile, tc.others); got != tc.want {
				t.Errorf("SelfPromotion = %v, want %v", got, tc.want)
			}
			if got := SelfPromotionInChain(tc.me, tc.profile, tc.others); got != tc.inChain {
				t.Errorf("SelfPromotionInChain = %v, want %v", got, tc.inChain)
			}
		})
	}
}

func TestProfileAndRoleRules(t *testing.T) {
	for p, want := range map[UserProfile]RealmRole{admin: owner, member: owner, external: contributor} {
		if got := MaxRole(p); got != want {
			t.Errorf("MaxRole(%s) = %s, want %s", p, got, want)
		}
		if got := CanCreateRealm(p); got != (p != external) {
			t.Errorf("CanCreateRealm(%s) = %v", p, got)
		}
	}
	for r, want := range map[RealmRole]bool{none: false, reader: false, contributor: true, manager: true, owner: true} {
		if got := r.CanWrite(); got != want {
			t.Errorf("%q.CanWrite() = %v, want %v", r, got, want)
		}
	}
}

func TestRefusalSentences(t *testing.T) {
	if s := RefusalNone.String(); s != "" {
		t.Errorf("RefusalNone says %q", s)
	}
	seen := map[string]Refusal{}
	for r := RefusalNotMember; r <= RefusalHigherRole; r++ {
		s := r.String()
		if s == "" || s == Refusal(255).String() {
			t.Errorf("refusal %d has no sentence of its own: %q", r, s)
		}
		if other, ok := seen[s]; ok {
			t.Errorf("refusals %d and %d say the same: %q", other, r, s)
		}
		seen[s] = r
	}
}
