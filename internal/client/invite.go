package client

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// Invitations, greeter side (an authenticated device) and claimer side (a person holding an
// invitation link). Both sides run the same nine-step exchange through the server's mailbox:
//
//	0  greeter: X25519 key + ML-KEM-768 encapsulation key   claimer: X25519 key
//	1  claimer: SHA-256 of its nonce + ML-KEM ciphertext     (a commitment: nobody in the
//	   middle can choose its nonce after seeing the claimer's)
//	2  greeter: its nonce
//	3  claimer: its nonce (the greeter checks the commitment)
//	4  claimer: "I trust": its person picked the greeter's code among four
//	5  greeter: "I trust": its person picked the claimer's code among four
//	6  claimer: its request (name, email, device label, public keys), encrypted
//	7  greeter: the confirmation (IDs, profile, root key...), encrypted
//	8  claimer: acknowledgment
//
// The channel key and both codes derive from both key exchanges and the transcript of all
// public keys: a server (or anyone) that substitutes keys ends up with codes that do not
// match, and the people notice.

// InterceptionWarning ends every message about a rejected code.
const InterceptionWarning = "someone may be intercepting the exchange (the server included): do not go on, and check with the other person on a channel you trust"

// Invitation is a created invitation.
type Invitation struct {
	Token     parsec.AccessToken
	Link      protocol.Link
	EmailSent string // protocol.Email*
}

// InviteUser invites a person by email (Administrators only). Inviting the same email again
// returns the same invitation.
func (c *Client) InviteUser(ctx context.Context, email string, sendEmail bool) (Invitation, error) {
	e, err := parsec.ParseEmail(email)
	if err != nil {
		return Invitation{}, err
	}
	var rep protocol.InviteNewRep
	if err := c.Call(ctx, protocol.CmdInviteNewUser, protocol.InviteNewUserReq{ClaimerEmail: e, SendEmail: sendEmail}, &rep); err != nil {
		return Invitation{}, err
	}
	return Invitation{Token: rep.Token, Link: c.link(protocol.ActionClaimUser, rep.Token), EmailSent: rep.EmailSent}, nil
}

// InviteDevice invites a new device for this user.
func (c *Client) InviteDevice(ctx context.Context, sendEmail bool) (Invitation, error) {
	var rep protocol.InviteNewRep
	if err := c.Call(ctx, protocol.CmdInviteNewDevice, protocol.InviteNewDeviceReq{SendEmail: sendEmail}, &rep); err != nil {
		return Invitation{}, err
	}
	return Invitation{Token: rep.Token, Link: c.link(protocol.ActionClaimDevice, rep.Token), EmailSent: rep.EmailSent}, nil
}

func (c *Client) link(action string, token parsec.AccessToken) protocol.Link {
	return protocol.Link{Server: c.t.server, Org: c.dev.OrganizationID, Action: action, Token: token}
}

// InvitationLink is the link a listed invitation is claimed with.
func (c *Client) InvitationLink(inv protocol.InvitationInfo) Link {
	action := protocol.ActionClaimUser
	switch inv.Type {
	case protocol.InvitationTypeDevice:
		action = protocol.ActionClaimDevice
	case protocol.InvitationTypeRecovery:
		action = protocol.ActionClaimRecovery
	}
	return c.link(action, inv.Token)
}

// Invitations lists the invitations this user may see: every user invitation for an
// Administrator, and the user's own device invitations.
func (c *Client) Invitations(ctx context.Context) ([]protocol.InvitationInfo, error) {
	var rep protocol.InviteListRep
	err := c.Call(ctx, protocol.CmdInviteList, protocol.InviteListReq{}, &rep)
	return rep.Invitations, err
}

// CancelInvitation cancels a pending invitation.
func (c *Client) CancelInvitation(ctx context.Context, token parsec.AccessToken) error {
	return c.Call(ctx, protocol.CmdInviteCancel, protocol.InviteTokenReq{Token: token}, nil)
}

// Step payloads.

type greeterStep0 struct {
	X25519 []byte `cbor:"x25519"`
	MLKEM  []byte `cbor:"mlkem_ek"`
}

type claimerStep0 struct {
	X25519 []byte `cbor:"x25519"`
}

type claimerStep1 struct {
	HashedNonce crypto.Digest `cbor:"hashed_nonce"`
	MLKEM       []byte        `cbor:"mlkem_ct"`
}

type nonceStep struct {
	Nonce []byte `cbor:"nonce"`
}

// UserRequest is what a claimer asks for: its identity and its new device's label.
type UserRequest struct {
	HumanHandle parsec.HumanHandle   // USER invitations only
	DeviceLabel string               //
	PublicKey   crypto.UserPublicKey // USER invitations only
	VerifyKey   crypto.VerifyKey
}

// requestWire is the encoded form of a UserRequest: a device request has no identity and no
// user key (the device gets the user's key in the confirmation).
type requestWire struct {
	HumanHandle *parsec.HumanHandle   `cbor:"human_handle,omitempty"`
	DeviceLabel string                `cbor:"device_label"`
	PublicKey   *crypto.UserPublicKey `cbor:"public_key,omitempty"`
	VerifyKey   crypto.VerifyKey      `cbor:"verify_key"`
}

func (r UserRequest) encode(user bool) []byte {
	w := requestWire{DeviceLabel: r.DeviceLabel, VerifyKey: r.VerifyKey}
	if user {
		h, pk := r.HumanHandle, r.PublicKey
		w.HumanHandle, w.PublicKey = &h, &pk
	}
	return codec.MustMarshal(w)
}

// decodeRequest decodes a claimer's request and checks it has what the invitation needs.
func decodeRequest(plain []byte, user bool) (UserRequest, error) {
	var w requestWire
	if err := codec.Unmarshal(plain, &w); err != nil {
		return UserRequest{}, err
	}
	if user != (w.HumanHandle != nil) || user != (w.PublicKey != nil) {
		return UserRequest{}, errors.New("request does not match the invitation type")
	}
	r := UserRequest{DeviceLabel: w.DeviceLabel, VerifyKey: w.VerifyKey}
	if user {
		r.HumanHandle, r.PublicKey = *w.HumanHandle, *w.PublicKey
	}
	return r, nil
}

// confirmation is what the greeter answers once the user or device exists.
type confirmation struct {
	UserID         parsec.UserID         `cbor:"user_id"`
	DeviceID       parsec.DeviceID       `cbor:"device_id"`
	DeviceLabel    string                `cbor:"device_label"`
	HumanHandle    parsec.HumanHandle    `cbor:"human_handle"`
	Profile        parsec.UserProfile    `cbor:"profile"`
	RootVerifyKey  crypto.VerifyKey      `cbor:"root_verify_key"`
	PrivateKey     []byte                `cbor:"private_key"` // DEVICE invitations: the user's key
	OrganizationID parsec.OrganizationID `cbor:"organization_id"`
	// Refused, when set, says why the greeter could not create the user or device (for
	// example the organization's active users limit); nothing else is set then.
	Refused string `cbor:"refused,omitempty"`
}

const (
	aadClaimerPayload = "parsec/1/invite/claimer_payload"
	aadGreeterPayload = "parsec/1/invite/greeter_payload"
	maxAutoRestarts   = 8
)

// stepper runs the mailbox of one side.
type stepper struct {
	call   func(ctx context.Context, cmd string, req, rep any) error
	cmd    string // the step command of this side
	cancel string // the cancel command of this side
	peer   string // "greeter" or "claimer", for messages
	clock  parsec.Clock
	sleep  func(ctx context.Context, d time.Duration) error
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pollDelays: the first polls are quick so that the automatic phases feel instant, then one
// per second.
var pollDelays = []time.Duration{31 * time.Millisecond, 62 * time.Millisecond, 125 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond}

// errAutoCancelled marks an attempt that the peer replaced by a newer one (it restarted).
var errAutoCancelled error = &parsec.Error{Kind: parsec.Cancelled, Msg: "the other side restarted the exchange: start again"}

// exchange sends this side's payload for a step and waits for the peer's.
func (s *stepper) exchange(ctx context.Context, attempt parsec.GreetingAttemptID, step int, payload []byte) ([]byte, error) {
	for i := 0; ; i++ {
		var rep protocol.StepRep
		err := s.call(ctx, s.cmd, protocol.StepReq{GreetingAttempt: attempt, Step: step, Payload: payload}, &rep)
		if err == nil {
			return rep.Payload, nil
		}
		se, ok := protocol.StatusOf(err)
		if !ok {
			return nil, err
		}
		switch se.Status {
		case protocol.StatusNotReady:
		case protocol.StatusGreetingAttemptCancelled:
			return nil, s.cancelledError(se)
		default:
			return nil, err
		}
		d := time.Second
		if i < len(pollDelays) {
			d = pollDelays[i]
		}
		if err := s.sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

// send records this side's payload for a step without waiting for the peer (the last
// acknowledgment).
func (s *stepper) send(ctx context.Context, attempt parsec.GreetingAttemptID, step int, payload []byte) error {
	err := s.call(ctx, s.cmd, protocol.StepReq{GreetingAttempt: attempt, Step: step, Payload: payload}, &protocol.StepRep{})
	if protocol.IsStatus(err, protocol.StatusNotReady) {
		return nil
	}
	if se, ok := protocol.StatusOf(err); ok && se.Status == protocol.StatusGreetingAttemptCancelled {
		return s.cancelledError(se)
	}
	return err
}

func (s *stepper) cancelledError(se *protocol.StatusError) error {
	ac := se.Detail.AttemptCancelled
	if ac == nil {
		return parsec.Errorf(parsec.Cancelled, "the exchange was cancelled")
	}
	mine := (ac.Origin == "GREETER") == (s.peer == "claimer")
	if ac.Reason == protocol.CancelAutomatically && !mine {
		return errAutoCancelled
	}
	who := "the " + s.peer
	if mine {
		who = "this side"
	}
	switch ac.Reason {
	case protocol.CancelAutomatically:
		// This side started again elsewhere (another window or device): the last one to
		// start goes on; taking the attempt back would cancel it in turn.
		return parsec.Errorf(parsec.Cancelled, "the exchange was started again elsewhere, which goes on with it")
	case protocol.CancelInvalidSASCode:
		return parsec.Errorf(parsec.Cancelled, "%s rejected the code: %s", who, InterceptionWarning)
	case protocol.CancelInvalidNonceHash, protocol.CancelUndecipherablePayload, protocol.CancelUndeserializablePayload, protocol.CancelInconsistentPayload:
		return parsec.Errorf(parsec.Cancelled, "%s stopped the exchange because the data received was not valid (%s): %s", who, ac.Reason, InterceptionWarning)
	case protocol.CancelManually:
		return parsec.Errorf(parsec.Cancelled, "%s cancelled the exchange", who)
	}
	return parsec.Errorf(parsec.Cancelled, "%s cancelled the exchange (%s)", who, ac.Reason)
}

// abort cancels an attempt with a reason, on a fresh context: it must reach the server even
// when ctx was cancelled (Ctrl-C).
func (s *stepper) abort(attempt parsec.GreetingAttemptID, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.call(ctx, s.cancel, protocol.CancelAttemptReq{GreetingAttempt: attempt, Reason: reason}, nil)
}

// fail cancels the attempt with a reason and returns err (a context cancellation becomes a
// manual cancel).
func (s *stepper) fail(attempt parsec.GreetingAttemptID, reason string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		s.abort(attempt, protocol.CancelManually)
		return parsec.Errorf(parsec.Cancelled, "exchange cancelled")
	}
	if reason != "" {
		s.abort(attempt, reason)
	}
	return err
}

func decodeStep(data []byte, v any) error {
	if err := codec.Unmarshal(data, v); err != nil {
		return parsec.Errorf(parsec.Tampered, "malformed exchange data from the other side: %v", err)
	}
	return nil
}

// Greeting (authenticated side).

// Greeting is a greeter's exchange in progress, after the automatic phase: the codes are
// known.
type Greeting struct {
	c          *Client
	st         *stepper
	token      parsec.AccessToken
	info       protocol.InvitationInfo
	attempt    parsec.GreetingAttemptID
	channel    crypto.SecretKey
	greeterSAS crypto.SASCode
	claimerSAS crypto.SASCode
	request    *UserRequest
}

// Greet starts greeting an invitation: it waits for the claimer to join, then runs the key
// exchange and nonce commitment (steps 0 to 3). It returns once both codes are known.
func (c *Client) Greet(ctx context.Context, token parsec.AccessToken) (*Greeting, error) {
	invs, err := c.Invitations(ctx)
	if err != nil {
		return nil, err
	}
	g := &Greeting{c: c, token: token}
	found := false
	for _, inv := range invs {
		if inv.Token == token {
			g.info, found = inv, true
		}
	}
	if !found {
		return nil, parsec.Errorf(parsec.NotFound, "invitation %s not found among the invitations you may greet", token)
	}
	if g.info.Status != protocol.InvitationStatusPending {
		return nil, parsec.Errorf(parsec.Gone, "invitation %s is %s", token, strings.ToLower(g.info.Status))
	}
	g.st = &stepper{call: c.Call, cmd: protocol.CmdGreeterStep, cancel: protocol.CmdGreeterCancelAttempt, peer: "claimer", clock: c.clock, sleep: sleepCtx}
	for range maxAutoRestarts {
		err = g.start(ctx)
		if !errors.Is(err, errAutoCancelled) {
			break
		}
	}
	if errors.Is(err, errAutoCancelled) {
		return nil, parsec.Errorf(parsec.Cancelled, "the claimer restarted the exchange too many times")
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

// Info is the invitation being greeted.
func (g *Greeting) Info() protocol.InvitationInfo { return g.info }

func (g *Greeting) start(ctx context.Context) error {
	var rep protocol.StartAttemptRep
	if err := g.c.Call(ctx, protocol.CmdGreeterStartAttempt, protocol.GreeterStartAttemptReq{Token: g.token}, &rep); err != nil {
		return err
	}
	g.attempt = rep.GreetingAttempt
	kx := crypto.NewInviteGreeter()
	x, ek := kx.PublicKeys()
	out, err := g.st.exchange(ctx, g.attempt, 0, codec.MustMarshal(greeterStep0{X25519: x, MLKEM: ek}))
	if err != nil {
		return g.st.fail(g.attempt, "", err)
	}
	var c0 claimerStep0
	if err := decodeStep(out, &c0); err != nil {
		return g.st.fail(g.attempt, protocol.CancelUndeserializablePayload, err)
	}
	out, err = g.st.exchange(ctx, g.attempt, 1, nil)
	if err != nil {
		return g.st.fail(g.attempt, "", err)
	}
	var c1 claimerStep1
	if err := decodeStep(out, &c1); err != nil {
		return g.st.fail(g.attempt, protocol.CancelUndeserializablePayload, err)
	}
	secrets, err := kx.Decapsulate(c0.X25519, c1.MLKEM)
	if err != nil {
		return g.st.fail(g.attempt, protocol.CancelUndeserializablePayload, parsec.Errorf(parsec.Tampered, "invalid key exchange data from the claimer: %v", err))
	}
	greeterNonce := crypto.NewInviteNonce()
	if _, err := g.st.exchange(ctx, g.attempt, 2, codec.MustMarshal(nonceStep{Nonce: greeterNonce})); err != nil {
		return g.st.fail(g.attempt, "", err)
	}
	out, err = g.st.exchange(ctx, g.attempt, 3, nil)
	if err != nil {
		return g.st.fail(g.attempt, "", err)
	}
	var c3 nonceStep
	if err := decodeStep(out, &c3); err != nil {
		return g.st.fail(g.attempt, protocol.CancelUndeserializablePayload, err)
	}
	if crypto.HashNonce(c3.Nonce) != c1.HashedNonce {
		return g.st.fail(g.attempt, protocol.CancelInvalidNonceHash,
			parsec.Errorf(parsec.Tampered, "the claimer's nonce does not match its commitment: %s", InterceptionWarning))
	}
	g.channel = secrets.ChannelKey()
	g.claimerSAS, g.greeterSAS = secrets.SAS(c3.Nonce, greeterNonce)
	return nil
}

// Code is the greeter's code, to read to the claimer.
func (g *Greeting) Code() crypto.SASCode { return g.greeterSAS }

// WaitClaimerTrust waits until the claimer's person picked the greeter's code (step 4).
func (g *Greeting) WaitClaimerTrust(ctx context.Context) error {
	if _, err := g.st.exchange(ctx, g.attempt, 4, nil); err != nil {
		return g.st.fail(g.attempt, "", err)
	}
	return nil
}

// ClaimerCodeChoices returns four codes, one of them the claimer's, in random order.
func (g *Greeting) ClaimerCodeChoices() []crypto.SASCode {
	choices, err := crypto.SASChoices(g.claimerSAS, 4, nil)
	if err != nil {
		panic(err) // the code is ours and valid
	}
	return choices
}

// ConfirmClaimerCode checks the code the greeter's person picked (the empty code means
// "none of them"). A wrong code cancels the attempt (INVALID_SAS_CODE): someone may be
// intercepting the exchange.
func (g *Greeting) ConfirmClaimerCode(ctx context.Context, picked crypto.SASCode) error {
	if picked != g.claimerSAS {
		g.st.abort(g.attempt, protocol.CancelInvalidSASCode)
		return parsec.Errorf(parsec.Cancelled, "wrong code: %s", InterceptionWarning)
	}
	if _, err := g.st.exchange(ctx, g.attempt, 5, nil); err != nil {
		return g.st.fail(g.attempt, "", err)
	}
	return nil
}

// Request waits for the claimer's request (step 6): the name, email and device label it
// asks for.
func (g *Greeting) Request(ctx context.Context) (UserRequest, error) {
	out, err := g.st.exchange(ctx, g.attempt, 6, nil)
	if err != nil {
		return UserRequest{}, g.st.fail(g.attempt, "", err)
	}
	plain, err := g.channel.Decrypt(out, []byte(aadClaimerPayload))
	if err != nil {
		return UserRequest{}, g.st.fail(g.attempt, protocol.CancelUndecipherablePayload,
			parsec.Errorf(parsec.Tampered, "the claimer's request cannot be decrypted: %s", InterceptionWarning))
	}
	user := g.info.Type == protocol.InvitationTypeUser
	req, err := decodeRequest(plain, user)
	if err != nil {
		return UserRequest{}, g.st.fail(g.attempt, protocol.CancelUndeserializablePayload, parsec.Errorf(parsec.Tampered, "malformed request from the claimer"))
	}
	if _, err := parsec.ParseDeviceLabel(req.DeviceLabel); err != nil || (user && (req.HumanHandle.Validate() != nil || req.PublicKey.IsZero())) {
		return UserRequest{}, g.st.fail(g.attempt, protocol.CancelInconsistentPayload, parsec.Errorf(parsec.Invalid, "the claimer's request is not valid"))
	}
	g.request = &req
	return req, nil
}

// CreateUser creates the claimer's user with the given identity (normally the requested
// one, possibly corrected by the greeter) and profile, then sends the confirmation and
// completes the invitation.
func (g *Greeting) CreateUser(ctx context.Context, handle parsec.HumanHandle, label string, profile parsec.UserProfile) (parsec.UserID, error) {
	return g.createUser(ctx, handle, label, profile, parsec.NewDeviceID())
}

// createUser is CreateUser, the claimer's device given the ID deviceID.
func (g *Greeting) createUser(ctx context.Context, handle parsec.HumanHandle, label string, profile parsec.UserProfile, deviceID parsec.DeviceID) (parsec.UserID, error) {
	if g.request == nil || g.info.Type != protocol.InvitationTypeUser {
		return parsec.UserID{}, errors.New("CreateUser: no user request received")
	}
	if err := handle.Validate(); err != nil {
		return parsec.UserID{}, err
	}
	if !profile.Valid() {
		return parsec.UserID{}, parsec.Errorf(parsec.Invalid, "invalid profile %q", profile)
	}
	if profile == parsec.ProfileOutsider {
		cfg, err := g.c.OrganizationConfig(ctx)
		if err != nil {
			return parsec.UserID{}, err
		}
		if !cfg.UserProfileOutsiderAllowed {
			return parsec.UserID{}, g.refuse(ctx, parsec.Errorf(parsec.Permission,
				"organization %s does not allow External users", g.c.dev.OrganizationID))
		}
	}
	label, err := parsec.ParseDeviceLabel(label)
	if err != nil {
		return parsec.UserID{}, err
	}
	if err := g.stillPending(ctx); err != nil {
		return parsec.UserID{}, err
	}
	userID := parsec.NewUserID()
	author := g.c.dev.DeviceID
	err = g.c.WithFreshTimestamp(ctx, 500*time.Millisecond, func(ts parsec.DateTime) error {
		u := &certif.UserCertificate{Author: &author, Timestamp: ts, UserID: userID, HumanHandle: &handle,
			PublicKey: g.request.PublicKey, Algorithm: crypto.UserKeyAlgorithm, Profile: profile}
		d := &certif.DeviceCertificate{Author: &author, Timestamp: ts, UserID: userID, DeviceID: deviceID, DeviceLabel: &label,
			VerifyKey: g.request.VerifyKey, Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose}
		u.View = g.c.seen(certif.CommonTopic)
		d.View = u.View
		ru, rd := *u, *d
		ru.HumanHandle, rd.DeviceLabel = nil, nil
		return g.c.Call(ctx, protocol.CmdUserCreate, protocol.UserCreateReq{
			UserCertificate: certif.Sign(g.c.signer, u), DeviceCertificate: certif.Sign(g.c.signer, d),
			RedactedUserCertificate: certif.Sign(g.c.signer, &ru), RedactedDeviceCertificate: certif.Sign(g.c.signer, &rd),
		}, nil)
	})
	if err != nil {
		return parsec.UserID{}, g.refuse(ctx, err)
	}
	conf := confirmation{UserID: userID, DeviceID: deviceID, DeviceLabel: label, HumanHandle: handle, Profile: profile,
		RootVerifyKey: g.c.dev.RootVerifyKey, OrganizationID: g.c.dev.OrganizationID}
	return userID, g.finish(ctx, conf)
}

// CreateDevice creates the claimer's device for this user, then sends the confirmation
// (which carries the user's private key, so the new device can read what this one reads)
// and completes the invitation.
func (g *Greeting) CreateDevice(ctx context.Context, label string) (parsec.DeviceID, error) {
	if g.request == nil || g.info.Type != protocol.InvitationTypeDevice {
		return parsec.DeviceID{}, errors.New("CreateDevice: no device request received")
	}
	label, err := parsec.ParseDeviceLabel(label)
	if err != nil {
		return parsec.DeviceID{}, err
	}
	if err := g.stillPending(ctx); err != nil {
		return parsec.DeviceID{}, err
	}
	deviceID := parsec.NewDeviceID()
	err = g.c.createDevice(ctx, g.c.dev.UserID, deviceID, label, g.request.VerifyKey, certif.DevicePurpose)
	if err != nil {
		return parsec.DeviceID{}, g.refuse(ctx, err)
	}
	conf := confirmation{UserID: g.c.dev.UserID, DeviceID: deviceID, DeviceLabel: label, HumanHandle: g.c.dev.HumanHandle,
		Profile: g.c.Profile(), RootVerifyKey: g.c.dev.RootVerifyKey, PrivateKey: g.c.dev.PrivateKey, OrganizationID: g.c.dev.OrganizationID}
	return deviceID, g.finish(ctx, conf)
}

// stillPending checks, right before the claimer's user or device is created, that the
// invitation was not cancelled during the exchange (by another Administrator, say): created
// anyway, the user would have no device anyone holds, and would keep its email from being
// invited again. (The server creates users apart from invitations, as Parsec's does: this
// check leaves a window of one request.)
func (g *Greeting) stillPending(ctx context.Context) error {
	invs, err := g.c.Invitations(ctx)
	if err != nil {
		return err
	}
	for _, inv := range invs {
		if inv.Token == g.token && inv.Status == protocol.InvitationStatusPending {
			return nil
		}
	}
	return parsec.Errorf(parsec.Gone, "the invitation was cancelled or ended during the exchange: nothing was created")
}

// finish sends the confirmation (step 7), waits for the acknowledgment (step 8) and
// completes the invitation.
func (g *Greeting) finish(ctx context.Context, conf confirmation) error {
	payload := g.channel.Encrypt(codec.MustMarshal(conf), []byte(aadGreeterPayload))
	if _, err := g.st.exchange(ctx, g.attempt, 7, payload); err != nil {
		return g.st.fail(g.attempt, "", err)
	}
	if _, err := g.st.exchange(ctx, g.attempt, 8, nil); err != nil {
		return g.st.fail(g.attempt, "", err)
	}
	return g.c.Call(ctx, protocol.CmdInviteComplete, protocol.InviteTokenReq{Token: g.token}, nil)
}

// refuse tells the claimer why its user or device could not be created (the server's
// answer, or an organization rule), then returns that error. The invitation stays pending.
func (g *Greeting) refuse(ctx context.Context, err error) error {
	if _, refused := protocol.StatusOf(err); !refused && parsec.KindOf(err) != parsec.Permission {
		return g.st.fail(g.attempt, protocol.CancelManually, err)
	}
	payload := g.channel.Encrypt(codec.MustMarshal(confirmation{Refused: err.Error()}), []byte(aadGreeterPayload))
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := g.st.send(sctx, g.attempt, 7, payload); serr != nil {
		g.st.abort(g.attempt, protocol.CancelManually)
	}
	return err
}

// Cancel cancels the attempt (MANUALLY_CANCELLED), e.g. when the person gives up.
func (g *Greeting) Cancel() { g.st.abort(g.attempt, protocol.CancelManually) }
