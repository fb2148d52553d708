package crypto

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/mlkem"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// The invitation key exchange authenticates two devices that share no key yet, through a
// server that must not be able to read or alter what they say. It is hybrid: an attacker
// must break both X25519 and ML-KEM-768 to learn the channel key.
//
//	step 0  greeter → claimer: greeter X25519 key, greeter ML-KEM-768 encapsulation key
//	        claimer → greeter: claimer X25519 key
//	step 1  claimer → greeter: ML-KEM ciphertext (InviteClaimer.Encapsulate), and the
//	        commitment HashNonce(claimer nonce)
//	step 2  greeter → claimer: greeter nonce
//	step 3  claimer → greeter: claimer nonce, which the greeter checks against the commitment
//
// Both sides then hold the same InviteSecrets, derived from both shared secrets and the
// transcript of the four public values, and show SAS codes for the people to compare. A
// party in the middle that substitutes any of the public values ends up with different
// secrets on each side, and so with different codes; the commitment stops it from choosing
// its nonce after seeing the claimer's, so it cannot search for colliding codes.

// InviteNonceSize is the size of the nonces exchanged for the SAS codes.
const InviteNonceSize = 64

// Sizes of the invitation's public values.
const (
	inviteX25519Size     = 32
	inviteMLKEMKeySize   = mlkem.EncapsulationKeySize768
	inviteMLKEMCipherLen = mlkem.CiphertextSize768
)

// InviteGreeter is the greeter's half of one greeting attempt. Use it for one attempt only.
type InviteGreeter struct {
	x25519 *ecdh.PrivateKey
	mlkem  *mlkem.DecapsulationKey768
}

// NewInviteGreeter draws the greeter's ephemeral keys.
func NewInviteGreeter() *InviteGreeter {
	g, err := newInviteGreeter(RandomBytes(inviteX25519Size), RandomBytes(mlkem.SeedSize))
	if err != nil {
		panic("crypto: " + err.Error()) // unreachable: the sizes are right
	}
	return g
}

// newInviteGreeter builds a greeter from fixed key material, so that tests can be
// deterministic: a 32-byte X25519 private key and a 64-byte ML-KEM seed.
func newInviteGreeter(x25519Priv, mlkemSeed []byte) (*InviteGreeter, error) {
	x, err := ecdh.X25519().NewPrivateKey(x25519Priv)
	if err != nil {
		return nil, fmt.Errorf("invite greeter: %w", err)
	}
	m, err := mlkem.NewDecapsulationKey768(mlkemSeed)
	if err != nil {
		return nil, fmt.Errorf("invite greeter: %w", err)
	}
	return &InviteGreeter{x25519: x, mlkem: m}, nil
}

// PublicKeys returns what the greeter sends in step 0.
func (g *InviteGreeter) PublicKeys() (x25519, mlkemEncapsulationKey []byte) {
	return g.x25519.PublicKey().Bytes(), g.mlkem.EncapsulationKey().Bytes()
}

// Decapsulate computes the secrets from the claimer's X25519 key (step 0) and ML-KEM
// ciphertext (step 1). It fails on malformed values or a low-order X25519 key. A tampered
// ciphertext is not detected here: it yields different secrets, which the SAS check reveals.
func (g *InviteGreeter) Decapsulate(claimerX25519, mlkemCiphertext []byte) (*InviteSecrets, error) {
	peer, err := parseInviteX25519(claimerX25519)
	if err != nil {
		return nil, fmt.Errorf("invite: claimer key: %w", err)
	}
	xShared, err := g.x25519.ECDH(peer)
	if err != nil {
		return nil, fmt.Errorf("invite: claimer key: %w", err)
	}
	if len(mlkemCiphertext) != inviteMLKEMCipherLen {
		return nil, fmt.Errorf("invite: invalid ML-KEM ciphertext: %d bytes, want %d", len(mlkemCiphertext), inviteMLKEMCipherLen)
	}
	mShared, err := g.mlkem.Decapsulate(mlkemCiphertext)
	if err != nil {
		return nil, fmt.Errorf("invite: invalid ML-KEM ciphertext: %w", err)
	}
	gx, gm := g.PublicKeys()
	return newInviteSecrets(xShared, mShared, gx, gm, claimerX25519, mlkemCiphertext), nil
}

// InviteClaimer is the claimer's half of one greeting attempt. Use it for one attempt only.
type InviteClaimer struct {
	x25519 *ecdh.PrivateKey
	// encapsulate is ek.Encapsulate, except in tests that need a deterministic ciphertext.
	encapsulate func(ek *mlkem.EncapsulationKey768) (sharedKey, ciphertext []byte, err error)
}

// NewInviteClaimer draws the claimer's ephemeral key.
func NewInviteClaimer() *InviteClaimer {
	c, err := newInviteClaimer(RandomBytes(inviteX25519Size))
	if err != nil {
		panic("crypto: " + err.Error()) // unreachable: the size is right
	}
	return c
}

// newInviteClaimer builds a claimer from a fixed 32-byte X25519 private key, so that tests
// can be deterministic.
func newInviteClaimer(x25519Priv []byte) (*InviteClaimer, error) {
	x, err := ecdh.X25519().NewPrivateKey(x25519Priv)
	if err != nil {
		return nil, fmt.Errorf("invite claimer: %w", err)
	}
	return &InviteClaimer{x25519: x}, nil
}

// PublicKey returns the claimer's X25519 key, sent in step 0.
func (c *InviteClaimer) PublicKey() []byte { return c.x25519.PublicKey().Bytes() }

// Encapsulate takes the greeter's public keys (step 0) and returns the ML-KEM ciphertext
// to send in step 1, with the secrets. It fails on malformed keys or a low-order X25519 key.
func (c *InviteClaimer) Encapsulate(greeterX25519, greeterMLKEM []byte) (mlkemCiphertext []byte, s *InviteSecrets, err error) {
	peer, err := parseInviteX25519(greeterX25519)
	if err != nil {
		return nil, nil, fmt.Errorf("invite: greeter key: %w", err)
	}
	xShared, err := c.x25519.ECDH(peer)
	if err != nil {
		return nil, nil, fmt.Errorf("invite: greeter key: %w", err)
	}
	if len(greeterMLKEM) != inviteMLKEMKeySize {
		return nil, nil, fmt.Errorf("invite: invalid ML-KEM encapsulation key: %d bytes, want %d", len(greeterMLKEM), inviteMLKEMKeySize)
	}
	ek, err := mlkem.NewEncapsulationKey768(greeterMLKEM)
	if err != nil {
		return nil, nil, fmt.Errorf("invite: invalid ML-KEM encapsulation key: %w", err)
	}
	var mShared []byte
	if c.encapsulate != nil {
		if mShared, mlkemCiphertext, err = c.encapsulate(ek); err != nil {
			return nil, nil, fmt.Errorf("invite: %w", err)
		}
	} else {
		mShared, mlkemCiphertext = ek.Encapsulate()
	}
	s = newInviteSecrets(xShared, mShared, greeterX25519, greeterMLKEM, c.PublicKey(), mlkemCiphertext)
	return mlkemCiphertext, s, nil
}

// parseInviteX25519 checks an X25519 key from the peer. Low-order keys pass here and are
// rejected by ECDH, whose result would be all zeros.
func parseInviteX25519(b []byte) (*ecdh.PublicKey, error) {
	if len(b) != inviteX25519Size {
		return nil, fmt.Errorf("invalid X25519 key: %d bytes, want %d", len(b), inviteX25519Size)
	}
	return ecdh.X25519().NewPublicKey(b)
}

// InviteSecrets is what both sides of a greeting attempt share once the keys are exchanged.
type InviteSecrets struct {
	prk []byte // HKDF-Extract output
}

// newInviteSecrets computes
//
//	transcript = SHA-256(lp(greeter X25519) ‖ lp(greeter ML-KEM key) ‖ lp(claimer X25519) ‖ lp(ciphertext))
//	secret     = HKDF-Extract(SHA-256, salt = transcript, ikm = X25519 shared ‖ ML-KEM shared)
//
// where lp(v) is the length of v as a big-endian uint32 followed by v.
func newInviteSecrets(x25519Shared, mlkemShared, greeterX25519, greeterMLKEM, claimerX25519, mlkemCiphertext []byte) *InviteSecrets {
	h := sha256.New()
	for _, v := range [][]byte{greeterX25519, greeterMLKEM, claimerX25519, mlkemCiphertext} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(v))))
		h.Write(v)
	}
	ikm := make([]byte, 0, len(x25519Shared)+len(mlkemShared))
	ikm = append(ikm, x25519Shared...)
	ikm = append(ikm, mlkemShared...)
	return &InviteSecrets{prk: hkdfExtract(ikm, h.Sum(nil))}
}

// ChannelKey returns the key that encrypts the rest of the exchange (steps 6 to 8).
func (s *InviteSecrets) ChannelKey() SecretKey {
	var k SecretKey
	copy(k[:], hkdfExpand(s.prk, "parsec/1/invite/channel", len(k)))
	return k
}

// SAS returns the two codes of the attempt once both nonces are known (step 3). A single
// MAC over both nonces gives both codes:
//
//	m = HMAC-SHA256(HKDF-Expand(secret, "parsec/1/invite/sas"), lp(claimer nonce) ‖ lp(greeter nonce))
//	n = the first 5 bytes of m as a big-endian integer
//	claimer code = SASFromUint(n & 0xFFFFF), greeter code = SASFromUint(n >> 20 & 0xFFFFF)
func (s *InviteSecrets) SAS(claimerNonce, greeterNonce []byte) (claimer, greeter SASCode) {
	mac := hmac.New(sha256.New, hkdfExpand(s.prk, "parsec/1/invite/sas", sha256.Size))
	for _, v := range [][]byte{claimerNonce, greeterNonce} {
		mac.Write(binary.BigEndian.AppendUint32(nil, uint32(len(v))))
		mac.Write(v)
	}
	m := mac.Sum(nil)
	var n uint64
	for _, b := range m[:5] {
		n = n<<8 | uint64(b)
	}
	return SASFromUint(uint32(n & 0xFFFFF)), SASFromUint(uint32(n >> 20 & 0xFFFFF))
}

// NewInviteNonce draws a nonce for the SAS codes.
func NewInviteNonce() []byte { return RandomBytes(InviteNonceSize) }

// HashNonce returns the commitment to a nonce that the claimer sends before revealing it.
func HashNonce(nonce []byte) Digest { return Sum(nonce) }
