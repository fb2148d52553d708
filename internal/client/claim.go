package client

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/crypto/shamir"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// Claim is a claimer's exchange: a person holding an invitation link, with no device yet.
type Claim struct {
	link  protocol.Link
	t     *transport
	clock parsec.Clock
	info  protocol.InviteInfoRep
	st    *stepper

	greeter    protocol.Greeter
	attempt    parsec.GreetingAttemptID
	opts       ClaimOptions
	shares     map[parsec.UserID][]shamir.Share // SHAMIR_RECOVERY: the shares received, by recipient
	channel    crypto.SecretKey
	greeterSAS crypto.SASCode
	claimerSAS crypto.SASCode
}

// ClaimOptions tune a claim; the zero value is fine.
type ClaimOptions struct {
	HTTPClient *http.Client
	Clock      parsec.Clock
}

// NewClaim opens an invitation link and asks the server about it.
func NewClaim(ctx context.Context, link protocol.Link, opts ClaimOptions) (*Claim, error) {
	want, ok := map[string]string{protocol.ActionClaimUser: protocol.InvitationTypeUser, protocol.ActionClaimDevice: protocol.InvitationTypeDevice,
		protocol.ActionClaimRecovery: protocol.InvitationTypeRecovery}[link.Action]
	if !ok {
		return nil, parsec.Errorf(parsec.Invalid, "this is not an invitation link (action %q)", link.Action)
	}
	cl := &Claim{link: link, t: newTransport(opts.HTTPClient, link.Server, link.Org), clock: opts.Clock, opts: opts,
		shares: make(map[parsec.UserID][]shamir.Share)}
	if cl.clock == nil {
		cl.clock = parsec.SystemClock{}
	}
	cl.st = &stepper{call: cl.call, cmd: protocol.CmdClaimerStep, cancel: protocol.CmdClaimerCancelAttempt, peer: "greeter", clock: cl.clock, sleep: sleepCtx}
	if err := cl.call(ctx, protocol.CmdInviteInfo, protocol.InviteInfoReq{}, &cl.info); err != nil {
		return nil, err
	}
	if cl.info.Type != want {
		return nil, parsec.Errorf(parsec.Tampered, "the server says this %s link is a %s invitation", link.Action, cl.info.Type)
	}
	if want == protocol.InvitationTypeRecovery && (cl.info.Recovery == nil || cl.info.ClaimerUserID == nil) {
		return nil, parsec.Errorf(parsec.Tampered, "the server says nothing of the shared recovery this invitation is for")
	}
	if len(cl.info.Greeters) == 0 {
		return nil, parsec.Errorf(parsec.Unavailable, "nobody can greet this invitation any more: ask for a new one")
	}
	return cl, nil
}

func (cl *Claim) call(ctx context.Context, cmd string, req, rep any) error {
	token := cl.link.Token
	return cl.t.call(ctx, protocol.RouteInvited, cmd, req, rep, func(string, []byte) string {
		return protocol.InvitedScheme + " " + token.String()
	})
}

// Info is what the server says about the invitation.
func (cl *Claim) Info() protocol.InviteInfoRep { return cl.info }

// Greeter is who is greeting (known once Start returned).
func (cl *Claim) Greeter() protocol.Greeter { return cl.greeter }

// Start waits for a greeter and runs the key exchange and nonce commitment (steps 0 to 3).
// For a user invitation, every Administrator may greet: attempts are started with all of
// them, and the first who joins wins (the other attempts are cancelled).
func (cl *Claim) Start(ctx context.Context) error {
	var err error
	for range maxAutoRestarts {
		err = cl.start(ctx)
		if !errors.Is(err, errAutoCancelled) {
			break
		}
	}
	if errors.Is(err, errAutoCancelled) {
		return parsec.Errorf(parsec.Cancelled, "the greeter restarted the exchange too many times")
	}
	return err
}

type candidate struct {
	greeter protocol.Greeter
	attempt parsec.GreetingAttemptID
	kx      *crypto.InviteClaimer
}

func (cl *Claim) start(ctx context.Context) error {
	var cands []*candidate
	for _, g := range cl.info.Greeters {
		if _, done := cl.shares[g.UserID]; done {
			continue // a recipient gives its shares once
		}
		var rep protocol.StartAttemptRep
		if err := cl.call(ctx, protocol.CmdClaimerStartAttempt, protocol.ClaimerStartAttemptReq{Greeter: g.UserID}, &rep); err != nil {
			if protocol.IsStatus(err, protocol.StatusGreeterNotAllowed, protocol.StatusGreeterRevoked) {
				continue // no longer a greeter
			}
			cl.abortAll(cands, nil)
			return err
		}
		cands = append(cands, &candidate{greeter: g, attempt: rep.GreetingAttempt, kx: crypto.NewInviteClaimer()})
	}
	if len(cands) == 0 {
		return parsec.Errorf(parsec.Unavailable, "nobody can greet this invitation any more: ask for a new one")
	}
	// Step 0 with every candidate, round robin, until one greeter answers.
	var winner *candidate
	var out []byte
	for i := 0; winner == nil; i++ {
		for _, cd := range cands {
			var rep protocol.StepRep
			err := cl.call(ctx, protocol.CmdClaimerStep, protocol.StepReq{GreetingAttempt: cd.attempt, Step: 0,
				Payload: codec.MustMarshal(claimerStep0{X25519: cd.kx.PublicKey()})}, &rep)
			if err == nil {
				winner, out = cd, rep.Payload
				break
			}
			if protocol.IsStatus(err, protocol.StatusNotReady) {
				continue
			}
			if se, ok := protocol.StatusOf(err); ok && se.Status == protocol.StatusGreetingAttemptCancelled {
				err = cl.st.cancelledError(se)
			}
			cl.abortAll(cands, nil)
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return parsec.Errorf(parsec.Cancelled, "exchange cancelled")
			}
			return err
		}
		if winner != nil {
			break
		}
		d := time.Second
		if i < len(pollDelays) {
			d = pollDelays[i]
		}
		if err := sleepCtx(ctx, d); err != nil {
			cl.abortAll(cands, nil)
			return parsec.Errorf(parsec.Cancelled, "exchange cancelled")
		}
	}
	cl.abortAll(cands, winner)
	cl.greeter, cl.attempt = winner.greeter, winner.attempt

	var g0 greeterStep0
	if err := decodeStep(out, &g0); err != nil {
		return cl.st.fail(cl.attempt, protocol.CancelUndeserializablePayload, err)
	}
	ct, secrets, err := winner.kx.Encapsulate(g0.X25519, g0.MLKEM)
	if err != nil {
		return cl.st.fail(cl.attempt, protocol.CancelUndeserializablePayload, parsec.Errorf(parsec.Tampered, "invalid key exchange data from the greeter: %v", err))
	}
	claimerNonce := crypto.NewInviteNonce()
	if _, err := cl.st.exchange(ctx, cl.attempt, 1, codec.MustMarshal(claimerStep1{HashedNonce: crypto.HashNonce(claimerNonce), MLKEM: ct})); err != nil {
		return cl.st.fail(cl.attempt, "", err)
	}
	out, err = cl.st.exchange(ctx, cl.attempt, 2, nil)
	if err != nil {
		return cl.st.fail(cl.attempt, "", err)
	}
	var g2 nonceStep
	if err := decodeStep(out, &g2); err != nil {
		return cl.st.fail(cl.attempt, protocol.CancelUndeserializablePayload, err)
	}
	if len(g2.Nonce) != crypto.InviteNonceSize {
		return cl.st.fail(cl.attempt, protocol.CancelInconsistentPayload, parsec.Errorf(parsec.Tampered, "the greeter's nonce has %d bytes", len(g2.Nonce)))
	}
	if _, err := cl.st.exchange(ctx, cl.attempt, 3, codec.MustMarshal(nonceStep{Nonce: claimerNonce})); err != nil {
		return cl.st.fail(cl.attempt, "", err)
	}
	cl.channel = secrets.ChannelKey()
	cl.claimerSAS, cl.greeterSAS = secrets.SAS(claimerNonce, g2.Nonce)
	return nil
}

// abortAll cancels every candidate attempt but the winner.
func (cl *Claim) abortAll(cands []*candidate, winner *candidate) {
	for _, cd := range cands {
		if cd != winner {
			cl.st.abort(cd.attempt, protocol.CancelManually)
		}
	}
}

// GreeterCodeChoices returns four codes, one of them the greeter's, in random order.
func (cl *Claim) GreeterCodeChoices() []crypto.SASCode {
	choices, err := crypto.SASChoices(cl.greeterSAS, 4, nil)
	if err != nil {
		panic(err)
	}
	return choices
}

// ConfirmGreeterCode checks the code the claimer's person picked (empty: "none of them") and
// tells the greeter (step 4). A wrong code cancels the attempt (INVALID_SAS_CODE).
func (cl *Claim) ConfirmGreeterCode(ctx context.Context, picked crypto.SASCode) error {
	if picked != cl.greeterSAS {
		cl.st.abort(cl.attempt, protocol.CancelInvalidSASCode)
		return parsec.Errorf(parsec.Cancelled, "wrong code: %s", InterceptionWarning)
	}
	if _, err := cl.st.exchange(ctx, cl.attempt, 4, nil); err != nil {
		return cl.st.fail(cl.attempt, "", err)
	}
	return nil
}

// Code is the claimer's code, to read to the greeter.
func (cl *Claim) Code() crypto.SASCode { return cl.claimerSAS }

// WaitGreeterTrust waits until the greeter's person picked the claimer's code (step 5).
func (cl *Claim) WaitGreeterTrust(ctx context.Context) error {
	if _, err := cl.st.exchange(ctx, cl.attempt, 5, nil); err != nil {
		return cl.st.fail(cl.attempt, "", err)
	}
	return nil
}

// Finish sends the request (for a user invitation, handle is the person's name and email;
// for a device invitation it is ignored), waits for the greeter to create the user or device
// (steps 6 and 7), saves the new device in configDir under password, and acknowledges
// (step 8). It returns the saved device.
func (cl *Claim) Finish(ctx context.Context, configDir string, handle parsec.HumanHandle, label string, password []byte) (*device.Local, error) {
	label, err := parsec.ParseDeviceLabel(label)
	if err != nil {
		return nil, err
	}
	if len(password) == 0 {
		return nil, parsec.Errorf(parsec.Invalid, "the device password must not be empty")
	}
	user := cl.info.Type == protocol.InvitationTypeUser
	if user {
		if err := handle.Validate(); err != nil {
			return nil, err
		}
	}
	signer := crypto.GenerateSigningKey()
	userKey := crypto.GenerateUserKey()
	req := UserRequest{DeviceLabel: label, VerifyKey: signer.VerifyKey()}
	if user {
		req.HumanHandle, req.PublicKey = handle, userKey.Public()
	}
	payload := cl.channel.Encrypt(req.encode(user), []byte(aadClaimerPayload))
	if _, err := cl.st.exchange(ctx, cl.attempt, 6, payload); err != nil {
		return nil, cl.st.fail(cl.attempt, "", err)
	}
	out, err := cl.st.exchange(ctx, cl.attempt, 7, nil)
	if err != nil {
		return nil, cl.st.fail(cl.attempt, "", err)
	}
	plain, err := cl.channel.Decrypt(out, []byte(aadGreeterPayload))
	if err != nil {
		return nil, cl.st.fail(cl.attempt, protocol.CancelUndecipherablePayload,
			parsec.Errorf(parsec.Tampered, "the greeter's confirmation cannot be decrypted: %s", InterceptionWarning))
	}
	var conf confirmation
	if err := codec.Unmarshal(plain, &conf); err != nil {
		return nil, cl.st.fail(cl.attempt, protocol.CancelUndeserializablePayload, parsec.Errorf(parsec.Tampered, "malformed confirmation from the greeter"))
	}
	if conf.Refused != "" {
		return nil, parsec.Errorf(parsec.Permission, "the greeter could not create your %s: %s", map[bool]string{true: "user", false: "device"}[user], conf.Refused)
	}
	if conf.OrganizationID != cl.link.Org || conf.UserID.IsZero() || conf.DeviceID.IsZero() || !conf.Profile.Valid() ||
		(user && conf.Profile != "" && conf.HumanHandle.Validate() != nil) {
		return nil, cl.st.fail(cl.attempt, protocol.CancelInconsistentPayload, parsec.Errorf(parsec.Tampered, "inconsistent confirmation from the greeter"))
	}
	local := &device.Local{
		ServerURL: cl.link.Server.HTTPURL(), OrganizationID: cl.link.Org, RootVerifyKey: conf.RootVerifyKey,
		UserID: conf.UserID, DeviceID: conf.DeviceID, DeviceLabel: conf.DeviceLabel, HumanHandle: conf.HumanHandle,
		InitialProfile: conf.Profile, SigningKey: signer.Seed(), PrivateKey: userKey.Bytes(), LocalKey: crypto.GenerateSecretKey(),
	}
	if !user {
		if _, err := crypto.ParseUserPrivateKey(conf.PrivateKey); err != nil {
			return nil, cl.st.fail(cl.attempt, protocol.CancelInconsistentPayload, parsec.Errorf(parsec.Tampered, "the greeter sent an invalid user key"))
		}
		local.PrivateKey = conf.PrivateKey
	}
	if err := device.Create(device.Path(configDir, local.DeviceID), local, password, cl.clock.Now()); err != nil {
		if parsec.IsKind(err, parsec.Exists) {
			// The greeter chose the device's ID: one of a device this computer holds
			// (of another organization, say) would have replaced it.
			return nil, cl.st.fail(cl.attempt, protocol.CancelInconsistentPayload, parsec.Errorf(parsec.Tampered,
				"the greeter gave your new device the ID of a device this computer already holds (%s): nothing was saved, and that device is kept", parsec.ShortID(local.DeviceID)))
		}
		cl.st.abort(cl.attempt, protocol.CancelManually)
		return nil, err
	}
	if err := cl.st.send(ctx, cl.attempt, 8, nil); err != nil {
		return local, err
	}
	return local, nil
}

// Cancel cancels the attempt (MANUALLY_CANCELLED).
func (cl *Claim) Cancel() {
	if !cl.attempt.IsZero() {
		cl.st.abort(cl.attempt, protocol.CancelManually)
	}
}
