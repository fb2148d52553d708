package client

import (
	"bytes"
	"testing"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// FuzzStepPayloads feeds arbitrary bytes, as a lying server or a hostile peer could send
// them, to every decoder of the invitation exchange: the payloads of steps 0 to 3, the
// claimer's request and the greeter's confirmation (after decryption, and as ciphertexts),
// then to what each side does next with the decoded values. Nothing may panic; a request
// that decodes encodes back to itself. The seeds are real encodings.
func FuzzStepPayloads(f *testing.F) {
	greeter := crypto.NewInviteGreeter()
	gx, ek := greeter.PublicKeys()
	claimer := crypto.NewInviteClaimer()
	ct, secrets, err := claimer.Encapsulate(gx, ek)
	if err != nil {
		f.Fatal(err)
	}
	nonce := crypto.NewInviteNonce()
	channel := secrets.ChannelKey()
	handle, err := parsec.NewHumanHandle("zoe@example.com", "Zoé")
	if err != nil {
		f.Fatal(err)
	}
	userKey := crypto.GenerateUserKey()
	root := crypto.GenerateSigningKey().VerifyKey()
	req := UserRequest{HumanHandle: handle, DeviceLabel: "phone", PublicKey: userKey.Public(), VerifyKey: crypto.GenerateSigningKey().VerifyKey()}
	userConf := confirmation{UserID: parsec.NewUserID(), DeviceID: parsec.NewDeviceID(), DeviceLabel: "phone", HumanHandle: handle,
		Profile: parsec.ProfileStandard, RootVerifyKey: root, OrganizationID: "Acme"}
	deviceConf := userConf
	deviceConf.Profile, deviceConf.PrivateKey = parsec.ProfileAdmin, userKey.Bytes()

	for _, seed := range [][]byte{
		codec.MustMarshal(greeterStep0{X25519: gx, MLKEM: ek}),
		codec.MustMarshal(claimerStep0{X25519: claimer.PublicKey()}),
		codec.MustMarshal(claimerStep1{HashedNonce: crypto.HashNonce(nonce), MLKEM: ct}),
		codec.MustMarshal(nonceStep{Nonce: nonce}),
		req.encode(true),
		req.encode(false),
		codec.MustMarshal(userConf),
		codec.MustMarshal(deviceConf),
		codec.MustMarshal(confirmation{Refused: "organization Acme has reached its limit of 1 active users"}),
		channel.Encrypt(req.encode(true), []byte(aadClaimerPayload)),
		channel.Encrypt(codec.MustMarshal(deviceConf), []byte(aadGreeterPayload)),
		nil,
		{0xa0},       // empty map
		{0xf6},       // null
		{0x41, 0x00}, // a byte string
	} {
		f.Add(seed)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		// Step 0, as the claimer receives it: it encapsulates to the greeter's keys.
		var g0 greeterStep0
		if decodeStep(data, &g0) == nil {
			if ct, s, err := crypto.NewInviteClaimer().Encapsulate(g0.X25519, g0.MLKEM); err == nil && (len(ct) == 0 || s == nil) {
				t.Errorf("Encapsulate accepted %x / %x without a ciphertext or secrets", g0.X25519, g0.MLKEM)
			}
		}
		// Steps 0 and 1, as the greeter receives them: it decapsulates.
		var c0 claimerStep0
		if decodeStep(data, &c0) == nil {
			if s, err := greeter.Decapsulate(c0.X25519, ct); err == nil && s == nil {
				t.Error("Decapsulate accepted a key without secrets")
			}
		}
		var c1 claimerStep1
		if decodeStep(data, &c1) == nil {
			if s, err := greeter.Decapsulate(claimer.PublicKey(), c1.MLKEM); err == nil {
				s.ChannelKey()
			}
			_ = crypto.HashNonce(nonce) == c1.HashedNonce
		}
		// Steps 2 and 3: the nonces, checked then turned into codes.
		var n nonceStep
		if decodeStep(data, &n) == nil {
			claimerCode, greeterCode := secrets.SAS(n.Nonce, nonce)
			for _, c := range []crypto.SASCode{claimerCode, greeterCode} {
				if _, err := crypto.ParseSASCode(string(c)); err != nil {
					t.Errorf("code %q from nonce %x: %v", c, n.Nonce, err)
				}
			}
		}
		// Steps 6 and 7 come encrypted: only genuine ciphertexts open.
		for _, aad := range []string{aadClaimerPayload, aadGreeterPayload} {
			if plain, err := channel.Decrypt(data, []byte(aad)); err == nil {
				checkRequest(t, plain)
				checkConfirmation(t, plain)
			}
		}
		// And what a greeter or a claimer could have encrypted.
		checkRequest(t, data)
		checkConfirmation(t, data)
	})
}

// checkRequest decodes a claimer's decrypted request as both kinds of greeter would, and
// checks what they check.
func checkRequest(t *testing.T, plain []byte) {
	for _, user := range []bool{true, false} {
		r, err := decodeRequest(plain, user)
		if err != nil {
			continue
		}
		_, _ = parsec.ParseDeviceLabel(r.DeviceLabel)
		if user {
			_ = r.HumanHandle.Validate()
			_ = r.PublicKey.IsZero()
		}
		again, err := decodeRequest(r.encode(user), user)
		if err != nil {
			t.Fatalf("request %x (user %v) decodes but its encoding does not: %v", plain, user, err)
		}
		if !bytes.Equal(again.encode(user), r.encode(user)) {
			t.Fatalf("request %x (user %v) does not survive an encoding", plain, user)
		}
	}
}

// checkConfirmation decodes a greeter's decrypted confirmation as the claimer does, and
// checks what it checks.
func checkConfirmation(t *testing.T, plain []byte) {
	var conf confirmation
	if codec.Unmarshal(plain, &conf) != nil {
		return
	}
	_ = conf.UserID.IsZero() || conf.DeviceID.IsZero() || !conf.Profile.Valid()
	_ = conf.HumanHandle.Validate()
	_, _ = parsec.ParseDeviceLabel(conf.DeviceLabel)
	_, _ = crypto.ParseUserPrivateKey(conf.PrivateKey)
}
