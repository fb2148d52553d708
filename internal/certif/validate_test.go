package certif_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/certif/certiftest"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// world is an organization with alice (ADMIN), bob (STANDARD), carol (STANDARD) and
// mallory (OUTSIDER), and a realm made by alice, with one key, shared with bob as MANAGER
// and mallory as READER; m has accepted all of it.
type world struct {
	o                          *certiftest.Org
	m                          *certif.Memory
	alice, bob, carol, mallory *certiftest.Device
	realm                      parsec.VlobID
}

func newWorld(t *testing.T) *world {
	t.Helper()
	o := certiftest.NewOrg()
	w := &world{o: o}
	w.alice = o.Bootstrap("alice")
	w.bob = o.NewUser(w.alice, "bob", parsec.ProfileStandard)
	w.carol = o.NewUser(w.alice, "carol", parsec.ProfileStandard)
	w.mallory = o.NewUser(w.alice, "mallory", parsec.ProfileOutsider)
	w.realm = o.NewRealm(w.alice)
	o.RotateKey(w.alice, w.realm)
	o.Share(w.alice, w.realm, w.bob.User, parsec.RoleManager)
	o.Share(w.bob, w.realm, w.mallory.User, parsec.RoleReader)
	w.m = certif.NewMemory(o.RootVerifyKey(), false)
	w.add(t, o.Full()...)
	return w
}

// add makes m accept certificates that must be valid.
func (w *world) add(t *testing.T, raws ...[]byte) {
	t.Helper()
	if _, err := w.m.AddBatch(raws); err != nil {
		t.Fatalf("valid certificates rejected: %v", err)
	}
}

const second = parsec.DateTime(1_000_000)

// sign signs a hand-made certificate without recording it in the Org's log.
func sign(d *certiftest.Device, c certif.Certificate) []byte { return certif.Sign(d.Key, c) }

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name  string
		build func(t *testing.T, w *world) []byte // may add valid certificates to w.m first
		want  error
	}{
		// Signatures and authors.
		{"signed with another device's key", func(t *testing.T, w *world) []byte {
			return certif.Sign(w.alice.Key, &certif.UserUpdateCertificate{Author: w.bob.ID, Timestamp: w.o.Tick(), UserID: w.carol.User.ID, NewProfile: parsec.ProfileAdmin})
		}, certif.ErrBadSignature},
		{"root-signed with another root key", func(t *testing.T, w *world) []byte {
			m := certif.NewMemory(w.o.RootVerifyKey(), false)
			w.m = m
			other := certiftest.NewOrg()
			other.Bootstrap("eve")
			return other.Log[0].Full
		}, certif.ErrBadSignature},
		{"unknown author device", func(t *testing.T, w *world) []byte {
			ghost := &certiftest.Device{ID: parsec.NewDeviceID(), Key: crypto.GenerateSigningKey()}
			return sign(ghost, &certif.RevokedUserCertificate{Author: ghost.ID, Timestamp: w.o.Tick(), UserID: w.carol.User.ID})
		}, certif.ErrUnknownAuthor},
		{"author device created after the certificate", func(t *testing.T, w *world) []byte {
			before := w.o.Tick()
			laptop := w.o.NewDevice(w.alice)
			w.add(t, w.o.Last().Full)
			return sign(laptop, &certif.RealmArchivingCertificate{Author: laptop.ID, Timestamp: before, RealmID: w.realm, Configuration: certif.ArchivingArchived})
		}, certif.ErrUnknownAuthor},
		{"author revoked", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.Revoke(w.alice, w.bob.User))
			return sign(w.bob, &certif.RealmRoleCertificate{Author: w.bob.ID, Timestamp: w.o.Tick(), RealmID: w.realm, UserID: w.carol.User.ID, Role: parsec.RoleReader})
		}, certif.ErrAuthorRevoked},
		{"author revoked at that very timestamp", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.Revoke(w.alice, w.bob.User))
			return sign(w.bob, &certif.RealmRoleCertificate{Author: w.bob.ID, Timestamp: w.o.Now, RealmID: w.realm, UserID: w.carol.User.ID, Role: parsec.RoleReader})
		}, certif.ErrAuthorRevoked},
		{"revoked author makes itself a device", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.Revoke(w.alice, w.bob.User))
			w.o.NewDevice(w.bob)
			return w.o.Last().Full
		}, certif.ErrAuthorRevoked},

		// Timestamps.
		{"common timestamp equal to the last", func(t *testing.T, w *world) []byte {
			last := w.m.LastTimestamps()[certif.CommonTopic]
			return sign(w.alice, &certif.UserUpdateCertificate{Author: w.alice.ID, Timestamp: last, UserID: w.carol.User.ID, NewProfile: parsec.ProfileAdmin})
		}, certif.ErrTimestampNotIncreasing},
		{"user timestamp before the last", func(t *testing.T, w *world) []byte {
			w.o.Now = w.m.LastTimestamps()[certif.CommonTopic] - second - 1 // the next tick is just before
			w.o.NewUser(w.alice, "dave", parsec.ProfileStandard)
			return w.o.Log[len(w.o.Log)-2].Full
		}, certif.ErrTimestampNotIncreasing},
		{"own new device at the last common timestamp", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.UpdateProfile(w.alice, w.carol.User, parsec.ProfileAdmin))
			w.o.Now -= second // the next tick is the update's timestamp
			w.o.NewDevice(w.bob)
			return w.o.Last().Full
		}, certif.ErrTimestampNotIncreasing},
		{"realm timestamp equal to the last", func(t *testing.T, w *world) []byte {
			return sign(w.alice, &certif.RealmRoleCertificate{Author: w.alice.ID, Timestamp: w.o.Now, RealmID: w.realm, UserID: w.carol.User.ID, Role: parsec.RoleReader})
		}, certif.ErrTimestampNotIncreasing},

		// Bootstrap and root key.
		{"root signs a user after bootstrap", func(t *testing.T, w *world) []byte {
			w.o.Bootstrap("eve")
			return w.o.Log[len(w.o.Log)-2].Full
		}, certif.ErrRootAfterBootstrap},
		{"root signs a device after bootstrap", func(t *testing.T, w *world) []byte {
			label := "root-made"
			d := crypto.GenerateSigningKey()
			return certif.Sign(w.o.RootKey, &certif.DeviceCertificate{Timestamp: w.o.Tick(), UserID: w.alice.User.ID, DeviceID: parsec.NewDeviceID(),
				DeviceLabel: &label, VerifyKey: d.VerifyKey(), Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose})
		}, certif.ErrRootAfterBootstrap},
		{"first user not ADMIN", func(t *testing.T, w *world) []byte {
			o := certiftest.NewOrg()
			w.m = certif.NewMemory(o.RootVerifyKey(), false)
			u := crypto.GenerateUserKey()
			h, _ := parsec.NewHumanHandle("eve@example.com", "Eve")
			return certif.Sign(o.RootKey, &certif.UserCertificate{Timestamp: o.Tick(), UserID: parsec.NewUserID(), HumanHandle: &h,
				PublicKey: u.Public(), Algorithm: crypto.UserKeyAlgorithm, Profile: parsec.ProfileStandard})
		}, certif.ErrBootstrapNotAdmin},

		// Users.
		{"user created by a STANDARD user", func(t *testing.T, w *world) []byte {
			w.o.NewUser(w.bob, "dave", parsec.ProfileStandard)
			return w.o.Log[len(w.o.Log)-2].Full
		}, certif.ErrAuthorNotAdmin},
		{"user created by an admin demoted before", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.UpdateProfile(w.alice, w.carol.User, parsec.ProfileAdmin))
			w.add(t, w.o.UpdateProfile(w.alice, w.carol.User, parsec.ProfileStandard))
			w.o.NewUser(w.carol, "dave", parsec.ProfileStandard)
			return w.o.Log[len(w.o.Log)-2].Full
		}, certif.ErrAuthorNotAdmin},
		{"user ID already taken", func(t *testing.T, w *world) []byte {
			h, _ := parsec.NewHumanHandle("dave@example.com", "Dave")
			return sign(w.alice, &certif.UserCertificate{Author: &w.alice.ID, Timestamp: w.o.Tick(), UserID: w.bob.User.ID, HumanHandle: &h,
				PublicKey: crypto.GenerateUserKey().Public(), Algorithm: crypto.UserKeyAlgorithm, Profile: parsec.ProfileStandard})
		}, certif.ErrUserExists},

		// Devices.
		{"device ID already taken", func(t *testing.T, w *world) []byte {
			label := "again"
			return sign(w.bob, &certif.DeviceCertificate{Author: &w.bob.ID, Timestamp: w.o.Tick(), UserID: w.bob.User.ID, DeviceID: w.carol.ID,
				DeviceLabel: &label, VerifyKey: w.bob.Key.VerifyKey(), Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose})
		}, certif.ErrDeviceExists},
		{"device of an unknown user", func(t *testing.T, w *world) []byte {
			label := "nobody's"
			return sign(w.alice, &certif.DeviceCertificate{Author: &w.alice.ID, Timestamp: w.o.Tick(), UserID: parsec.NewUserID(), DeviceID: parsec.NewDeviceID(),
				DeviceLabel: &label, VerifyKey: w.bob.Key.VerifyKey(), Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose})
		}, certif.ErrUnknownUser},
		{"admin adds a device to another user later", func(t *testing.T, w *world) []byte {
			w.o.Tick()
			label := "planted"
			return sign(w.alice, &certif.DeviceCertificate{Author: &w.alice.ID, Timestamp: w.o.Tick(), UserID: w.bob.User.ID, DeviceID: parsec.NewDeviceID(),
				DeviceLabel: &label, VerifyKey: w.alice.Key.VerifyKey(), Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose})
		}, certif.ErrFirstDeviceMismatch},
		{"first device signed by another author", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.UpdateProfile(w.alice, w.carol.User, parsec.ProfileAdmin))
			w.o.NewUser(w.alice, "dave", parsec.ProfileStandard)
			user, dev := w.o.Log[len(w.o.Log)-2], w.o.Last()
			w.add(t, user.Full)
			c, _ := certif.Decode(dev.Full)
			d := c.(*certif.DeviceCertificate)
			d.Author = &w.carol.ID
			return sign(w.carol, d)
		}, certif.ErrFirstDeviceMismatch},
		{"second first device", func(t *testing.T, w *world) []byte {
			dave := w.o.NewUser(w.alice, "dave", parsec.ProfileStandard)
			w.add(t, w.o.Log[len(w.o.Log)-2].Full, w.o.Last().Full)
			label := "twin"
			return sign(w.alice, &certif.DeviceCertificate{Author: &w.alice.ID, Timestamp: w.o.Now, UserID: dave.User.ID, DeviceID: parsec.NewDeviceID(),
				DeviceLabel: &label, VerifyKey: w.alice.Key.VerifyKey(), Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose})
		}, certif.ErrFirstDeviceMismatch},

		// Profile changes.
		{"self profile change", func(t *testing.T, w *world) []byte {
			return w.o.UpdateProfile(w.alice, w.alice.User, parsec.ProfileStandard)
		}, certif.ErrSelfUpdate},
		{"profile change by a STANDARD user", func(t *testing.T, w *world) []byte {
			return w.o.UpdateProfile(w.bob, w.carol.User, parsec.ProfileAdmin)
		}, certif.ErrAuthorNotAdmin},
		{"profile change of an unknown user", func(t *testing.T, w *world) []byte {
			return w.o.UpdateProfile(w.alice, &certiftest.User{ID: parsec.NewUserID()}, parsec.ProfileAdmin)
		}, certif.ErrUnknownUser},
		{"profile change of a revoked user", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.Revoke(w.alice, w.carol.User))
			return w.o.UpdateProfile(w.alice, w.carol.User, parsec.ProfileAdmin)
		}, certif.ErrUserRevoked},
		{"profile unchanged", func(t *testing.T, w *world) []byte {
			return w.o.UpdateProfile(w.alice, w.bob.User, parsec.ProfileStandard)
		}, certif.ErrProfileUnchanged},

		// Revocations.
		{"self revocation", func(t *testing.T, w *world) []byte {
			return w.o.Revoke(w.alice, w.alice.User)
		}, certif.ErrSelfRevoke},
		{"revocation by a STANDARD user", func(t *testing.T, w *world) []byte {
			return w.o.Revoke(w.bob, w.carol.User)
		}, certif.ErrAuthorNotAdmin},
		{"revocation of an unknown user", func(t *testing.T, w *world) []byte {
			return w.o.Revoke(w.alice, &certiftest.User{ID: parsec.NewUserID()})
		}, certif.ErrUnknownUser},
		{"second revocation", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.Revoke(w.alice, w.carol.User))
			return w.o.Revoke(w.alice, w.carol.User)
		}, certif.ErrUserRevoked},

		// Realm roles.
		{"realm created for someone else", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.alice, parsec.NewVlobID(), w.bob.User, parsec.RoleOwner)
		}, certif.ErrRealmFirstNotSelfOwner},
		{"realm created with a role other than OWNER", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.alice, parsec.NewVlobID(), w.alice.User, parsec.RoleManager)
		}, certif.ErrRealmFirstNotSelfOwner},
		{"realm created by an OUTSIDER", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.mallory, parsec.NewVlobID(), w.mallory.User, parsec.RoleOwner)
		}, certif.ErrOutsiderRole},
		{"OUTSIDER made MANAGER", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.alice, w.realm, w.mallory.User, parsec.RoleManager)
		}, certif.ErrOutsiderRole},
		{"OUTSIDER at that time made OWNER", func(t *testing.T, w *world) []byte {
			before := w.o.Tick()
			w.add(t, w.o.UpdateProfile(w.alice, w.mallory.User, parsec.ProfileStandard))
			return sign(w.alice, &certif.RealmRoleCertificate{Author: w.alice.ID, Timestamp: before, RealmID: w.realm, UserID: w.mallory.User.ID, Role: parsec.RoleOwner})
		}, certif.ErrOutsiderRole},
		{"share by a user without role", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.carol, w.realm, w.alice.User, parsec.RoleNone)
		}, certif.ErrAuthorNoRole},
		{"share by a READER", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.mallory, w.realm, w.carol.User, parsec.RoleReader)
		}, certif.ErrRoleNotAllowed},
		{"MANAGER makes a MANAGER", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.bob, w.realm, w.carol.User, parsec.RoleManager)
		}, certif.ErrRoleNotAllowed},
		{"MANAGER unshares the OWNER", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.bob, w.realm, w.alice.User, parsec.RoleNone)
		}, certif.ErrRoleNotAllowed},
		{"role already granted", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.alice, w.realm, w.bob.User, parsec.RoleManager)
		}, certif.ErrRoleUnchanged},
		{"unshare a non-member", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.alice, w.realm, w.carol.User, parsec.RoleNone)
		}, certif.ErrRoleUnchanged},
		{"share with an unknown user", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.alice, w.realm, &certiftest.User{ID: parsec.NewUserID()}, parsec.RoleReader)
		}, certif.ErrUnknownUser},
		{"share with a user created later", func(t *testing.T, w *world) []byte {
			before := w.o.Tick()
			dave := w.o.NewUser(w.alice, "dave", parsec.ProfileStandard)
			w.add(t, w.o.Log[len(w.o.Log)-2].Full, w.o.Last().Full)
			return sign(w.alice, &certif.RealmRoleCertificate{Author: w.alice.ID, Timestamp: before, RealmID: w.realm, UserID: dave.User.ID, Role: parsec.RoleReader})
		}, certif.ErrUnknownUser},
		{"share with a revoked user", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.Revoke(w.alice, w.carol.User))
			return w.o.Share(w.alice, w.realm, w.carol.User, parsec.RoleReader)
		}, certif.ErrUserRevoked},
		{"self-promotion while an OWNER is active", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.bob, w.realm, w.bob.User, parsec.RoleOwner)
		}, certif.ErrSelfPromotion},
		{"self-promotion below an active MANAGER", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.Share(w.alice, w.realm, w.carol.User, parsec.RoleContributor))
			w.add(t, w.o.UpdateProfile(w.alice, w.carol.User, parsec.ProfileAdmin))
			w.add(t, w.o.Revoke(w.carol, w.alice.User))
			return w.o.Share(w.carol, w.realm, w.carol.User, parsec.RoleOwner) // bob is still MANAGER
		}, certif.ErrSelfPromotion},
		{"self-demotion", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.bob, w.realm, w.bob.User, parsec.RoleReader)
		}, certif.ErrSelfPromotion},
		{"self-unshare", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.bob, w.realm, w.bob.User, parsec.RoleNone)
		}, certif.ErrSelfPromotion},
		{"self-promotion of an OWNER", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.alice, w.realm, w.alice.User, parsec.RoleOwner)
		}, certif.ErrRoleUnchanged},
		{"self-promotion without role", func(t *testing.T, w *world) []byte {
			return w.o.Share(w.carol, w.realm, w.carol.User, parsec.RoleOwner)
		}, certif.ErrAuthorNoRole},
		{"self-promotion of an OUTSIDER", func(t *testing.T, w *world) []byte {
			w.add(t, w.o.Revoke(w.alice, w.bob.User))
			w.add(t, w.o.Share(w.alice, w.realm, w.bob.User, parsec.RoleNone))
			w.add(t, w.o.UpdateProfile(w.alice, w.carol.User, parsec.ProfileAdmin))
			w.add(t, w.o.Revoke(w.carol, w.alice.User))
			return w.o.Share(w.mallory, w.realm, w.mallory.User, parsec.RoleOwner)
		}, certif.ErrOutsiderRole},

		// Names, key rotations, archiving.
		{"rotation by a MANAGER", func(t *testing.T, w *world) []byte {
			return w.o.RotateKey(w.bob, w.realm)
		}, certif.ErrNotOwner},
		{"rename by a READER", func(t *testing.T, w *world) []byte {
			return w.o.Rename(w.mallory, w.realm, "mine")
		}, certif.ErrNotOwner},
		{"archiving by a non-member", func(t *testing.T, w *world) []byte {
			return w.o.Archive(w.carol, w.realm, certif.ArchivingArchived, 0)
		}, certif.ErrNotOwner},
		{"rotation of an unknown realm", func(t *testing.T, w *world) []byte {
			return w.o.RotateKey(w.alice, parsec.NewVlobID())
		}, certif.ErrUnknownRealm},
		{"archiving of an unknown realm", func(t *testing.T, w *world) []byte {
			return w.o.Archive(w.alice, parsec.NewVlobID(), certif.ArchivingArchived, 0)
		}, certif.ErrUnknownRealm},
		{"rotation timestamp not increasing", func(t *testing.T, w *world) []byte {
			w.o.Now -= second
			return w.o.RotateKey(w.alice, w.realm)
		}, certif.ErrTimestampNotIncreasing},
		{"rotation skipping an index", func(t *testing.T, w *world) []byte {
			return sign(w.alice, &certif.RealmKeyRotationCertificate{Author: w.alice.ID, Timestamp: w.o.Tick(), RealmID: w.realm, KeyIndex: 3,
				EncryptionAlgorithm: certif.EncryptionAlgorithm, HashAlgorithm: certif.HashAlgorithm, KeyCanary: []byte{1}})
		}, certif.ErrKeyIndex},
		{"rotation repeating an index", func(t *testing.T, w *world) []byte {
			return sign(w.alice, &certif.RealmKeyRotationCertificate{Author: w.alice.ID, Timestamp: w.o.Tick(), RealmID: w.realm, KeyIndex: 1,
				EncryptionAlgorithm: certif.EncryptionAlgorithm, HashAlgorithm: certif.HashAlgorithm, KeyCanary: []byte{1}})
		}, certif.ErrKeyIndex},
		{"name with a future key", func(t *testing.T, w *world) []byte {
			return sign(w.alice, &certif.RealmNameCertificate{Author: w.alice.ID, Timestamp: w.o.Tick(), RealmID: w.realm, KeyIndex: 2, EncryptedName: []byte("x")})
		}, certif.ErrKeyIndex},
		{"name before the first key", func(t *testing.T, w *world) []byte {
			realm := w.o.NewRealm(w.alice)
			w.add(t, w.o.Last().Full)
			return sign(w.alice, &certif.RealmNameCertificate{Author: w.alice.ID, Timestamp: w.o.Tick(), RealmID: realm, KeyIndex: 1, EncryptedName: []byte("x")})
		}, certif.ErrKeyIndex},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			raw := tc.build(t, w)
			before := w.m.LastTimestamps()
			_, err := w.m.Add(raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Add = %v, want %v", err, tc.want)
			}
			t.Log(err)
			if k := parsec.KindOf(err); k != parsec.Invalid {
				t.Errorf("error kind = %v, want invalid", k)
			}
			c, derr := certif.Decode(raw)
			if derr != nil {
				t.Fatal(derr)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "invalid "+strings.ReplaceAll(c.Kind(), "_", " ")+" of "+c.When().String()+": ") {
				t.Errorf("message %q does not start with the kind and timestamp", msg)
			}
			if after := w.m.LastTimestamps(); len(after) != len(before) || after[c.Topic()] != before[c.Topic()] {
				t.Errorf("rejected certificate changed the last timestamps: %v -> %v", before, after)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name  string
		build func(t *testing.T, w *world) [][]byte // one batch, valid as a whole
	}{
		{"rules apply as of the certificate's time", func(t *testing.T, w *world) [][]byte {
			// bob shares, then is revoked; the batch holds the revocation before the share
			// (common topic first), yet the share predates it.
			share := w.o.Share(w.bob, w.realm, w.carol.User, parsec.RoleReader)
			return [][]byte{w.o.Revoke(w.alice, w.bob.User), share}
		}},
		{"self-promotion above a non-revoked OUTSIDER owner", func(t *testing.T, w *world) [][]byte {
			return [][]byte{
				w.o.UpdateProfile(w.alice, w.carol.User, parsec.ProfileAdmin),
				w.o.UpdateProfile(w.carol, w.alice.User, parsec.ProfileOutsider), // an External OWNER is tolerated
				w.o.Share(w.bob, w.realm, w.bob.User, parsec.RoleOwner),
			}
		}},
		{"self-promotion with revoked owner and managers", func(t *testing.T, w *world) [][]byte {
			return [][]byte{
				w.o.Share(w.alice, w.realm, w.carol.User, parsec.RoleContributor),
				w.o.UpdateProfile(w.alice, w.carol.User, parsec.ProfileAdmin),
				w.o.Revoke(w.alice, w.bob.User),
				w.o.Revoke(w.carol, w.alice.User),
				w.o.Share(w.carol, w.realm, w.carol.User, parsec.RoleOwner),
			}
		}},
		{"OWNER demotes another OWNER", func(t *testing.T, w *world) [][]byte {
			return [][]byte{
				w.o.Share(w.alice, w.realm, w.carol.User, parsec.RoleOwner),
				w.o.Share(w.carol, w.realm, w.alice.User, parsec.RoleReader),
			}
		}},
		{"MANAGER manages readers and contributors", func(t *testing.T, w *world) [][]byte {
			return [][]byte{
				w.o.Share(w.bob, w.realm, w.carol.User, parsec.RoleContributor),
				w.o.Share(w.bob, w.realm, w.carol.User, parsec.RoleReader),
				w.o.Share(w.bob, w.realm, w.mallory.User, parsec.RoleNone),
			}
		}},
		{"unshare a revoked user", func(t *testing.T, w *world) [][]byte {
			return [][]byte{w.o.Revoke(w.alice, w.bob.User), w.o.Share(w.alice, w.realm, w.bob.User, parsec.RoleNone)}
		}},
		{"name with an older key and repeated archiving", func(t *testing.T, w *world) [][]byte {
			rot := w.o.RotateKey(w.alice, w.realm)
			name := sign(w.alice, &certif.RealmNameCertificate{Author: w.alice.ID, Timestamp: w.o.Tick(), RealmID: w.realm, KeyIndex: 1, EncryptedName: []byte("old")})
			return [][]byte{rot, name,
				w.o.Archive(w.alice, w.realm, certif.ArchivingArchived, 0),
				w.o.Archive(w.alice, w.realm, certif.ArchivingArchived, 0),
			}
		}},
		{"profile changes to and from OUTSIDER", func(t *testing.T, w *world) [][]byte {
			return [][]byte{
				w.o.UpdateProfile(w.alice, w.mallory.User, parsec.ProfileAdmin),
				w.o.UpdateProfile(w.mallory, w.bob.User, parsec.ProfileOutsider),
			}
		}},
		{"new user and device by a promoted admin", func(t *testing.T, w *world) [][]byte {
			up := w.o.UpdateProfile(w.alice, w.bob.User, parsec.ProfileAdmin)
			w.o.NewUser(w.bob, "dave", parsec.ProfileOutsider)
			return [][]byte{up, w.o.Log[len(w.o.Log)-2].Full, w.o.Last().Full}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if _, err := w.m.AddBatch(tc.build(t, w)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
