package crypto

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/mlkem"
	"crypto/mlkem/mlkemtest"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"testing"
)

// Deterministic parties: fixed keys and a fixed ML-KEM encapsulation, so that the tests
// never depend on luck (two SAS codes collide with probability 2^-20).

func testGreeter(t testing.TB, seed byte) *InviteGreeter {
	t.Helper()
	g, err := newInviteGreeter(bytes.Repeat([]byte{seed}, 32), bytes.Repeat([]byte{seed ^ 0xff}, 64))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func testClaimer(t testing.TB, seed byte) *InviteClaimer {
	t.Helper()
	c, err := newInviteClaimer(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	c.encapsulate = func(ek *mlkem.EncapsulationKey768) ([]byte, []byte, error) {
		return mlkemtest.Encapsulate768(ek, bytes.Repeat([]byte{seed ^ 0x55}, 32))
	}
	return c
}

var (
	testClaimerNonce = bytes.Repeat([]byte{0xc1}, InviteNonceSize)
	testGreeterNonce = bytes.Repeat([]byte{0x91}, InviteNonceSize)
)

// exchange runs steps 0 and 1 between c and g without interference.
func exchange(t testing.TB, c *InviteClaimer, g *InviteGreeter) (cs, gs *InviteSecrets) {
	t.Helper()
	gx, gm := g.PublicKeys()
	ct, cs, err := c.Encapsulate(gx, gm)
	if err != nil {
		t.Fatal(err)
	}
	gs, err = g.Decapsulate(c.PublicKey(), ct)
	if err != nil {
		t.Fatal(err)
	}
	return cs, gs
}

func TestInviteExchange(t *testing.T) {
	tests := []struct {
		name string
		c    *InviteClaimer
		g    *InviteGreeter
	}{
		{"random keys", NewInviteClaimer(), NewInviteGreeter()},
		{"fixed keys", testClaimer(t, 1), testGreeter(t, 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, gs := exchange(t, tc.c, tc.g)
			if cs.ChannelKey() != gs.ChannelKey() {
				t.Fatal("channel keys differ")
			}
			cc, cg := cs.SAS(testClaimerNonce, testGreeterNonce)
			gc, gg := gs.SAS(testClaimerNonce, testGreeterNonce)
			if cc != gc || cg != gg {
				t.Fatalf("SAS differ: claimer side %s/%s, greeter side %s/%s", cc, cg, gc, gg)
			}
			for _, code := range []SASCode{cc, cg} {
				if p, err := ParseSASCode(string(code)); err != nil || p != code {
					t.Errorf("invalid SAS code %q", code)
				}
			}
			// The channel key works.
			k := gs.ChannelKey()
			if _, err := cs.ChannelKey().Decrypt(k.Encrypt([]byte("step 6"), nil), nil); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestInviteDefinition recomputes the secrets from their definition (see newInviteSecrets
// and SAS), with the standard library only.
func TestInviteDefinition(t *testing.T) {
	c, g := testClaimer(t, 3), testGreeter(t, 4)
	gx, gm := g.PublicKeys()
	ct, cs, err := c.Encapsulate(gx, gm)
	if err != nil {
		t.Fatal(err)
	}
	cx := c.PublicKey()

	xShared, err := g.x25519.ECDH(mustX25519(t, cx))
	if err != nil {
		t.Fatal(err)
	}
	mShared, err := g.mlkem.Decapsulate(ct)
	if err != nil {
		t.Fatal(err)
	}
	var transcript []byte
	for _, v := range [][]byte{gx, gm, cx, ct} {
		transcript = binary.BigEndian.AppendUint32(transcript, uint32(len(v)))
		transcript = append(transcript, v...)
	}
	salt := sha256.Sum256(transcript)
	prk, err := hkdf.Extract(sha256.New, append(xShared, mShared...), salt[:])
	if err != nil {
		t.Fatal(err)
	}
	channel, _ := hkdf.Expand(sha256.New, prk, "parsec/1/invite/channel", 32)
	if got := cs.ChannelKey(); !bytes.Equal(got[:], channel) {
		t.Errorf("ChannelKey = %x, want %x", got[:], channel)
	}

	sasKey, _ := hkdf.Expand(sha256.New, prk, "parsec/1/invite/sas", 32)
	mac := hmac.New(sha256.New, sasKey)
	mac.Write([]byte{0, 0, 0, 2, 'N', 'c', 0, 0, 0, 3, 'N', 'g', '!'})
	m := mac.Sum(nil)
	n := uint64(m[0])<<32 | uint64(m[1])<<24 | uint64(m[2])<<16 | uint64(m[3])<<8 | uint64(m[4])
	wantC, wantG := SASFromUint(uint32(n&0xFFFFF)), SASFromUint(uint32(n>>20&0xFFFFF))
	if gotC, gotG := cs.SAS([]byte("Nc"), []byte("Ng!")); gotC != wantC || gotG != wantG {
		t.Errorf("SAS = %s, %s; want %s, %s", gotC, gotG, wantC, wantG)
	}
}

func mustX25519(t testing.TB, b []byte) *ecdh.PublicKey {
	t.Helper()
	k, err := ecdh.X25519().NewPublicKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestInviteManInTheMiddle has a third party M substitute each public value in turn. The
// two sides must end with different channel keys and different SAS codes, so the people
// comparing codes notice.
func TestInviteManInTheMiddle(t *testing.T) {
	c, g := testClaimer(t, 5), testGreeter(t, 6)
	mc, mg := testClaimer(t, 7), testGreeter(t, 8) // M's own claimer and greeter halves
	gx, gm := g.PublicKeys()
	mgx, mgm := mg.PublicKeys()

	tests := []struct {
		name string
		run  func(t *testing.T) (cs, gs *InviteSecrets)
	}{
		{"greeter X25519 key replaced", func(t *testing.T) (*InviteSecrets, *InviteSecrets) {
			ct, cs, err := c.Encapsulate(mgx, gm)
			if err != nil {
				t.Fatal(err)
			}
			gs, err := g.Decapsulate(c.PublicKey(), ct)
			if err != nil {
				t.Fatal(err)
			}
			return cs, gs
		}},
		{"claimer X25519 key replaced", func(t *testing.T) (*InviteSecrets, *InviteSecrets) {
			ct, cs, err := c.Encapsulate(gx, gm)
			if err != nil {
				t.Fatal(err)
			}
			gs, err := g.Decapsulate(mc.PublicKey(), ct)
			if err != nil {
				t.Fatal(err)
			}
			return cs, gs
		}},
		{"ML-KEM ciphertext replaced", func(t *testing.T) (*InviteSecrets, *InviteSecrets) {
			_, cs, err := c.Encapsulate(gx, gm)
			if err != nil {
				t.Fatal(err)
			}
			mct, _, err := mc.Encapsulate(gx, gm) // M's own ciphertext for G
			if err != nil {
				t.Fatal(err)
			}
			gs, err := g.Decapsulate(c.PublicKey(), mct)
			if err != nil {
				t.Fatal(err)
			}
			return cs, gs
		}},
		{"ML-KEM ciphertext corrupted", func(t *testing.T) (*InviteSecrets, *InviteSecrets) {
			ct, cs, err := c.Encapsulate(gx, gm)
			if err != nil {
				t.Fatal(err)
			}
			ct = bytes.Clone(ct)
			ct[100] ^= 1
			gs, err := g.Decapsulate(c.PublicKey(), ct)
			if err != nil {
				t.Fatal(err)
			}
			return cs, gs
		}},
		{"ML-KEM encapsulation key replaced", func(t *testing.T) (*InviteSecrets, *InviteSecrets) {
			// M decapsulates C's ciphertext with its own key, then re-encapsulates to G.
			ct, cs, err := c.Encapsulate(gx, mgm)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mg.Decapsulate(c.PublicKey(), ct); err != nil {
				t.Fatal(err)
			}
			mct, _, err := mc.Encapsulate(gx, gm)
			if err != nil {
				t.Fatal(err)
			}
			gs, err := g.Decapsulate(c.PublicKey(), mct)
			if err != nil {
				t.Fatal(err)
			}
			return cs, gs
		}},
		{"all keys replaced", func(t *testing.T) (*InviteSecrets, *InviteSecrets) {
			// M runs one full exchange with each side.
			cs, _ := exchange(t, c, mg)
			_, gs := exchange(t, mc, g)
			return cs, gs
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, gs := tc.run(t)
			if cs.ChannelKey() == gs.ChannelKey() {
				t.Error("channel keys equal despite the substitution")
			}
			cc, cg := cs.SAS(testClaimerNonce, testGreeterNonce)
			gc, gg := gs.SAS(testClaimerNonce, testGreeterNonce)
			if cc == gc || cg == gg {
				t.Errorf("SAS codes match despite the substitution: claimer side %s/%s, greeter side %s/%s", cc, cg, gc, gg)
			}
		})
	}
}

func TestInviteSASNonces(t *testing.T) {
	cs, _ := exchange(t, testClaimer(t, 9), testGreeter(t, 10))
	nc, ng := testClaimerNonce, testGreeterNonce
	other := bytes.Clone(nc)
	other[63] ^= 1
	baseC, baseG := cs.SAS(nc, ng)
	tests := []struct {
		name   string
		nc, ng []byte
	}{
		{"other claimer nonce", other, ng},
		{"other greeter nonce", nc, other},
		{"nonces swapped", ng, nc},
		{"boundary moved", append(bytes.Clone(nc), ng[0]), ng[1:]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, g := cs.SAS(tc.nc, tc.ng)
			if c == baseC && g == baseG {
				t.Errorf("SAS unchanged: %s/%s", c, g)
			}
		})
	}
}

func TestInviteInvalidInputs(t *testing.T) {
	c, g := testClaimer(t, 11), testGreeter(t, 12)
	gx, gm := g.PublicKeys()
	ct, _, err := c.Encapsulate(gx, gm)
	if err != nil {
		t.Fatal(err)
	}
	cx := c.PublicKey()

	// X25519 points of small order (RFC 7748 section 5 and the usual blocklists): the shared
	// secret would be all zeros.
	lowOrder := map[string][]byte{
		"zero point":  make([]byte, 32),
		"point u=1":   append([]byte{1}, make([]byte, 31)...),
		"order 8 (a)": unhex(t, "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
		"order 8 (b)": unhex(t, "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
		"p-1":         unhex(t, "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
	}
	badMLKEMKey := bytes.Clone(gm)
	badMLKEMKey[0], badMLKEMKey[1] = 0xff, 0xff // a coefficient of 4095 ≥ q

	type tcase struct {
		name    string
		run     func() error
		wantErr string
	}
	var tests []tcase
	for name, p := range lowOrder {
		tests = append(tests,
			tcase{"greeter key " + name, func() error { _, _, err := c.Encapsulate(p, gm); return err }, "low order"},
			tcase{"claimer key " + name, func() error { _, err := g.Decapsulate(p, ct); return err }, "low order"},
		)
	}
	tests = append(tests,
		tcase{"greeter X25519 key short", func() error { _, _, err := c.Encapsulate(gx[:31], gm); return err }, "31 bytes"},
		tcase{"greeter X25519 key long", func() error { _, _, err := c.Encapsulate(append(bytes.Clone(gx), 0), gm); return err }, "33 bytes"},
		tcase{"greeter X25519 key missing", func() error { _, _, err := c.Encapsulate(nil, gm); return err }, "0 bytes"},
		tcase{"ML-KEM key short", func() error { _, _, err := c.Encapsulate(gx, gm[:len(gm)-1]); return err }, "1183 bytes"},
		tcase{"ML-KEM key missing", func() error { _, _, err := c.Encapsulate(gx, nil); return err }, "0 bytes"},
		tcase{"ML-KEM key not reduced", func() error { _, _, err := c.Encapsulate(gx, badMLKEMKey); return err }, "ML-KEM"},
		tcase{"claimer X25519 key short", func() error { _, err := g.Decapsulate(cx[:16], ct); return err }, "16 bytes"},
		tcase{"ML-KEM ciphertext short", func() error { _, err := g.Decapsulate(cx, ct[:len(ct)-1]); return err }, "1087 bytes"},
		tcase{"ML-KEM ciphertext long", func() error { _, err := g.Decapsulate(cx, append(bytes.Clone(ct), 0)); return err }, "1089 bytes"},
		tcase{"ML-KEM ciphertext missing", func() error { _, err := g.Decapsulate(cx, nil); return err }, "0 bytes"},
	)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestInviteNonce(t *testing.T) {
	n1, n2 := NewInviteNonce(), NewInviteNonce()
	if len(n1) != InviteNonceSize || bytes.Equal(n1, n2) {
		t.Fatalf("nonces %x and %x: want %d fresh random bytes each", n1, n2, InviteNonceSize)
	}
	if HashNonce(n1) != Sum(n1) || HashNonce(n1) == HashNonce(n2) {
		t.Error("HashNonce is not SHA-256")
	}
}
