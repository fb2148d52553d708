package certif_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/certif/certiftest"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

var cmpOpts = cmp.Options{cmp.Comparer(func(a, b crypto.UserPublicKey) bool { return a.Equal(b) })}

// sample returns one valid certificate of every kind, unsigned.
func sample() []certif.Certificate {
	dev, realm, user, other := parsec.NewDeviceID(), parsec.NewVlobID(), parsec.NewUserID(), parsec.NewUserID()
	h, _ := parsec.NewHumanHandle("alice@example.com", "Alice")
	label := "laptop"
	t := certiftest.Start
	return []certif.Certificate{
		&certif.UserCertificate{Timestamp: t, UserID: user, HumanHandle: &h, PublicKey: crypto.GenerateUserKey().Public(),
			Algorithm: crypto.UserKeyAlgorithm, Profile: parsec.ProfileAdmin},
		&certif.UserCertificate{Author: &dev, Timestamp: t, UserID: user, PublicKey: crypto.GenerateUserKey().Public(),
			Algorithm: crypto.UserKeyAlgorithm, Profile: parsec.ProfileOutsider},
		&certif.DeviceCertificate{Author: &dev, Timestamp: t, UserID: user, DeviceID: parsec.NewDeviceID(), DeviceLabel: &label,
			VerifyKey: crypto.GenerateSigningKey().VerifyKey(), Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose},
		&certif.DeviceCertificate{Timestamp: t, UserID: user, DeviceID: parsec.NewDeviceID(),
			VerifyKey: crypto.GenerateSigningKey().VerifyKey(), Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose},
		&certif.UserUpdateCertificate{Author: dev, Timestamp: t, UserID: user, NewProfile: parsec.ProfileStandard},
		&certif.RevokedUserCertificate{Author: dev, Timestamp: t, UserID: user},
		&certif.RealmRoleCertificate{Author: dev, Timestamp: t, RealmID: realm, UserID: user, Role: parsec.RoleReader},
		&certif.RealmRoleCertificate{Author: dev, Timestamp: t, RealmID: realm, UserID: user},
		&certif.RealmNameCertificate{Author: dev, Timestamp: t, RealmID: realm, KeyIndex: 1, EncryptedName: []byte{1}},
		&certif.RealmKeyRotationCertificate{Author: dev, Timestamp: t, RealmID: realm, KeyIndex: 1,
			EncryptionAlgorithm: certif.EncryptionAlgorithm, HashAlgorithm: certif.HashAlgorithm, KeyCanary: []byte{1}},
		&certif.RealmArchivingCertificate{Author: dev, Timestamp: t, RealmID: realm, Configuration: certif.ArchivingArchived},
		&certif.RealmArchivingCertificate{Author: dev, Timestamp: t, RealmID: realm, Configuration: certif.ArchivingDeletionPlanned, DeletionDate: t + 1},
		&certif.RecoverySetupCertificate{Author: dev, Timestamp: t, UserID: user, Threshold: 1, Recipients: []certif.RecoveryRecipient{{User: other, Shares: 2}}},
		&certif.RecoveryShareCertificate{Author: dev, Timestamp: t, UserID: user, Recipient: other, CipheredShare: []byte{1}},
		&certif.RecoveryDeletionCertificate{Author: dev, Timestamp: t + 1, UserID: user, SetupTimestamp: t, Recipients: []parsec.UserID{other}},
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key := crypto.GenerateSigningKey()
	for _, c := range sample() {
		t.Run(c.Kind(), func(t *testing.T) {
			raw := certif.Sign(key, c)
			got, err := certif.Verify(raw, key.VerifyKey())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c, got, cmpOpts); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if !bytes.Equal(codec.MustMarshal(got), certif.Body(raw)) {
				t.Error("re-encoding differs from the signed body")
			}
			var head struct {
				Type string `cbor:"type"`
			}
			if err := codec.UnmarshalLenient(certif.Body(raw), &head); err != nil || head.Type != c.Kind() {
				t.Errorf("type field = %q, %v; want %q", head.Type, err, c.Kind())
			}
		})
	}
}

// mutate decodes the body of a sample certificate into a generic map, lets f change it and
// re-encodes it (deterministically) with a fresh signature.
func mutate(t *testing.T, key crypto.SigningKey, c certif.Certificate, f func(map[string]any)) []byte {
	t.Helper()
	raw := certif.Sign(key, c)
	var m map[string]any
	if err := codec.UnmarshalLenient(certif.Body(raw), &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	body := codec.MustMarshal(m)
	return append(key.Sign("parsec/1/"+c.Kind(), body), body...)
}

func TestDecodeRejects(t *testing.T) {
	key := crypto.GenerateSigningKey()
	s := sample()
	user, device, update, role, name, rotation, archiving := s[0], s[2], s[4], s[6], s[8], s[9], s[10]
	set := func(k string, v any) func(map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(map[string]any) { return func(m map[string]any) { delete(m, k) } }
	valid := certif.Sign(key, user)

	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"empty", nil, certif.ErrMalformed},
		{"signature only", valid[:crypto.SignatureSize], certif.ErrMalformed},
		{"not CBOR", append(bytes.Clone(valid[:crypto.SignatureSize]), 0xff, 0x00), certif.ErrMalformed},
		{"trailing byte", append(bytes.Clone(valid), 0), certif.ErrMalformed},
		{"unknown type", mutate(t, key, user, set("type", "sequester_authority_certificate")), certif.ErrMalformed},
		{"unknown field", mutate(t, key, user, set("evil", 1)), certif.ErrMalformed},
		{"missing field", mutate(t, key, user, del("human_handle")), certif.ErrMalformed},
		{"explicit empty role", mutate(t, key, role, set("role", "")), certif.ErrMalformed},
		{"null role", mutate(t, key, role, set("role", nil)), certif.ErrMalformed},
		{"short user ID", mutate(t, key, user, set("user_id", []byte{1, 2, 3})), certif.ErrMalformed},
		{"bad public key", mutate(t, key, user, set("public_key", []byte{1, 2, 3})), certif.ErrMalformed},
		{"zero user ID", mutate(t, key, user, set("user_id", make([]byte, 16))), certif.ErrInvalidField},
		{"zero author", mutate(t, key, update, set("author", make([]byte, 16))), certif.ErrInvalidField},
		{"zero timestamp", mutate(t, key, update, set("timestamp", 0)), certif.ErrInvalidField},
		{"bad profile", mutate(t, key, user, set("profile", "BOSS")), certif.ErrInvalidField},
		{"bad new profile", mutate(t, key, update, set("new_profile", "admin")), certif.ErrInvalidField},
		{"bad user key algorithm", mutate(t, key, user, set("algorithm", "X25519_XSALSA20_POLY1305")), certif.ErrInvalidField},
		{"bad human handle", mutate(t, key, user, set("human_handle", map[string]any{"email": "Alice@Example.com", "label": "Alice"})), certif.ErrInvalidField},
		{"redacted email in handle", mutate(t, key, user, set("human_handle", map[string]any{"email": "x@redacted.invalid", "label": "x"})), certif.ErrInvalidField},
		{"bad device label", mutate(t, key, device, set("device_label", "")), certif.ErrInvalidField},
		{"bad device algorithm", mutate(t, key, device, set("algorithm", "RSA")), certif.ErrInvalidField},
		{"bad purpose", mutate(t, key, device, set("purpose", "WEB")), certif.ErrInvalidField},
		{"zero verify key", mutate(t, key, device, set("verify_key", make([]byte, 32))), certif.ErrInvalidField},
		{"zero device ID", mutate(t, key, device, set("device_id", make([]byte, 16))), certif.ErrInvalidField},
		{"bad role", mutate(t, key, role, set("role", "KING")), certif.ErrInvalidField},
		{"zero realm ID", mutate(t, key, role, set("realm_id", make([]byte, 16))), certif.ErrInvalidField},
		{"name key index 0", mutate(t, key, name, set("key_index", 0)), certif.ErrInvalidField},
		{"empty name", mutate(t, key, name, set("encrypted_name", []byte{})), certif.ErrInvalidField},
		{"rotation key index 0", mutate(t, key, rotation, set("key_index", 0)), certif.ErrInvalidField},
		{"bad encryption algorithm", mutate(t, key, rotation, set("encryption_algorithm", "BLAKE2_XSALSA20_POLY1305")), certif.ErrInvalidField},
		{"bad hash algorithm", mutate(t, key, rotation, set("hash_algorithm", "MD5")), certif.ErrInvalidField},
		{"empty canary", mutate(t, key, rotation, set("key_canary", []byte{})), certif.ErrInvalidField},
		{"bad configuration", mutate(t, key, archiving, set("configuration", "GONE")), certif.ErrInvalidField},
		{"deletion date when archived", mutate(t, key, archiving, set("deletion_date", certiftest.Start+5)), certif.ErrInvalidField},
		{"deletion planned without date", mutate(t, key, archiving, set("configuration", certif.ArchivingDeletionPlanned)), certif.ErrInvalidField},
		{"deletion date in the past", mutate(t, key, archiving, func(m map[string]any) {
			m["configuration"] = certif.ArchivingDeletionPlanned
			m["deletion_date"] = certiftest.Start - 1
		}), certif.ErrInvalidField},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := certif.Decode(tc.raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, %v; want %v", c, err, tc.want)
			}
			if k := parsec.KindOf(err); k != parsec.Invalid {
				t.Errorf("error kind = %v, want invalid", k)
			}
		})
	}
}

func TestTampering(t *testing.T) {
	key := crypto.GenerateSigningKey()
	c := sample()[0].(*certif.UserCertificate)
	raw := certif.Sign(key, c)
	body := certif.Body(raw)

	flipSig := bytes.Clone(raw)
	flipSig[3] ^= 1
	flipBody := bytes.Clone(raw)
	i := crypto.SignatureSize + bytes.Index(body, c.UserID[:])
	flipBody[i] ^= 1
	// The same value encoded with a map header in two bytes instead of one, and signed.
	nonCanonical := append([]byte{0xb8, body[0] & 0x1f}, body[1:]...)
	nonCanonical = append(key.Sign("parsec/1/user_certificate", nonCanonical), nonCanonical...)
	otherDomain := append(key.Sign("parsec/1/device_certificate", body), body...)
	noDomain := append(key.Sign("", body), body...)
	otherKey := certif.Sign(crypto.GenerateSigningKey(), c)

	tests := []struct {
		name string
		raw  []byte
		want error
	}{
		{"signature byte flipped", flipSig, certif.ErrBadSignature},
		{"body byte flipped", flipBody, certif.ErrBadSignature},
		{"non-canonical body", nonCanonical, certif.ErrMalformed},
		{"signed in another domain", otherDomain, certif.ErrBadSignature},
		{"signed in the empty domain", noDomain, certif.ErrBadSignature},
		{"signed by another key", otherKey, certif.ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := certif.Verify(tc.raw, key.VerifyKey()); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := certif.Verify(raw, key.VerifyKey()); err != nil {
		t.Fatalf("untouched certificate: %v", err)
	}
}

func TestCheckRedactedPair(t *testing.T) {
	o := certiftest.NewOrg()
	alice := o.Bootstrap("alice")
	bob := o.NewUser(alice, "bob", parsec.ProfileStandard)
	log := o.Log
	userPair, devicePair := log[2], log[3] // bob's user and device certificates
	other := o.Log[0]                      // alice's user certificate

	resign := func(s certiftest.Signed, f func(certif.Certificate)) []byte {
		c, err := certif.Decode(s.Redacted)
		if err != nil {
			t.Fatal(err)
		}
		f(c)
		return certif.Sign(alice.Key, c)
	}
	user := func(f func(*certif.UserCertificate)) []byte {
		return resign(userPair, func(c certif.Certificate) { f(c.(*certif.UserCertificate)) })
	}
	device := func(f func(*certif.DeviceCertificate)) []byte {
		return resign(devicePair, func(c certif.Certificate) { f(c.(*certif.DeviceCertificate)) })
	}
	rotation := o.RotateKey(bob, o.NewRealm(bob))

	tests := []struct {
		name           string
		full, redacted []byte
		want           error // nil: accepted
	}{
		{"user", userPair.Full, userPair.Redacted, nil},
		{"device", devicePair.Full, devicePair.Redacted, nil},
		{"user redacted not redacted", userPair.Full, userPair.Full, certif.ErrRedactedMismatch},
		{"device redacted not redacted", devicePair.Full, devicePair.Full, certif.ErrRedactedMismatch},
		{"full user redacted", userPair.Redacted, userPair.Redacted, certif.ErrRedactedMismatch},
		{"full device redacted", devicePair.Redacted, devicePair.Redacted, certif.ErrRedactedMismatch},
		{"different kinds", userPair.Full, devicePair.Redacted, certif.ErrRedactedMismatch},
		{"another user", userPair.Full, other.Redacted, certif.ErrRedactedMismatch},
		{"no redacted flavour", rotation, rotation, certif.ErrRedactedMismatch},
		{"user timestamp", userPair.Full, user(func(c *certif.UserCertificate) { c.Timestamp++ }), certif.ErrRedactedMismatch},
		{"user author", userPair.Full, user(func(c *certif.UserCertificate) { c.Author = &bob.ID }), certif.ErrRedactedMismatch},
		{"user root author", userPair.Full, user(func(c *certif.UserCertificate) { c.Author = nil }), certif.ErrRedactedMismatch},
		{"user ID", userPair.Full, user(func(c *certif.UserCertificate) { c.UserID = parsec.NewUserID() }), certif.ErrRedactedMismatch},
		{"user profile", userPair.Full, user(func(c *certif.UserCertificate) { c.Profile = parsec.ProfileAdmin }), certif.ErrRedactedMismatch},
		{"user public key", userPair.Full, user(func(c *certif.UserCertificate) { c.PublicKey = crypto.GenerateUserKey().Public() }), certif.ErrRedactedMismatch},
		{"device timestamp", devicePair.Full, device(func(c *certif.DeviceCertificate) { c.Timestamp-- }), certif.ErrRedactedMismatch},
		{"device author", devicePair.Full, device(func(c *certif.DeviceCertificate) { c.Author = &bob.ID }), certif.ErrRedactedMismatch},
		{"device ID", devicePair.Full, device(func(c *certif.DeviceCertificate) { c.DeviceID = parsec.NewDeviceID() }), certif.ErrRedactedMismatch},
		{"device user", devicePair.Full, device(func(c *certif.DeviceCertificate) { c.UserID = alice.User.ID }), certif.ErrRedactedMismatch},
		{"device verify key", devicePair.Full, device(func(c *certif.DeviceCertificate) { c.VerifyKey = alice.Key.VerifyKey() }), certif.ErrRedactedMismatch},
		{"malformed redacted", userPair.Full, userPair.Redacted[:80], certif.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := certif.CheckRedactedPair(tc.full, tc.redacted)
			if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
				t.Fatalf("CheckRedactedPair = %v, want %v", err, tc.want)
			}
		})
	}

	t.Run("message names the field", func(t *testing.T) {
		err := certif.CheckRedactedPair(userPair.Full, user(func(c *certif.UserCertificate) { c.Profile = parsec.ProfileAdmin }))
		if err == nil || !strings.Contains(err.Error(), `"profile"`) {
			t.Fatalf("error %q does not name the field", err)
		}
	})
}
