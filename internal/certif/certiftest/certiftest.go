// Package certiftest builds signed certificate chains for tests of the certif package, the
// server and the client.
//
// An Org holds a root key and a clock, and signs what it is asked, valid or not: the
// operations mirror what real clients do (bootstrap, create a user with its first device,
// add a device, change a profile, revoke, create and share a realm, rotate its key, rename,
// archive), each one tick (one second) after the previous, and every certificate is kept in
// Log in both flavours, in order. Tests that need an invalid certificate write it by hand and
// sign it with certif.Sign and a Device's Key.
//
// Only tests may import this package.
package certiftest

import (
	"fmt"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Start is the timestamp of the first certificate of a new Org.
var Start = parsec.FromTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

// Org is an organization under construction.
type Org struct {
	RootKey crypto.SigningKey
	Now     parsec.DateTime // timestamp of the last certificate; Tick moves it on
	Log     []Signed        // every certificate signed, in order

	keyIndex map[parsec.VlobID]uint64
}

// Signed is one signed certificate in both flavours. Redacted equals Full for the kinds
// that have no redacted flavour.
type Signed struct {
	Full, Redacted []byte
}

// User is a user of an Org, with its secret key.
type User struct {
	ID      parsec.UserID
	Handle  parsec.HumanHandle
	Key     crypto.UserPrivateKey
	Profile parsec.UserProfile // current, as far as the Org's operations know
	Devices []*Device
}

// Device is a device of an Org, with its signing key.
type Device struct {
	ID    parsec.DeviceID
	User  *User
	Label string
	Key   crypto.SigningKey
}

// NewOrg returns an organization with a fresh root key and no certificate.
func NewOrg() *Org {
	return &Org{RootKey: crypto.GenerateSigningKey(), Now: Start - parsec.DateTime(time.Second/time.Microsecond), keyIndex: map[parsec.VlobID]uint64{}}
}

// RootVerifyKey is what clients and the server are configured with.
func (o *Org) RootVerifyKey() crypto.VerifyKey { return o.RootKey.VerifyKey() }

// Tick moves the clock one second on and returns the new time.
func (o *Org) Tick() parsec.DateTime {
	o.Now = o.Now.Add(time.Second)
	return o.Now
}

// Full returns every certificate in the full flavour, in order.
func (o *Org) Full() [][]byte { return o.flavour(false) }

// Redacted returns every certificate in the redacted flavour, in order.
func (o *Org) Redacted() [][]byte { return o.flavour(true) }

func (o *Org) flavour(redacted bool) [][]byte {
	out := make([][]byte, len(o.Log))
	for i, s := range o.Log {
		out[i] = s.Full
		if redacted {
			out[i] = s.Redacted
		}
	}
	return out
}

// Last returns the last certificate signed.
func (o *Org) Last() Signed { return o.Log[len(o.Log)-1] }

// Bootstrap creates the first user, ADMIN, and its first device, both signed by the root key.
func (o *Org) Bootstrap(name string) *Device {
	return o.newUser(nil, name, parsec.ProfileAdmin)
}

// NewUser makes author create a user with the given profile and its first device.
func (o *Org) NewUser(author *Device, name string, profile parsec.UserProfile) *Device {
	return o.newUser(author, name, profile)
}

func (o *Org) newUser(author *Device, name string, profile parsec.UserProfile) *Device {
	h, err := parsec.NewHumanHandle(name+"@example.com", name)
	if err != nil {
		panic(fmt.Sprintf("certiftest: bad user name %q: %v", name, err))
	}
	u := &User{ID: parsec.NewUserID(), Handle: h, Key: crypto.GenerateUserKey(), Profile: profile}
	t := o.Tick()
	uc := &certif.UserCertificate{
		Author: o.authorID(author), Timestamp: t, UserID: u.ID, HumanHandle: &h,
		PublicKey: u.Key.Public(), Algorithm: crypto.UserKeyAlgorithm, Profile: profile,
	}
	o.signBoth(author, uc, func() certif.Certificate { r := *uc; r.HumanHandle = nil; return &r })
	return o.addDevice(author, u, t)
}

// NewDevice makes author create a new device for its own user.
func (o *Org) NewDevice(author *Device) *Device {
	return o.addDevice(author, author.User, o.Tick())
}

func (o *Org) addDevice(author *Device, u *User, t parsec.DateTime) *Device {
	d := &Device{
		ID: parsec.NewDeviceID(), User: u, Key: crypto.GenerateSigningKey(),
		Label: fmt.Sprintf("%s-dev%d", u.Handle.Label, len(u.Devices)+1),
	}
	u.Devices = append(u.Devices, d)
	label := d.Label
	dc := &certif.DeviceCertificate{
		Author: o.authorID(author), Timestamp: t, UserID: u.ID, DeviceID: d.ID, DeviceLabel: &label,
		VerifyKey: d.Key.VerifyKey(), Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose,
	}
	o.signBoth(author, dc, func() certif.Certificate { r := *dc; r.DeviceLabel = nil; return &r })
	return d
}

// UpdateProfile makes author change target's profile.
func (o *Org) UpdateProfile(author *Device, target *User, profile parsec.UserProfile) []byte {
	target.Profile = profile
	return o.Sign(author, &certif.UserUpdateCertificate{Author: author.ID, Timestamp: o.Tick(), UserID: target.ID, NewProfile: profile})
}

// Revoke makes author revoke target.
func (o *Org) Revoke(author *Device, target *User) []byte {
	return o.Sign(author, &certif.RevokedUserCertificate{Author: author.ID, Timestamp: o.Tick(), UserID: target.ID})
}

// NewRealm makes author create a realm (make itself its OWNER). The realm has no key yet.
func (o *Org) NewRealm(author *Device) parsec.VlobID {
	id := parsec.NewVlobID()
	o.Share(author, id, author.User, parsec.RoleOwner)
	return id
}

// Share makes author set target's role in a realm (parsec.RoleNone unshares).
func (o *Org) Share(author *Device, realm parsec.VlobID, target *User, role parsec.RealmRole) []byte {
	return o.Sign(author, &certif.RealmRoleCertificate{Author: author.ID, Timestamp: o.Tick(), RealmID: realm, UserID: target.ID, Role: role})
}

// RotateKey makes author introduce the realm's next key. The canary is a placeholder.
func (o *Org) RotateKey(author *Device, realm parsec.VlobID) []byte {
	o.keyIndex[realm]++
	return o.Sign(author, &certif.RealmKeyRotationCertificate{
		Author: author.ID, Timestamp: o.Tick(), RealmID: realm, KeyIndex: o.keyIndex[realm],
		EncryptionAlgorithm: certif.EncryptionAlgorithm, HashAlgorithm: certif.HashAlgorithm,
		KeyCanary: []byte("canary"),
	})
}

// Rename makes author name a realm, with the realm's last key as the Org counts them.
// The "encrypted" name is the name itself.
func (o *Org) Rename(author *Device, realm parsec.VlobID, name string) []byte {
	return o.Sign(author, &certif.RealmNameCertificate{
		Author: author.ID, Timestamp: o.Tick(), RealmID: realm, KeyIndex: o.keyIndex[realm], EncryptedName: []byte(name),
	})
}

// Archive makes author set a realm's archiving configuration; deletion is used with
// certif.ArchivingDeletionPlanned only.
func (o *Org) Archive(author *Device, realm parsec.VlobID, configuration string, deletion parsec.DateTime) []byte {
	return o.Sign(author, &certif.RealmArchivingCertificate{
		Author: author.ID, Timestamp: o.Tick(), RealmID: realm, Configuration: configuration, DeletionDate: deletion,
	})
}

// Sign signs c with author's key (the root key when author is nil), appends it to Log and
// returns it. It sets neither the author field nor the timestamp.
func (o *Org) Sign(author *Device, c certif.Certificate) []byte {
	raw := certif.Sign(o.key(author), c)
	o.Log = append(o.Log, Signed{Full: raw, Redacted: raw})
	return raw
}

func (o *Org) signBoth(author *Device, full certif.Certificate, redacted func() certif.Certificate) {
	f := certif.Sign(o.key(author), full)
	r := certif.Sign(o.key(author), redacted())
	o.Log = append(o.Log, Signed{Full: f, Redacted: r})
}

func (o *Org) key(author *Device) crypto.SigningKey {
	if author == nil {
		return o.RootKey
	}
	return author.Key
}

func (o *Org) authorID(author *Device) *parsec.DeviceID {
	if author == nil {
		return nil
	}
	id := author.ID
	return &id
}
