package gui

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skip2/go-qrcode"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Invitations and the token exchange, on both sides: an Administrator greets a guest (or a
// user greets their new device), a guest joins. Each exchange runs in the GUI process as a
// flow, one step after another, exactly as the CLI runs it; its page follows the flow live and
// sends the person's choices to it.

type invitationRow struct {
	Token    string
	Waiting  bool // the guest opened the link and waits to be greeted
	Email    string
	Device   bool
	Recovery bool   // a shared recovery
	Name     string // the user to recover
	Holder   bool   // this user holds shares of their setup, and so may greet them
	Link     string
	Date     parsec.DateTime
}

// Who is how the row names the person invited.
func (r invitationRow) Who() string {
	if r.Recovery {
		return r.Name
	}
	return r.Email
}

type invitationsData struct {
	Pending []invitationRow
	Err     string
	Created []inviteOutcome
}

type inviteOutcome struct {
	Email string
	Text  string
	Link  string // to copy when the email was not sent
	Alert bool
}

func (a *App) invitationsPage(w http.ResponseWriter, r *http.Request) {
	a.page(w, r, "invitations", "Invitations", a.invitations(r), true)
}

func (a *App) invitations(r *http.Request) invitationsData {
	s := a.session(r)
	var d invitationsData
	invs, err := s.c.Invitations(r.Context())
	if err != nil {
		d.Err = errText(err)
		return d
	}
	var holds map[parsec.UserID]bool // users whose setup this user holds shares of
	for _, inv := range invs {
		if inv.Status != client.InvitationPending {
			continue
		}
		if inv.Type == client.InvitationRecovery && holds == nil {
			holds = map[parsec.UserID]bool{}
			if _, others, err := s.c.SharedRecoveries(r.Context()); err == nil {
				for _, o := range others {
					holds[o.User.ID] = true
				}
			}
		}
		row := invitationRow{Token: inv.Token.String(), Email: inv.ClaimerEmail, Device: inv.Type == client.InvitationDevice, Date: inv.CreatedOn}
		if inv.Type == client.InvitationRecovery && inv.ClaimerUserID != nil {
			h := s.c.UserHandle(*inv.ClaimerUserID)
			row.Recovery, row.Name, row.Email, row.Holder = true, h.Label, h.Email, holds[*inv.ClaimerUserID]
		}
		a.mu.Lock()
		row.Waiting = a.waiting[inv.Token]
		a.mu.Unlock()
		row.Link = s.c.InvitationLink(inv).HTTPRedirect()
		d.Pending = append(d.Pending, row)
		if row.Recovery && row.Token == r.URL.Query().Get("created") {
			d.Created = append(d.Created, inviteOutcome{Email: row.Name, Link: row.Link,
				Text: "invitation to recover their account created. It is not sent by email: copy the link below and pass it on to them, then greet them here when they open it."})
		}
	}
	return d
}

// postInvite invites one or several people (emails separated by spaces, commas or
// semicolons), each with an email, and tells what became of each.
func (a *App) postInvite(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	emails := strings.FieldsFunc(r.PostFormValue("emails"), func(c rune) bool {
		return c == ',' || c == ';' || c == ' ' || c == '\n' || c == '\r' || c == '\t'
	})
	if len(emails) == 0 {
		a.say(true, "Enter the email address of the person to invite.")
		http.Redirect(w, r, "/invitations", http.StatusSeeOther)
		return
	}
	var out []inviteOutcome
	seen := map[string]bool{}
	for _, e := range emails {
		if seen[strings.ToLower(e)] {
			continue
		}
		seen[strings.ToLower(e)] = true
		inv, err := s.c.InviteUser(r.Context(), e, true)
		o := inviteOutcome{Email: e}
		switch {
		case parsec.IsKind(err, parsec.Exists):
			o.Text, o.Alert = "already a member of the organization: no invitation", true
		case err != nil:
			o.Text, o.Alert = errText(err), true
		case inv.EmailSent == client.EmailSent:
			o.Text = "invitation sent by email"
		default:
			o.Text, o.Link, o.Alert = "invitation created, but the email could not be sent: copy the link below and send it yourself", inv.Link.HTTPRedirect(), true
		}
		out = append(out, o)
	}
	d := a.invitations(r)
	d.Created = out
	a.events.publish("changed")
	// Live like the list itself: the guests who start joining show up at once, and the
	// page keeps these outcomes (data-keep) while it refreshes.
	a.page(w, r, "invitations", "Invitations", d, true)
}

func (a *App) postCancelInvitation(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	token, err := parsec.ParseAccessToken(r.PathValue("token"))
	if err == nil {
		err = s.c.CancelInvitation(r.Context(), token)
	}
	a.report(w, r, "/invitations", err, "Invitation cancelled: its link no longer works.")
}

// postResend sends the invitation email again (the same link).
func (a *App) postResend(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	email := r.PostFormValue("email")
	inv, err := s.c.InviteUser(r.Context(), email, true)
	switch {
	case err != nil:
		a.say(true, errText(err))
	case inv.EmailSent == client.EmailSent:
		a.say(false, "Invitation sent again to "+email+".")
	default:
		a.say(true, "The email to "+email+" could not be sent: copy the invitation link and send it yourself.")
	}
	http.Redirect(w, r, "/invitations", http.StatusSeeOther)
}

// postAddDevice creates an invitation for a new device of this user and greets it.
func (a *App) postAddDevice(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	inv, err := s.c.InviteDevice(r.Context(), false)
	if err != nil {
		a.say(true, errText(err))
		http.Redirect(w, r, "/devices", http.StatusSeeOther)
		return
	}
	f := a.newFlow("greet", "Add a device")
	f.view.Device = true
	f.view.Link = inv.Link.HTTPRedirect()
	go f.greet(s, inv.Token)
	http.Redirect(w, r, "/flow/"+f.id, http.StatusSeeOther)
}

// postGreet starts greeting the holder of an invitation.
func (a *App) postGreet(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	token, err := parsec.ParseAccessToken(r.PathValue("token"))
	if err != nil {
		a.say(true, errText(err))
		http.Redirect(w, r, "/invitations", http.StatusSeeOther)
		return
	}
	who := r.PostFormValue("who")
	if who == "" {
		who = r.PostFormValue("email")
	}
	f := a.newFlow("greet", "Greet "+who)
	f.view.Who = who
	go f.greet(s, token)
	http.Redirect(w, r, "/flow/"+f.id, http.StatusSeeOther)
}

// joinPage opens an invitation link: who invites, then the exchange.
func (a *App) joinPage(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	link := a.link
	a.mu.Unlock()
	if link == nil || link.Action == client.ActionBootstrap {
		a.say(true, "Open an invitation link first (Enter a URL manually).")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	d := joinData{Org: string(link.Org), Recovery: link.Action == client.ActionClaimRecovery}
	title := "Join an organization"
	if d.Recovery {
		title = "Recover your account"
	}
	a.page(w, r, "join", title, d, false)
}

type joinData struct {
	Org      string
	Recovery bool // a shared-recovery invitation
}

// postJoin starts the guest's side of the exchange.
func (a *App) postJoin(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	link := a.link
	a.link = nil
	a.mu.Unlock()
	if link == nil || link.Action == client.ActionBootstrap {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if link.Action == client.ActionClaimRecovery {
		f := a.newFlow("recover", "Recover your account in "+string(link.Org))
		f.view.Org = string(link.Org)
		f.view.Device = true
		f.view.Recovery = true
		f.view.Label = hostname()
		go f.recover(*link)
		http.Redirect(w, r, "/flow/"+f.id, http.StatusSeeOther)
		return
	}
	f := a.newFlow("join", "Join "+string(link.Org))
	f.view.Org = string(link.Org)
	f.view.Device = link.Action == client.ActionClaimDevice
	f.view.Label = hostname()
	go f.join(*link)
	http.Redirect(w, r, "/flow/"+f.id, http.StatusSeeOther)
}

// A flow is one token exchange running in the GUI process.
type flow struct {
	id     string
	a      *App
	ctx    context.Context
	cancel context.CancelFunc
	input  chan url.Values // the person's answer at a step that waits for one

	mu      sync.Mutex
	view    flowView
	version int           // counts the changes of view
	changed chan struct{} // closed and replaced at each change
}

// flowView is what the flow's page shows.
type flowView struct {
	ID    string
	Kind  string // "greet" or "join"
	Title string
	Step  string // see the template flow.html
	Who   string // the other person
	Org   string
	Code  string   // this side's code, to read out
	Codes []string // the other side's candidates
	// Greet: the guest's request, and the profiles offered for a new user.
	Name, Email, Label string
	Profiles           []parsec.UserProfile
	Device             bool   // a device joins
	Link               string // the invitation link (device: to open on the new computer)
	Done               string
	Err                string
	Interception       bool // the codes did not match: someone may be intercepting
	// Shared recovery: the greeter sends shares; the claimer collects them, recipient after
	// recipient.
	Recovery   bool
	Needed     int
	Collected  int
	Recipients []recipientView
	Received   []string // "Received 1 share from …: 1 of 2.", one per exchange
}

// recipientView is a recipient of the setup a claimer recovers with.
type recipientView struct {
	Name     string
	Shares   int
	Revoked  bool
	Received bool
}

func (a *App) newFlow(kind, title string) *flow {
	ctx, cancel := context.WithCancel(context.Background())
	f := &flow{id: randomHex(8), a: a, ctx: ctx, cancel: cancel, input: make(chan url.Values, 1), changed: make(chan struct{})}
	f.view = flowView{ID: f.id, Kind: kind, Title: title, Step: "wait"}
	a.mu.Lock()
	a.flows[f.id] = f
	a.mu.Unlock()
	return f
}

// set changes what the page shows, and tells it.
func (f *flow) set(change func(v *flowView)) {
	f.mu.Lock()
	change(&f.view)
	f.version++
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	f.a.events.publish("changed")
}

// answer gives the person's answer to the step the flow waits at (and ignores an answer to
// another step, sent twice or too late), then waits a moment for the flow to take it, so
// that the page drawn next shows what followed.
func (f *flow) answer(step string, in url.Values) {
	f.mu.Lock()
	waiting, changed := f.view.Step == step, f.changed
	f.mu.Unlock()
	if !waiting {
		return
	}
	select {
	case f.input <- in:
	default:
		return
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
	}
}

func (f *flow) snapshot() flowView {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.view
	v.Codes = append([]string(nil), f.view.Codes...)
	v.Recipients = append([]recipientView(nil), f.view.Recipients...)
	v.Received = append([]string(nil), f.view.Received...)
	return v
}

// ask shows a step that waits for the person, and returns their answer.
func (f *flow) ask(step string, change func(v *flowView)) (url.Values, error) {
	f.set(func(v *flowView) {
		v.Step = step
		if change != nil {
			change(v)
		}
	})
	select {
	case <-f.ctx.Done():
		return nil, parsec.Errorf(parsec.Cancelled, "the exchange was cancelled")
	case in := <-f.input:
		return in, nil
	}
}

// fail ends the flow with an error.
func (f *flow) fail(err error) {
	f.set(func(v *flowView) {
		v.Step = "failed"
		v.Err = errText(err)
		v.Interception = strings.Contains(err.Error(), client.InterceptionWarning)
		if f.ctx.Err() != nil {
			v.Err = "The exchange was cancelled: nothing was created, and the invitation is still pending."
		}
	})
}

func (f *flow) stop() { f.cancel() }

// pickCode asks to pick the other side's code among the candidates; "" means none.
func (f *flow) pickCode(choices []crypto.SASCode) (crypto.SASCode, error) {
	var codes []string
	for _, c := range choices {
		codes = append(codes, string(c))
	}
	in, err := f.ask("pick", func(v *flowView) { v.Codes = codes })
	if err != nil {
		return "", err
	}
	picked := in.Get("code")
	for _, c := range choices {
		if string(c) == picked {
			return c, nil
		}
	}
	return "", nil
}

// greet runs the host's side: wait for the guest, codes both ways, then create them.
func (f *flow) greet(s *session, token parsec.AccessToken) {
	ctx := f.ctx
	g, err := s.c.Greet(ctx, token)
	if err != nil {
		f.fail(err)
		return
	}
	defer func() {
		if ctx.Err() != nil {
			g.Cancel()
		}
	}()
	f.set(func(v *flowView) { v.Step = "hostcode"; v.Code = string(g.Code()) })
	if err := g.WaitClaimerTrust(ctx); err != nil {
		f.fail(err)
		return
	}
	picked, err := f.pickCode(g.ClaimerCodeChoices())
	if err != nil {
		f.fail(err)
		return
	}
	if g.Info().Type == client.InvitationRecovery {
		f.set(func(v *flowView) { v.Step, v.Recovery = "sending", true })
	} else {
		f.set(func(v *flowView) { v.Step = "waitinfo" })
	}
	if err := g.ConfirmClaimerCode(ctx, picked); err != nil {
		f.fail(err)
		return
	}
	if g.Info().Type == client.InvitationRecovery {
		n, err := g.SendShares(ctx)
		if err != nil {
			f.fail(err)
			return
		}
		name := s.c.UserHandle(*g.Info().ClaimerUserID).Label
		f.set(func(v *flowView) {
			v.Step = "done"
			v.Done = fmt.Sprintf("%d %s sent to %s.", n, pluralWord(n, "share", "shares"), name)
		})
		return
	}
	req, err := g.Request(ctx)
	if err != nil {
		f.fail(err)
		return
	}
	device := g.Info().Type == client.InvitationDevice
	profiles := []parsec.UserProfile{parsec.ProfileAdmin, parsec.ProfileStandard}
	if cfg, err := s.c.OrganizationConfig(ctx); err == nil && cfg.UserProfileOutsiderAllowed {
		profiles = append(profiles, parsec.ProfileOutsider)
	}
	for {
		in, err := f.ask("check", func(v *flowView) {
			v.Name, v.Email, v.Label, v.Device, v.Profiles = req.HumanHandle.Label, req.HumanHandle.Email, req.DeviceLabel, device, profiles
		})
		if err != nil {
			f.fail(err)
			return
		}
		label := strings.TrimSpace(in.Get("label"))
		if label == "" {
			label = req.DeviceLabel
		}
		if device {
			f.set(func(v *flowView) { v.Step, v.Err = "creating", "" })
			if _, err := g.CreateDevice(ctx, label); err != nil {
				f.fail(err)
				return
			}
			f.set(func(v *flowView) {
				v.Step = "done"
				v.Done = "The device “" + label + "” was added: it can log in now."
			})
			return
		}
		profile, perr := parsec.ParseProfile(in.Get("profile"))
		if perr != nil || in.Get("profile") == "" {
			f.set(func(v *flowView) { v.Err = "Choose the new user's profile." })
			continue
		}
		handle := req.HumanHandle
		if name := strings.TrimSpace(in.Get("name")); name != "" && name != handle.Label {
			h, err := parsec.NewHumanHandle(handle.Email, name)
			if err != nil {
				f.set(func(v *flowView) { v.Err = errText(err) })
				continue
			}
			handle = h
		}
		f.set(func(v *flowView) { v.Step, v.Err = "creating", "" })
		if _, err := g.CreateUser(ctx, handle, label, profile); err != nil {
			f.fail(err)
			return
		}
		f.set(func(v *flowView) {
			v.Step, v.Err = "done", ""
			v.Done = handle.Label + " (" + handle.Email + ") joined the organization as " + profileWord(profile) + "."
		})
		return
	}
}

// claim starts the claimer's side of the invitation link; on failure the flow says why and
// ok is false.
func (f *flow) claim(link client.Link) (cl *client.Claim, ok bool) {
	cl, err := client.NewClaim(f.ctx, link, client.ClaimOptions{HTTPClient: f.a.cfg.HTTPClient})
	if err != nil {
		f.fail(err)
		return nil, false
	}
	return cl, true
}

// cancelClaimIfStopped tells the server the attempt is over when the flow was stopped
// (closed, or left for another page) rather than finished.
func (f *flow) cancelClaimIfStopped(cl *client.Claim) {
	if f.ctx.Err() != nil {
		cl.Cancel()
	}
}

// join runs the guest's side: wait for a host, codes both ways, then the guest's details.
func (f *flow) join(link client.Link) {
	ctx := f.ctx
	a := f.a
	cl, ok := f.claim(link)
	if !ok {
		return
	}
	defer f.cancelClaimIfStopped(cl)
	info := cl.Info()
	f.set(func(v *flowView) {
		v.Step = "wait"
		v.Who = info.CreatedBy.HumanHandle.String()
		v.Email = info.ClaimerEmail
		if info.ClaimerHumanHandle != nil {
			v.Name, v.Email = info.ClaimerHumanHandle.Label, info.ClaimerHumanHandle.Email
		}
	})
	if err := f.exchangeCodes(cl); err != nil {
		f.fail(err)
		return
	}
	for {
		in, err := f.ask("details", nil)
		if err != nil {
			f.fail(err)
			return
		}
		label := strings.TrimSpace(in.Get("label"))
		password, perr := newPasswordOf(in)
		var handle parsec.HumanHandle
		if perr == nil && info.Type == client.InvitationUser {
			handle, perr = parsec.NewHumanHandle(info.ClaimerEmail, in.Get("name"))
		}
		if perr == nil && label == "" {
			perr = parsec.Errorf(parsec.Invalid, "name this device (for example after the computer)")
		}
		if perr != nil {
			f.set(func(v *flowView) { v.Err, v.Name, v.Label = errText(perr), in.Get("name"), label })
			continue
		}
		f.set(func(v *flowView) { v.Step, v.Err = "finishing", "" })
		dev, err := cl.Finish(ctx, a.cfg.ConfigDir, handle, label, password)
		clear(password)
		if err != nil && dev == nil {
			f.fail(err)
			return
		}
		if err := a.start(dev); err != nil {
			f.fail(err)
			return
		}
		f.set(func(v *flowView) {
			v.Step = "done"
			v.Done = "You have joined the organization " + string(link.Org) + "."
			if info.Type == client.InvitationDevice {
				v.Done = "This computer is now a device of yours in " + string(link.Org) + "."
			}
		})
		return
	}
}

// exchangeCodes runs the claimer's side of the code exchange with whoever greets: waits for
// them, has the person pick the greeter's code, shows the claimer's, and waits for the
// greeter to pick it.
func (f *flow) exchangeCodes(cl *client.Claim) error {
	if err := cl.Start(f.ctx); err != nil {
		return err
	}
	f.set(func(v *flowView) { v.Who = cl.Greeter().HumanHandle.String() })
	picked, err := f.pickCode(cl.GreeterCodeChoices())
	if err != nil {
		return err
	}
	f.set(func(v *flowView) { v.Step = "confirming" })
	if err := cl.ConfirmGreeterCode(f.ctx, picked); err != nil {
		return err
	}
	f.set(func(v *flowView) { v.Step = "guestcode"; v.Code = string(cl.Code()) })
	return cl.WaitGreeterTrust(f.ctx)
}

// newPasswordOf reads a new password typed twice from an answer.
func newPasswordOf(in url.Values) ([]byte, error) {
	p1, p2 := in.Get("password"), in.Get("password2")
	switch {
	case len(p1) < 8:
		return nil, parsec.Errorf(parsec.Invalid, "the password must have at least 8 characters")
	case p1 != p2:
		return nil, parsec.Errorf(parsec.Invalid, "the two passwords differ")
	}
	return []byte(p1), nil
}

func (a *App) flowOf(r *http.Request) *flow {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.flows[r.PathValue("id")]
}

// flowQR serves the flow's invitation link as a QR code, for a new device with a camera.
func (a *App) flowQR(w http.ResponseWriter, r *http.Request) {
	f := a.flowOf(r)
	if f == nil || f.snapshot().Link == "" {
		http.NotFound(w, r)
		return
	}
	png, err := qrcode.Encode(f.snapshot().Link, qrcode.Medium, 256)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(png)
}

func (a *App) flowPage(w http.ResponseWriter, r *http.Request) {
	f := a.flowOf(r)
	if f == nil {
		a.say(true, "This exchange is over.")
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	v := f.snapshot()
	live := v.Step != "check" && v.Step != "details"
	a.page(w, r, "flow", v.Title, v, live)
}

// postFlow takes the person's answer to the step the flow waits at, or cancels it.
func (a *App) postFlow(w http.ResponseWriter, r *http.Request) {
	f := a.flowOf(r)
	if f == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	r.ParseForm()
	back := "/flow/" + f.id
	switch r.PostForm.Get("action") {
	case "cancel":
		f.cancel()
	case "close":
		f.cancel()
		a.mu.Lock()
		delete(a.flows, f.id)
		a.mu.Unlock()
		back = "/"
	default:
		f.answer(r.PostForm.Get("step"), r.PostForm)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// recover runs the claimer's side of a shared recovery: exchanges with recipients, one after
// the other, each sending their shares, until enough came; then the new device, and the
// person is logged in with it.
func (f *flow) recover(link client.Link) {
	ctx := f.ctx
	a := f.a
	cl, ok := f.claim(link)
	if !ok {
		return
	}
	defer f.cancelClaimIfStopped(cl)
	info := cl.Info()
	recipients := func() []recipientView {
		var out []recipientView
		for _, r := range info.Recovery.Recipients {
			out = append(out, recipientView{Name: r.HumanHandle.String(), Shares: r.Shares, Revoked: r.Revoked, Received: cl.Collected(r.UserID)})
		}
		slices.SortFunc(out, func(x, y recipientView) int { return cmp.Compare(x.Name, y.Name) })
		return out
	}
	f.set(func(v *flowView) {
		v.Step, v.Needed, v.Recipients = "wait", cl.SharesNeeded(), recipients()
		if info.ClaimerHumanHandle != nil {
			v.Name, v.Email = info.ClaimerHumanHandle.Label, info.ClaimerHumanHandle.Email
		}
	})
	for cl.SharesCollected() < cl.SharesNeeded() {
		f.set(func(v *flowView) { v.Step, v.Who, v.Code, v.Codes = "wait", "", "", nil })
		if err := f.exchangeCodes(cl); err != nil {
			f.fail(err)
			return
		}
		greeter := cl.Greeter().HumanHandle.String()
		f.set(func(v *flowView) { v.Step = "receiving" })
		n, err := cl.ReceiveShares(ctx)
		if err != nil {
			f.fail(err)
			return
		}
		got := fmt.Sprintf("Received %d %s from %s: %d of %d.", n, pluralWord(n, "share", "shares"), greeter, cl.SharesCollected(), cl.SharesNeeded())
		f.set(func(v *flowView) {
			v.Collected, v.Recipients, v.Received = cl.SharesCollected(), recipients(), append(v.Received, got)
		})
	}
	for {
		in, err := f.ask("details", func(v *flowView) { v.Who = "" })
		if err != nil {
			f.fail(err)
			return
		}
		label := strings.TrimSpace(in.Get("label"))
		password, perr := newPasswordOf(in)
		switch {
		case perr != nil:
		case label == "":
			perr = parsec.Errorf(parsec.Invalid, "name this device (for example after the computer)")
		default:
			_, perr = parsec.ParseDeviceLabel(label)
		}
		if perr != nil {
			f.set(func(v *flowView) { v.Err, v.Label = errText(perr), label })
			continue
		}
		f.set(func(v *flowView) { v.Step, v.Err = "recovering", "" })
		dev, err := cl.Recover(ctx, a.cfg.ConfigDir, label, password)
		clear(password)
		if err != nil && dev == nil {
			f.fail(err)
			return
		}
		if err := a.start(dev); err != nil {
			f.fail(err)
			return
		}
		f.set(func(v *flowView) {
			v.Step = "done"
			v.Done = "Welcome back: this computer is now a device of yours in " + string(link.Org) + ", protected by the password you chose."
		})
		return
	}
}

// pluralWord is one or many after n.
func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
