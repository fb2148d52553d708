package certif_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/certif/certiftest"
	"github.com/parsec-go/parsec/internal/parsec"
)

// The realm-role rules are written once, in package parsec; the engine decides by them.
// These tests build, for every combination of roles and profiles, the certificate at stake
// and check that the engine accepts it exactly when the rules allow it, and otherwise
// rejects it for the rules' reason.

var (
	roles    = []parsec.RealmRole{parsec.RoleNone, parsec.RoleReader, parsec.RoleContributor, parsec.RoleManager, parsec.RoleOwner}
	profiles = []parsec.UserProfile{parsec.ProfileAdmin, parsec.ProfileStandard, parsec.ProfileOutsider}
)

// rejection is the sentinel the engine rejects with for each reason of the rules.
var rejection = map[parsec.Refusal]error{
	parsec.RefusalNotMember:         certif.ErrAuthorNoRole,
	parsec.RefusalOwnRole:           certif.ErrSelfPromotion,
	parsec.RefusalRevoked:           certif.ErrUserRevoked,
	parsec.RefusalOutsiderCap:       certif.ErrOutsiderRole,
	parsec.RefusalNotOwnerOrManager: certif.ErrRoleNotAllowed,
	parsec.RefusalOwnerOnly:         certif.ErrRoleNotAllowed,
	parsec.RefusalUnchanged:         certif.ErrRoleUnchanged,
	parsec.RefusalActiveOwner:       certif.ErrSelfPromotion,
	parsec.RefusalHigherRole:        certif.ErrSelfPromotion,
}

// realmSetup is an organization whose administrator admin is in no realm, and a realm
// created by boss (an Administrator, so OWNER).
type realmSetup struct {
	o           *certiftest.Org
	admin, boss *certiftest.Device
	realm       parsec.VlobID
	n           int
}

func newRealmSetup() *realmSetup {
	s := &realmSetup{o: certiftest.NewOrg()}
	s.admin = s.o.Bootstrap("admin")
	s.boss = s.o.NewUser(s.admin, "boss", parsec.ProfileAdmin)
	s.realm = s.o.NewRealm(s.boss)
	return s
}

// member adds a user of profile p whom boss gives role r. An External user gets a role above
// its cap the one way it can: before its profile changes.
func (s *realmSetup) member(p parsec.UserProfile, r parsec.RealmRole) *certiftest.Device {
	s.n++
	initial := p
	if r.Rank() > parsec.MaxRole(p).Rank() {
		initial = parsec.ProfileStandard
	}
	d := s.o.NewUser(s.admin, fmt.Sprintf("user%d", s.n), initial)
	if r != parsec.RoleNone {
		s.o.Share(s.boss, s.realm, d.User, r)
	}
	if initial != p {
		s.o.UpdateProfile(s.admin, d.User, p)
	}
	return d
}

// memory returns a client's Memory that accepted every certificate of the Org so far.
func (s *realmSetup) memory(t *testing.T) *certif.Memory {
	t.Helper()
	m := certif.NewMemory(s.o.RootVerifyKey(), false)
	if _, err := m.AddBatch(s.o.Full()); err != nil {
		t.Fatalf("setup rejected: %v", err)
	}
	return m
}

// roleCert signs a certificate of author setting target's role in realm, one tick after
// everything, without recording it in the Org.
func (s *realmSetup) roleCert(author *certiftest.Device, realm parsec.VlobID, target *certiftest.User, role parsec.RealmRole) []byte {
	return certif.Sign(author.Key, &certif.RealmRoleCertificate{Author: author.ID, Timestamp: s.o.Tick(), RealmID: realm, UserID: target.ID, Role: role})
}

// check validates raw against m and compares the verdict with the rules' refusal.
func (s *realmSetup) check(t *testing.T, m *certif.Memory, raw []byte, want parsec.Refusal) {
	t.Helper()
	_, err := certif.Validate(m, s.o.RootVerifyKey(), raw)
	switch {
	case want == parsec.RefusalNone && err != nil:
		t.Errorf("the rules allow it, the engine rejects it: %v", err)
	case want != parsec.RefusalNone && err == nil:
		t.Errorf("the rules refuse it (%v), the engine accepts it", want)
	case want != parsec.RefusalNone && !errors.Is(err, rejection[want]):
		t.Errorf("the rules refuse it (%v), the engine rejects it for another reason: %v", want, err)
	}
}

func TestEngineFollowsRoleChange(t *testing.T) {
	for _, author := range roles {
		for _, current := range roles {
			for _, profile := range profiles {
				for _, revoked := range []bool{false, true} {
					name := fmt.Sprintf("%s changes %s %s", author.Label(), profile.Label(), current.Label())
					if revoked {
						name += ", revoked,"
					}
					t.Run(name, func(t *testing.T) {
						s := newRealmSetup()
						a := s.member(parsec.ProfileStandard, author)
						target := s.member(profile, current)
						if revoked {
							s.o.Revoke(s.admin, target.User)
						}
						m := s.memory(t)
						for _, next := range roles {
							t.Run("to "+next.Label(), func(t *testing.T) {
								change := parsec.RoleChange{Author: author, Current: current, Next: next, Target: profile, Revoked: revoked}
								s.check(t, m, s.roleCert(a, s.realm, target.User, next), change.Check())
							})
						}
					})
				}
			}
		}
	}
}

func TestEngineFollowsOwnRole(t *testing.T) {
	for _, me := range roles {
		for _, profile := range profiles {
			t.Run(fmt.Sprintf("%s %s", profile.Label(), me.Label()), func(t *testing.T) {
				s := newRealmSetup()
				a := s.member(profile, me)
				m := s.memory(t)
				for _, next := range roles {
					t.Run("makes itself "+next.Label(), func(t *testing.T) {
						want := parsec.RoleChange{Author: me, Self: true, Current: me, Next: next, Target: profile}.Check()
						if next == parsec.RoleOwner {
							boss := parsec.Member{Role: parsec.RoleOwner, Profile: parsec.ProfileAdmin}
							want = parsec.SelfPromotionInChain(me, profile, []parsec.Member{boss})
						}
						s.check(t, m, s.roleCert(a, s.realm, a.User, next), want)
					})
				}
			})
		}
	}
}

func TestEngineFollowsSelfPromotion(t *testing.T) {
	for _, me := range roles {
		for _, profile := range profiles {
			for _, other := range roles[1:] {
				for _, otherProfile := range profiles {
					for _, revoked := range []bool{false, true} {
						name := fmt.Sprintf("%s %s, beside a %s %s", profile.Label(), me.Label(), otherProfile.Label(), other.Label())
						if revoked {
							name += ", revoked"
						}
						t.Run(name, func(t *testing.T) {
							s := newRealmSetup()
							a := s.member(profile, me)
							o := s.member(otherProfile, other)
							if revoked {
								s.o.Revoke(s.admin, o.User)
							}
							s.o.Revoke(s.admin, s.boss.User)
							others := []parsec.Member{
								{Role: parsec.RoleOwner, Profile: parsec.ProfileAdmin, Revoked: true}, // boss
								{Role: other, Profile: otherProfile, Revoked: revoked},
							}
							s.check(t, s.memory(t), s.roleCert(a, s.realm, a.User, parsec.RoleOwner), parsec.SelfPromotionInChain(me, profile, others))
						})
					}
				}
			}
		}
	}
}

func TestEngineFollowsCanCreateRealm(t *testing.T) {
	for _, profile := range profiles {
		t.Run(profile.Label(), func(t *testing.T) {
			s := newRealmSetup()
			a := s.member(profile, parsec.RoleNone)
			want := parsec.RefusalNone
			if !parsec.CanCreateRealm(profile) {
				want = parsec.RefusalOutsiderCap
			}
			s.check(t, s.memory(t), s.roleCert(a, parsec.NewVlobID(), a.User, parsec.RoleOwner), want)
		})
	}
}
