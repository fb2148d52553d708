package client

import (
	"context"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/crypto/shamir"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// Shared recovery (certif/recovery.go): a user who lost every device gets a new one from
// the shares that other users hold. The setup makes a device of this user (its certificate
// says SHAMIR_RECOVERY), encrypts it as a recovery file under a fresh key, and splits that
// key and a reveal token into shares, sealed for each recipient. Recovering is an
// invitation: each recipient greets the user with the usual exchange of codes and sends its
// shares over the verified channel (Greeting.SendShares); with enough of them the user
// rebuilds the key and the token, gets the encrypted device from the server with the token,
// and makes a new ordinary device from it (Claim.Recover).

// SharedRecipient is one recipient of a setup and the number of shares it holds.
type SharedRecipient struct {
	User   parsec.UserID
	Shares int
}

// DefaultThreshold is the threshold an interface proposes when the person chooses none: a
// majority of the total shares.
func DefaultThreshold(total int) int { return total/2 + 1 }

// secretVersion starts the secret that the shares rebuild: version, data key, reveal token.
const secretVersion = 0

const sharedRecoveryLabel = "shared recovery"

// SetupSharedRecovery records a shared-recovery setup of this user: recipients and their
// shares, and the threshold of shares that rebuilds the secret. A user has one setup at a
// time (DeleteSharedRecovery first, to replace it).
func (c *Client) SetupSharedRecovery(ctx context.Context, recipients []SharedRecipient, threshold int) error {
	if _, err := c.PollCertificates(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	existing := c.certs.RecoverySetup(c.dev.UserID)
	c.mu.Unlock()
	if existing != nil {
		return parsec.Errorf(parsec.Exists, "you already have a shared recovery (set up on %s): delete it first to set up another", existing.Timestamp)
	}
	rs := make([]certif.RecoveryRecipient, 0, len(recipients))
	keys := make(map[parsec.UserID]crypto.UserPublicKey)
	total := 0
	for _, r := range recipients {
		u, ok := c.certs.User(r.User)
		switch {
		case !ok:
			return parsec.Errorf(parsec.NotFound, "no user %s in organization %s", parsec.ShortID(r.User), c.dev.OrganizationID)
		case u.Revoked():
			return parsec.Errorf(parsec.Revoked, "%s is revoked and cannot hold a share", u.Handle())
		case u.ID == c.dev.UserID:
			return parsec.Errorf(parsec.Invalid, "you cannot be one of your own recipients")
		case r.Shares < 1 || r.Shares > certif.MaxRecoveryShares:
			return parsec.Errorf(parsec.Invalid, "%s: the number of shares must be between 1 and %d", u.Handle(), certif.MaxRecoveryShares)
		}
		if _, dup := keys[u.ID]; dup {
			return parsec.Errorf(parsec.Invalid, "%s is named twice", u.Handle())
		}
		keys[u.ID] = u.PublicKey
		rs = append(rs, certif.RecoveryRecipient{User: u.ID, Shares: r.Shares})
		total += r.Shares
	}
	switch {
	case len(rs) == 0:
		return parsec.Errorf(parsec.Invalid, "a shared recovery needs at least one recipient")
	case total > certif.MaxRecoveryShares:
		return parsec.Errorf(parsec.Invalid, "%d shares in all: at most %d", total, certif.MaxRecoveryShares)
	case threshold < 1 || threshold > total:
		return parsec.Errorf(parsec.Invalid, "the threshold must be between 1 and the number of shares (%d)", total)
	}
	certif.SortRecipients(rs)

	recovery, err := c.newOwnDevice(ctx, sharedRecoveryLabel, certif.SharedRecoveryPurpose)
	if err != nil {
		return err
	}
	dataKey := crypto.GenerateSecretKey()
	ciphered, err := device.EncodeRecovery(recovery, dataKey, c.now())
	if err != nil {
		return err
	}
	token := parsec.NewAccessToken()
	secret := append(append([]byte{secretVersion}, dataKey[:]...), token[:]...)
	shares, err := shamir.Split(secret, total, threshold, nil)
	if err != nil {
		return err
	}
	author := c.dev.DeviceID
	err = c.WithFreshTimestamp(ctx, 500*time.Millisecond, func(ts parsec.DateTime) error {
		setup := &certif.RecoverySetupCertificate{Author: author, Timestamp: ts, UserID: c.dev.UserID, Threshold: threshold, Recipients: rs}
		setup.View = c.seen(certif.RecoveryTopic(c.dev.UserID))
		req := protocol.RecoverySetupReq{Setup: certif.Sign(c.signer, setup), CipheredData: ciphered, RevealToken: token}
		next := 0
		for _, r := range rs {
			own := make([][]byte, r.Shares)
			for i := range own {
				own[i] = shares[next].Encode()
				next++
			}
			raw, err := certif.SealShares(c.signer, setup, r.User, keys[r.User], own)
			if err != nil {
				return err
			}
			req.Shares = append(req.Shares, raw)
		}
		return c.Call(ctx, protocol.CmdRecoverySetup, req, nil)
	})
	if err != nil {
		return err
	}
	_, err = c.PollCertificates(ctx)
	return err
}

// DeleteSharedRecovery deletes this user's setup in force: its shares are void from then on.
func (c *Client) DeleteSharedRecovery(ctx context.Context) error {
	if _, err := c.PollCertificates(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	setup := c.certs.RecoverySetup(c.dev.UserID)
	c.mu.Unlock()
	if setup == nil {
		return parsec.Errorf(parsec.NotFound, "you have no shared recovery")
	}
	author := c.dev.DeviceID
	return c.certify(ctx, 500*time.Millisecond, protocol.CmdRecoveryDelete, func(ts parsec.DateTime) certif.Certificate {
		return &certif.RecoveryDeletionCertificate{Author: author, Timestamp: ts, UserID: c.dev.UserID,
			SetupTimestamp: setup.Timestamp, Recipients: setup.RecipientIDs()}
	}, func(signed []byte) any { return protocol.RecoveryDeleteReq{Deletion: signed} })
}

// SharedRecovery is a setup in force, as the client shows it.
type SharedRecovery struct {
	User       UserInfo // whose setup it is
	CreatedOn  parsec.DateTime
	Threshold  int
	Recipients []SharedRecoveryRecipient
}

// SharedRecoveryRecipient is a recipient of a setup.
type SharedRecoveryRecipient struct {
	User   UserInfo
	Shares int
}

// Usable reports whether the recipients who are not revoked hold enough shares.
func (s SharedRecovery) Usable() bool { return s.Reachable() >= s.Threshold }

// Reachable is the number of shares that recipients who are not revoked hold.
func (s SharedRecovery) Reachable() int {
	n := 0
	for _, r := range s.Recipients {
		if r.User.RevokedOn.IsZero() {
			n += r.Shares
		}
	}
	return n
}

// SharedRecoveries returns this user's setup in force (nil if none) and the setups in force
// of the users who chose this user as a recipient, from the validated certificates.
func (c *Client) SharedRecoveries(ctx context.Context) (*SharedRecovery, []SharedRecovery, error) {
	if _, err := c.PollCertificates(ctx); err != nil {
		return nil, nil, err
	}
	users := make(map[parsec.UserID]UserInfo)
	for _, u := range c.Users() {
		users[u.ID] = u
	}
	c.mu.Lock()
	setups := c.certs.RecoverySetups()
	c.mu.Unlock()
	var own *SharedRecovery
	var others []SharedRecovery
	for user, s := range setups {
		sr := SharedRecovery{User: users[user], CreatedOn: s.Timestamp, Threshold: s.Threshold}
		for _, r := range s.Recipients {
			sr.Recipients = append(sr.Recipients, SharedRecoveryRecipient{User: users[r.User], Shares: r.Shares})
		}
		switch {
		case user == c.dev.UserID:
			own = &sr
		case s.SharesOf(c.dev.UserID) > 0:
			others = append(others, sr)
		}
	}
	return own, others, nil
}

// InviteSharedRecovery invites a user who lost their devices to be recovered by the
// recipients of their setup (an Administrator or one of the recipients may). Inviting the
// same user again returns the same invitation.
func (c *Client) InviteSharedRecovery(ctx context.Context, user parsec.UserID) (Invitation, error) {
	var rep protocol.InviteNewRep
	if err := c.Call(ctx, protocol.CmdInviteNewRecovery, protocol.InviteNewRecoveryReq{ClaimerUserID: user}, &rep); err != nil {
		return Invitation{}, err
	}
	return Invitation{Token: rep.Token, Link: c.link(protocol.ActionClaimRecovery, rep.Token)}, nil
}

// sharesPayload is what a recipient sends the claimer at step 7 of a SHAMIR_RECOVERY
// exchange: its shares of the setup in force of the claimer's user, or why it cannot.
type sharesPayload struct {
	User           parsec.UserID   `cbor:"user_id"`
	SetupTimestamp parsec.DateTime `cbor:"setup_timestamp"`
	Shares         [][]byte        `cbor:"shares"`
	Refused        string          `cbor:"refused,omitempty"`
}

// SendShares ends a SHAMIR_RECOVERY greeting (after both codes were confirmed): it checks
// this user's share certificate of the claimer's setup in force against the validated
// certificates, opens it, and sends the shares over the verified channel.
func (g *Greeting) SendShares(ctx context.Context) (int, error) {
	if g.info.Type != protocol.InvitationTypeRecovery || g.info.ClaimerUserID == nil {
		return 0, parsec.Errorf(parsec.Invalid, "invitation %s is not a shared-recovery invitation", g.token)
	}
	out, err := g.st.exchange(ctx, g.attempt, 6, nil)
	if err != nil {
		return 0, g.st.fail(g.attempt, "", err)
	}
	if _, err := g.channel.Decrypt(out, []byte(aadClaimerPayload)); err != nil {
		return 0, g.st.fail(g.attempt, protocol.CancelUndecipherablePayload,
			parsec.Errorf(parsec.Tampered, "the claimer's request cannot be decrypted: %s", InterceptionWarning))
	}
	user := *g.info.ClaimerUserID
	shares, setup, err := g.c.myShares(ctx, user)
	if err != nil {
		if parsec.KindOf(err) == parsec.Tampered {
			g.st.abort(g.attempt, protocol.CancelManually)
			return 0, err
		}
		return 0, g.refuseShares(err)
	}
	payload := sharesPayload{User: user, SetupTimestamp: setup.Timestamp, Shares: shares}
	if _, err := g.st.exchange(ctx, g.attempt, 7, g.channel.Encrypt(codec.MustMarshal(payload), []byte(aadGreeterPayload))); err != nil {
		return 0, g.st.fail(g.attempt, "", err)
	}
	// The last recipient's acknowledgment may come after the claimer, with enough shares,
	// already recovered and completed the invitation: that is a success too.
	if _, err := g.st.exchange(ctx, g.attempt, 8, nil); err != nil && !protocol.IsStatus(err, protocol.StatusInvitationCompleted) {
		return 0, g.st.fail(g.attempt, "", err)
	}
	return len(shares), nil
}

// refuseShares tells the claimer why no shares come from this recipient.
func (g *Greeting) refuseShares(err error) error {
	payload := g.channel.Encrypt(codec.MustMarshal(sharesPayload{Refused: err.Error()}), []byte(aadGreeterPayload))
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := g.st.send(sctx, g.attempt, 7, payload); serr != nil {
		g.st.abort(g.attempt, protocol.CancelManually)
	}
	return err
}

// myShares fetches, checks and opens this user's shares of a user's setup in force.
func (c *Client) myShares(ctx context.Context, user parsec.UserID) ([][]byte, *certif.RecoverySetupCertificate, error) {
	if _, err := c.PollCertificates(ctx); err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	setup := c.certs.RecoverySetup(user)
	c.mu.Unlock()
	if setup == nil || setup.SharesOf(c.dev.UserID) == 0 {
		return nil, nil, parsec.Errorf(parsec.NotFound, "you hold no share of a shared recovery of that user")
	}
	var rep protocol.RecoveryShareRep
	if err := c.Call(ctx, protocol.CmdRecoveryShare, protocol.RecoveryShareReq{User: user}, &rep); err != nil {
		return nil, nil, err
	}
	tampered := func(err error) error {
		return parsec.Errorf(parsec.Tampered, "the server sent a share certificate that is not this user's share of the setup in force: %v", err)
	}
	c.mu.Lock()
	share, err := certif.ValidateShare(c.certs, setup, rep.Certificate)
	author, _ := c.certs.Device(setup.Author)
	c.mu.Unlock()
	if err != nil {
		return nil, nil, tampered(err)
	}
	if share.Recipient != c.dev.UserID {
		return nil, nil, tampered(parsec.Errorf(parsec.Invalid, "it is for user %s", parsec.ShortID(share.Recipient)))
	}
	key, err := c.dev.UserKey()
	if err != nil {
		return nil, nil, err
	}
	shares, err := certif.OpenShares(setup, share, key, author.VerifyKey)
	if err != nil {
		return nil, nil, tampered(err)
	}
	return shares, setup, nil
}

// Claimer side.

// SharesNeeded is the threshold of the setup the invitation recovers with (0 for another
// kind of invitation).
func (cl *Claim) SharesNeeded() int {
	if cl.info.Recovery == nil {
		return 0
	}
	return cl.info.Recovery.Threshold
}

// SharesCollected is the number of shares received so far.
func (cl *Claim) SharesCollected() int {
	n := 0
	for _, s := range cl.shares {
		n += len(s)
	}
	return n
}

// Collected reports whether a recipient already gave its shares.
func (cl *Claim) Collected(user parsec.UserID) bool {
	_, ok := cl.shares[user]
	return ok
}

// ReceiveShares ends a SHAMIR_RECOVERY exchange with the recipient who greeted (after both
// codes were confirmed): it receives the recipient's shares over the verified channel and
// returns how many.
func (cl *Claim) ReceiveShares(ctx context.Context) (int, error) {
	if cl.info.Type != protocol.InvitationTypeRecovery {
		return 0, parsec.Errorf(parsec.Invalid, "this is not a shared-recovery invitation")
	}
	payload := cl.channel.Encrypt(codec.MustMarshal(struct{}{}), []byte(aadClaimerPayload))
	if _, err := cl.st.exchange(ctx, cl.attempt, 6, payload); err != nil {
		return 0, cl.st.fail(cl.attempt, "", err)
	}
	out, err := cl.st.exchange(ctx, cl.attempt, 7, nil)
	if err != nil {
		return 0, cl.st.fail(cl.attempt, "", err)
	}
	plain, err := cl.channel.Decrypt(out, []byte(aadGreeterPayload))
	if err != nil {
		return 0, cl.st.fail(cl.attempt, protocol.CancelUndecipherablePayload,
			parsec.Errorf(parsec.Tampered, "the recipient's shares cannot be decrypted: %s", InterceptionWarning))
	}
	var p sharesPayload
	if err := codec.Unmarshal(plain, &p); err != nil {
		return 0, cl.st.fail(cl.attempt, protocol.CancelUndeserializablePayload, parsec.Errorf(parsec.Tampered, "malformed shares from the recipient"))
	}
	if p.Refused != "" {
		return 0, parsec.Errorf(parsec.Permission, "%s could not send their shares: %s", cl.greeter.HumanHandle, p.Refused)
	}
	inconsistent := func(format string, args ...any) (int, error) {
		return 0, cl.st.fail(cl.attempt, protocol.CancelInconsistentPayload, parsec.Errorf(parsec.Tampered, format, args...))
	}
	if p.User != *cl.info.ClaimerUserID {
		return inconsistent("%s sent shares of another user's recovery", cl.greeter.HumanHandle)
	}
	if p.SetupTimestamp != cl.info.Recovery.SetupTimestamp {
		return inconsistent("%s holds shares of the shared recovery of %s, the server says the one in force is of %s: the server may be replaying an old setup",
			cl.greeter.HumanHandle, p.SetupTimestamp, cl.info.Recovery.SetupTimestamp)
	}
	shares := make([]shamir.Share, 0, len(p.Shares))
	for _, raw := range p.Shares {
		sh, err := shamir.DecodeShare(raw)
		if err != nil {
			return inconsistent("%s sent an invalid share: %v", cl.greeter.HumanHandle, err)
		}
		for _, held := range cl.shares {
			for _, h := range held {
				if h.X == sh.X {
					return inconsistent("%s sent a share that another recipient sent too: the server may have swapped shares", cl.greeter.HumanHandle)
				}
			}
		}
		shares = append(shares, sh)
	}
	if len(shares) == 0 {
		return inconsistent("%s sent no share", cl.greeter.HumanHandle)
	}
	if err := cl.st.send(ctx, cl.attempt, 8, nil); err != nil {
		return 0, err
	}
	cl.shares[cl.greeter.UserID] = shares
	return len(shares), nil
}

// Recover rebuilds the secret from the shares received (at least SharesNeeded), gets the
// encrypted recovery device from the server with the reveal token, and makes from it a new
// ordinary device of the user, saved in configDir under password; then it completes the
// invitation. Shares that do not rebuild the secret (some of another setup, or altered) are
// detected: the server refuses the token, or the device does not decrypt.
func (cl *Claim) Recover(ctx context.Context, configDir, label string, password []byte) (*device.Local, error) {
	if cl.info.Recovery == nil {
		return nil, parsec.Errorf(parsec.Invalid, "this is not a shared-recovery invitation")
	}
	if n := cl.SharesCollected(); n < cl.SharesNeeded() {
		return nil, parsec.Errorf(parsec.Invalid, "%d shares received, %d needed: ask another recipient to greet you", n, cl.SharesNeeded())
	}
	var all []shamir.Share
	for _, s := range cl.shares {
		all = append(all, s...)
	}
	secret, err := shamir.Combine(all)
	wrong := parsec.Errorf(parsec.Tampered, "the shares received do not rebuild the secret of the shared recovery: a recipient or the server sent altered or outdated shares")
	if err != nil || len(secret) != 1+len(crypto.SecretKey{})+len(parsec.AccessToken{}) || secret[0] != secretVersion {
		return nil, wrong
	}
	var key crypto.SecretKey
	var token parsec.AccessToken
	copy(key[:], secret[1:])
	copy(token[:], secret[1+len(key):])
	var rep protocol.RecoveryRevealRep
	if err := cl.call(ctx, protocol.CmdRecoveryReveal, protocol.RecoveryRevealReq{RevealToken: token}, &rep); err != nil {
		if protocol.IsStatus(err, protocol.StatusBadRevealToken) {
			return nil, wrong
		}
		return nil, err
	}
	f, err := device.LoadBytes("(the recovery device the server sent)", rep.CipheredData)
	if err != nil || !f.IsRecovery() || f.Header.UserID != *cl.info.ClaimerUserID || f.Header.OrganizationID != cl.link.Org {
		return nil, parsec.Errorf(parsec.Tampered, "the server sent something else than this user's recovery device")
	}
	if _, err := f.UnlockRecovery(key); err != nil {
		return nil, wrong
	}
	setupOn := cl.info.Recovery.SetupTimestamp
	return fromRecovery(ctx, configDir, f, key, label, password, Options{HTTPClient: cl.opts.HTTPClient, Clock: cl.opts.Clock},
		func(c *Client, saved *device.Local) error {
			if saved != nil {
				return c.Call(ctx, protocol.CmdInviteComplete, protocol.InviteTokenReq{Token: cl.link.Token}, nil)
			}
			// The setup whose shares came is the one in force, as the certificates say.
			c.mu.Lock()
			setup := c.certs.RecoverySetup(c.dev.UserID)
			c.mu.Unlock()
			if setup == nil || setup.Timestamp != setupOn {
				return parsec.Errorf(parsec.Tampered, "the shares are of a shared recovery of %s that is no longer in force", setupOn)
			}
			return nil
		})
}
