package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

func (a *app) inviteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "invite",
		Short: "Invite people and devices, and run the code exchange (greet, claim)",
		Long: `Invite a person (Administrators) or a new device of your own, then verify them: the person
who invites ("greet") and the person invited ("claim") run their commands at the same time and
read each other a short code, in person or on a channel they trust. Nobody in the middle, the
server included, can then impersonate either of them.`,
	}
	cmd.AddCommand(a.inviteUserCmd(), a.inviteDeviceCmd(), a.inviteListCmd(), a.inviteCancelCmd(), a.inviteGreetCmd(), a.inviteClaimCmd(),
		a.inviteSharedRecoveryCmd())
	return cmd
}

func (a *app) printInvitation(inv client.Invitation, sendEmail bool) {
	a.out("Invitation token: %s", inv.Token)
	a.out("Invitation URL: %s", inv.Link.HTTPRedirect())
	if !sendEmail {
		return
	}
	switch inv.EmailSent {
	case client.EmailSent:
		a.say("The invitation email was sent.")
	case client.EmailRecipientRefused:
		a.say("The invitation email was NOT sent: the mail server refused the recipient. Pass the URL on by hand.")
	default:
		a.say("The invitation email was NOT sent: the server could not send it. Pass the URL on by hand.")
	}
}

func (a *app) inviteUserCmd() *cobra.Command {
	var df deviceFlags
	var sendEmail bool
	cmd := &cobra.Command{
		Use:   "user EMAIL -d DEVICE",
		Short: "Invite a person to the organization by email (Administrators)",
		Long: `Invite a person to the organization. Inviting the same email again gives the same invitation.
The person then runs "parsec invite claim URL" while you run "parsec invite greet TOKEN".`,
		Args: exactArgs(1, "the email of the person to invite"),
		RunE: func(cmd *cobra.Command, args []string) error {
			email, err := parsec.ParseEmail(args[0])
			if err != nil {
				return err
			}
			c, err := a.open(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			inv, err := c.InviteUser(cmd.Context(), email, sendEmail)
			if err != nil {
				return err
			}
			a.printInvitation(inv, sendEmail)
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVar(&sendEmail, "send-email", false, "have the server email the invitation link")
	return cmd
}

func (a *app) inviteDeviceCmd() *cobra.Command {
	var df deviceFlags
	var sendEmail bool
	cmd := &cobra.Command{
		Use:   "device -d DEVICE",
		Short: "Invite a new device of your own",
		Long: `Invite a new device for yourself. On the new device run "parsec invite claim URL" while this
device runs "parsec invite greet TOKEN".`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.open(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			inv, err := c.InviteDevice(cmd.Context(), sendEmail)
			if err != nil {
				return err
			}
			a.printInvitation(inv, sendEmail)
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVar(&sendEmail, "send-email", false, "have the server email the invitation link to you")
	return cmd
}

func (a *app) inviteListCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "list -d DEVICE",
		Short: "List invitations: pending, cancelled and finished",
		Long: `List the invitations you may greet, one per line, tab-separated: token, status (pending,
cancelled or finished) and kind ("user (email=…)", "device" or "shared recovery (NAME <EMAIL>)").`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.open(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			invs, err := c.Invitations(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				type invJSON struct {
					Token     string `json:"token"`
					Status    string `json:"status"`
					Type      string `json:"type"`
					Email     string `json:"claimer_email,omitempty"`
					CreatedOn string `json:"created_on"`
				}
				out := []invJSON{}
				for _, inv := range invs {
					out = append(out, invJSON{inv.Token.String(), strings.ToLower(inv.Status), strings.ToLower(inv.Type), inv.ClaimerEmail, inv.CreatedOn.String()})
				}
				return a.printJSON(out)
			}
			if len(invs) == 0 {
				a.say("No invitation.")
				return nil
			}
			a.say("%d invitation(s) found.", len(invs))
			for _, inv := range invs {
				kind := "device"
				switch inv.Type {
				case client.InvitationUser:
					kind = "user (email=" + inv.ClaimerEmail + ")"
				case client.InvitationRecovery:
					kind = "shared recovery (" + c.UserHandle(*inv.ClaimerUserID).String() + ")"
				}
				a.out("%s\t%s\t%s", inv.Token, strings.ToLower(inv.Status), kind)
			}
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}

func (a *app) inviteCancelCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "cancel TOKEN -d DEVICE",
		Short: "Cancel a pending invitation",
		Args:  exactArgs(1, "the invitation token"),
		RunE: func(cmd *cobra.Command, args []string) error {
			token, err := parsec.ParseAccessToken(args[0])
			if err != nil {
				return err
			}
			c, err := a.open(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.CancelInvitation(cmd.Context(), token); err != nil {
				return err
			}
			a.say("Invitation %s cancelled.", token)
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	return cmd
}

// interruptible returns a context cancelled by Ctrl-C or SIGTERM: the exchanges then cancel
// their attempt cleanly (MANUALLY_CANCELLED) before exiting.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

// ask prints a prompt and reads one answer line. It gives up when ctx is done (Ctrl-C), with
// the same error as an exchange interrupted while waiting for the other side.
func (a *app) ask(ctx context.Context, prompt string) (string, error) {
	fmt.Fprint(a.stderr, prompt)
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		l, err := a.readLine()
		ch <- answer{l, err}
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(a.stderr)
		return "", parsec.Errorf(parsec.Cancelled, "exchange cancelled")
	case ans := <-ch:
		if ans.err != nil {
			fmt.Fprintln(a.stderr)
			return "", parsec.Errorf(parsec.Invalid, "no answer to %q on stdin", strings.TrimSpace(strings.TrimSuffix(prompt, ":")))
		}
		return strings.TrimSpace(ans.line), nil
	}
}

// chooseCode shows four codes and "none of them", and reads the choice: its number or the
// code itself. It returns the empty code for "none of them".
func (a *app) chooseCode(ctx context.Context, prompt string, choices []crypto.SASCode) (crypto.SASCode, error) {
	for {
		a.say("%s", prompt)
		for i, c := range choices {
			a.say("  %d. %s", i+1, c)
		}
		a.say("  %d. None of them", len(choices)+1)
		ans, err := a.ask(ctx, "Your choice: ")
		if err != nil {
			return "", err
		}
		if n, err := strconv.Atoi(ans); err == nil {
			switch {
			case n >= 1 && n <= len(choices):
				return choices[n-1], nil
			case n == len(choices)+1:
				return "", nil
			}
		}
		if strings.EqualFold(ans, "none") || strings.EqualFold(ans, "none of them") {
			return "", nil
		}
		if code, err := crypto.ParseSASCode(ans); err == nil {
			for _, c := range choices {
				if c == code {
					return c, nil
				}
			}
			return "", nil // a valid code that is not listed: not the right one
		}
		a.say("Please answer with a number from 1 to %d, or the code.", len(choices)+1)
	}
}

func (a *app) inviteGreetCmd() *cobra.Command {
	var df deviceFlags
	var profileFlag string
	cmd := &cobra.Command{
		Use:   "greet TOKEN -d DEVICE [--profile admin|member|external]",
		Short: "Greet an invited person or device: exchange codes, then create them",
		Long: `Greet the person or device holding the invitation TOKEN, while they run "parsec invite claim".
Read your code to them; they pick it among four. Then pick theirs among four: a code that is not
listed means someone may be intercepting the exchange, and the exchange stops. For a person,
choose their profile (asked unless --profile): Administrator, Member or External. For a
shared-recovery invitation (you are one of the recipients), your shares are sent.`,
		Args: exactArgs(1, "the invitation token"),
		RunE: func(cmd *cobra.Command, args []string) error {
			token, err := parsec.ParseAccessToken(args[0])
			if err != nil {
				return err
			}
			var profile parsec.UserProfile
			if profileFlag != "" {
				if profile, err = parsec.ParseProfile(profileFlag); err != nil {
					return err
				}
			}
			c, err := a.open(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			if err := a.poll(cmd, c); err != nil {
				return err
			}
			a.say("Waiting for the claimer to join…")
			g, err := c.Greet(ctx, token)
			if err != nil {
				return err
			}
			a.out("Code to provide to claimer: %s", g.Code())
			a.say("Waiting for the claimer to pick this code…")
			if err := g.WaitClaimerTrust(ctx); err != nil {
				return err
			}
			picked, err := a.chooseCode(ctx, "Select code provided by claimer:", g.ClaimerCodeChoices())
			if err != nil {
				g.Cancel()
				return err
			}
			if err := g.ConfirmClaimerCode(ctx, picked); err != nil {
				return err
			}
			if g.Info().Type == client.InvitationRecovery {
				a.say("Sending your shares…")
				n, err := g.SendShares(ctx)
				if err != nil {
					return err
				}
				a.out("%d share(s) sent to %s.", n, c.UserHandle(*g.Info().ClaimerUserID))
				return nil
			}
			a.say("Waiting for the claimer's request…")
			req, err := g.Request(ctx)
			if err != nil {
				return err
			}
			if g.Info().Type == client.InvitationDevice {
				a.out("New device label: %s", req.DeviceLabel)
				id, err := g.CreateDevice(ctx, req.DeviceLabel)
				if err != nil {
					return err
				}
				a.out("Device %s (%s) created.", parsec.ShortID(id), req.DeviceLabel)
				return nil
			}
			a.out("New user: %s", req.HumanHandle)
			a.out("New device label: %s", req.DeviceLabel)
			if req.HumanHandle.Email != g.Info().ClaimerEmail {
				a.say("Warning: the claimer asks for email %s, but the invitation was for %s.", req.HumanHandle.Email, g.Info().ClaimerEmail)
			}
			choices := "admin, member, external"
			if profile == "" {
				if cfg, err := c.OrganizationConfig(ctx); err == nil && !cfg.UserProfileOutsiderAllowed {
					choices = "admin, member"
				}
			}
			for profile == "" {
				ans, err := a.ask(ctx, "Profile of the new user ("+choices+") [member]: ")
				if err != nil {
					g.Cancel()
					return err
				}
				if ans == "" {
					ans = "member"
				}
				if profile, err = parsec.ParseProfile(ans); err != nil {
					a.say("%v", err)
				}
			}
			a.say("Creating the user in the server…")
			id, err := g.CreateUser(ctx, req.HumanHandle, req.DeviceLabel, profile)
			if err != nil {
				return err
			}
			a.out("User %s created: %s, %s, with device %s.", id, req.HumanHandle, profile.Label(), req.DeviceLabel)
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().StringVar(&profileFlag, "profile", "", "profile of the new user: admin, member or external (asked otherwise)")
	return cmd
}

func (a *app) inviteClaimCmd() *cobra.Command {
	var label, name, email string
	cmd := &cobra.Command{
		Use:   "claim URL [--device-label LABEL] [--name NAME] [--email EMAIL]",
		Short: "Claim an invitation: exchange codes with the greeter, get your device",
		Long: `Claim the invitation URL (the parsec3:// link or the http(s)://…/redirect/… one), while the
person who invited you runs "parsec invite greet". Pick the code they read to you among four
(a code that is not listed means someone may be intercepting the exchange: choose "none of
them"), then read them yours. Your new device is saved under a password.

For a shared-recovery invitation (parsec invite shared-recovery), the recipients of your
shared recovery greet you one after the other, each sending their shares, until enough came;
then your new device is made.

With --password-stdin, the first line of stdin is the new device's password and the next lines
answer the prompts in order.`,
		Args: exactArgs(1, "the invitation URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			link, err := client.ParseLink(args[0])
			if err != nil {
				return err
			}
			var password []byte
			if a.passwordStdin {
				if password, err = a.password(""); err != nil {
					return err
				}
			}
			ctx, stop := interruptible(cmd.Context())
			defer stop()
			hc, err := a.httpClient()
			if err != nil {
				return err
			}
			a.say("Retrieving the invitation from %s…", link.Server.HTTPURL())
			cl, err := client.NewClaim(ctx, link, client.ClaimOptions{HTTPClient: hc})
			if err != nil {
				return err
			}
			info := cl.Info()
			switch info.Type {
			case client.InvitationRecovery:
				a.say("Invitation to recover the account of %s in organization %s, from %s.", info.ClaimerHumanHandle, link.Org, info.CreatedBy.HumanHandle)
				dev, err := a.claimSharedRecovery(ctx, cl, label, password)
				if err != nil {
					return err
				}
				a.say("New device created:")
				a.out("%s", device.Header{DeviceID: dev.DeviceID, OrganizationID: dev.OrganizationID, HumanHandle: dev.HumanHandle, DeviceLabel: dev.DeviceLabel}.Line())
				return nil
			case client.InvitationUser:
				a.say("Invitation to join organization %s, from %s.", link.Org, info.CreatedBy.HumanHandle)
			default:
				a.say("Invitation to add a device for %s in organization %s.", info.CreatedBy.HumanHandle, link.Org)
			}
			if err := a.exchangeCodes(ctx, cl, "Waiting for a greeter…"); err != nil {
				return err
			}
			if label == "" {
				if label, err = a.ask(ctx, "Device label: "); err != nil {
					cl.Cancel()
					return err
				}
			}
			var handle parsec.HumanHandle
			if info.Type == client.InvitationUser {
				if email == "" {
					email = info.ClaimerEmail
				}
				if name == "" {
					if name, err = a.ask(ctx, "Your name: "); err != nil {
						cl.Cancel()
						return err
					}
				}
				if handle, err = parsec.NewHumanHandle(email, name); err != nil {
					cl.Cancel()
					return err
				}
			}
			if _, err := parsec.ParseDeviceLabel(label); err != nil {
				cl.Cancel()
				return err
			}
			if password == nil {
				if password, err = a.newPassword(); err != nil {
					cl.Cancel()
					return err
				}
			}
			a.say("Waiting for the greeter to create your device…")
			dev, err := cl.Finish(ctx, a.configDir, handle, label, password)
			if err != nil && dev == nil {
				return err
			}
			if err != nil {
				a.say("warning: %v", err)
			}
			f, lerr := device.Load(device.Path(a.configDir, dev.DeviceID))
			if lerr != nil {
				return lerr
			}
			a.say("New device created:")
			a.out("%s", f.Header.Line())
			return a.checkNewDevice(cmd.Context(), dev)
		},
	}
	cmd.Flags().StringVarP(&label, "device-label", "l", "", "label of the new device (asked otherwise)")
	cmd.Flags().StringVarP(&name, "name", "n", "", "your name (asked otherwise, for a user invitation)")
	cmd.Flags().StringVarP(&email, "email", "e", "", "your email (default: the invited email)")
	a.addPasswordStdin(cmd)
	return cmd
}

// exchangeCodes runs the claimer's side of the code exchange with whoever greets: waits for
// them (saying waiting), has the person pick the greeter's code, shows the claimer's, and
// waits for the greeter to pick it.
func (a *app) exchangeCodes(ctx context.Context, cl *client.Claim, waiting string) error {
	a.say("%s", waiting)
	if err := cl.Start(ctx); err != nil {
		return err
	}
	a.out("Invitation greeter: %s", cl.Greeter().HumanHandle)
	picked, err := a.chooseCode(ctx, "Select code provided by greeter:", cl.GreeterCodeChoices())
	if err != nil {
		cl.Cancel()
		return err
	}
	if err := cl.ConfirmGreeterCode(ctx, picked); err != nil {
		return err
	}
	a.out("Code to provide to greeter: %s", cl.Code())
	a.say("Waiting for the greeter to pick this code…")
	return cl.WaitGreeterTrust(ctx)
}

// checkNewDevice fetches and validates the organization's certificates with the new device:
// they must include it, signed all the way from the organization's root key.
func (a *app) checkNewDevice(ctx context.Context, dev *device.Local) error {
	hc, err := a.httpClient()
	if err != nil {
		return err
	}
	c, err := client.Open(ctx, a.configDir, dev, client.Options{HTTPClient: hc})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.PollCertificates(ctx); err != nil {
		if parsec.IsKind(err, parsec.Tampered) {
			return err
		}
		a.say("warning: could not check the new device's certificates yet: %v", err)
	}
	return nil
}
