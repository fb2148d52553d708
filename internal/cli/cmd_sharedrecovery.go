package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Shared recovery: colleagues who hold shares of a user's secret bring the user back when
// every device is lost.

func (a *app) sharedRecoveryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "shared-recovery",
		Short: "Let colleagues recover your account if you lose every device (Shamir's secret sharing)",
		Long: `Choose colleagues (recipients) and how many of their shares are needed (the threshold). A
secret that opens a recovery device of yours is split among them, each part sealed for its
recipient. If you lose every device, an Administrator or a recipient invites you back ("parsec
invite shared-recovery EMAIL"); you claim that invitation, and recipients greet you one after
the other with the usual exchange of codes, each sending their shares; with enough of them you
get a new device. Nobody holds your secret alone, and the server can read none of it.`,
	}
	cmd.AddCommand(a.sharedRecoveryCreateCmd(), a.sharedRecoveryListCmd(), a.sharedRecoveryDeleteCmd())
	return cmd
}

// parseRecipient reads EMAIL or EMAIL=SHARES.
func parseRecipient(s string) (string, int, error) {
	email, n, found := strings.Cut(s, "=")
	shares := 1
	if found {
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 || v > 255 {
			return "", 0, usageError{fmt.Errorf("invalid --recipient %q: the number of shares after = must be between 1 and 255", s)}
		}
		shares = v
	}
	return email, shares, nil
}

func (a *app) sharedRecoveryCreateCmd() *cobra.Command {
	var df deviceFlags
	var recipients []string
	var threshold int
	cmd := &cobra.Command{
		Use:   "create --recipient EMAIL[=SHARES]... --threshold N -d DEVICE",
		Short: "Set up your shared recovery: recipients and threshold",
		Long: `Set up your shared recovery. Each --recipient is a colleague's email, with the number of
shares they hold after = (1 by default); --threshold is how many shares rebuild the secret
(default: a majority of them). You have one setup at a time: delete it to make another.`,
		Example: `  parsec shared-recovery create --recipient bob@example.com --recipient carol@example.com --recipient dave@example.com --threshold 2
  parsec shared-recovery create --recipient boss@example.com=2 --recipient bob@example.com --threshold 2`,
		Args: exactArgs(0, "no arguments (recipients are given with --recipient)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(recipients) == 0 {
				return usageError{fmt.Errorf("give at least one --recipient")}
			}
			emails := make([]string, len(recipients))
			shares := make([]int, len(recipients))
			total := 0
			for i, r := range recipients {
				var err error
				if emails[i], shares[i], err = parseRecipient(r); err != nil {
					return err
				}
				total += shares[i]
			}
			if threshold == 0 {
				threshold = client.DefaultThreshold(total)
			}
			c, users, errs, err := a.openWithUsers(cmd, &df, emails)
			if err != nil {
				return err
			}
			defer c.Close()
			if len(errs) > 0 {
				return errs[0]
			}
			var rs []client.SharedRecipient
			for i, u := range users {
				rs = append(rs, client.SharedRecipient{User: u.ID, Shares: shares[i]})
			}
			if err := c.SetupSharedRecovery(cmd.Context(), rs, threshold); err != nil {
				return err
			}
			a.say("Shared recovery set up: %d of %d shares rebuild your access.", threshold, total)
			for i, u := range users {
				a.out("%s\t%d", u.Handle, shares[i])
			}
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().StringArrayVar(&recipients, "recipient", nil, "a recipient's email, optionally =SHARES (repeat the flag)")
	cmd.Flags().IntVar(&threshold, "threshold", 0, "the number of shares that rebuild the secret (default: a majority)")
	return cmd
}

func (a *app) sharedRecoveryListCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:     "list -d DEVICE",
		Aliases: []string{"info"},
		Short:   "Show your shared recovery and those you hold shares of",
		Args:    exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.open(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			own, others, err := c.SharedRecoveries(cmd.Context())
			if err != nil {
				return err
			}
			if a.json {
				type recipientJSON struct {
					Email   string `json:"email"`
					Shares  int    `json:"shares"`
					Revoked bool   `json:"revoked"`
				}
				type setupJSON struct {
					User       string          `json:"user"`
					CreatedOn  string          `json:"created_on"`
					Threshold  int             `json:"threshold"`
					Usable     bool            `json:"usable"`
					Recipients []recipientJSON `json:"recipients"`
				}
				conv := func(s client.SharedRecovery) setupJSON {
					out := setupJSON{User: s.User.Handle.Email, CreatedOn: s.CreatedOn.String(), Threshold: s.Threshold, Usable: s.Usable(), Recipients: []recipientJSON{}}
					for _, r := range s.Recipients {
						out.Recipients = append(out.Recipients, recipientJSON{r.User.Handle.Email, r.Shares, !r.User.RevokedOn.IsZero()})
					}
					return out
				}
				var out struct {
					Own    *setupJSON  `json:"own"`
					Others []setupJSON `json:"recipient_of"`
				}
				out.Others = []setupJSON{}
				if own != nil {
					o := conv(*own)
					out.Own = &o
				}
				for _, s := range others {
					out.Others = append(out.Others, conv(s))
				}
				return a.printJSON(out)
			}
			if own == nil {
				a.out("You have no shared recovery.")
			} else {
				a.out("Your shared recovery (set up on %s): %d of %d shares needed.", own.CreatedOn, own.Threshold, own.Reachable())
				for _, r := range own.Recipients {
					state := ""
					if !r.User.RevokedOn.IsZero() {
						state = "\trevoked"
					}
					a.out("  %s\t%d share(s)%s", r.User.Handle, r.Shares, state)
				}
				if !own.Usable() {
					a.out("It can no longer be used: revoked recipients hold too many shares. Delete it and set up another.")
				}
			}
			for _, s := range others {
				a.out("You hold shares of the shared recovery of %s.", s.User.Handle)
			}
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}

func (a *app) sharedRecoveryDeleteCmd() *cobra.Command {
	var df deviceFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete -d DEVICE [--yes]",
		Short: "Delete your shared recovery: its shares are void from then on",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.open(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			if !yes {
				if err := a.confirm(cmd, "Delete your shared recovery? Its recipients will no longer be able to recover your account.", "nothing deleted"); err != nil {
					return err
				}
			}
			if err := c.DeleteSharedRecovery(cmd.Context()); err != nil {
				return err
			}
			a.say("Shared recovery deleted.")
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func (a *app) inviteSharedRecoveryCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "shared-recovery EMAIL -d DEVICE",
		Short: "Invite a user who lost every device to be recovered by their shared-recovery recipients",
		Long: `Invite a user who lost every device to recover their account (Administrators, or a recipient
of the user's shared recovery). Pass the URL on to them; they run "parsec invite claim URL",
and recipients greet them one after the other with "parsec invite greet TOKEN".`,
		Args: exactArgs(1, "the email of the user to recover"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, users, errs, err := a.openWithUsers(cmd, &df, args)
			if err != nil {
				return err
			}
			defer c.Close()
			if len(errs) > 0 {
				return errs[0]
			}
			inv, err := c.InviteSharedRecovery(cmd.Context(), users[0].ID)
			if err != nil {
				return err
			}
			a.printInvitation(inv, false)
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	return cmd
}

// claimSharedRecovery runs the claimer's side of a SHAMIR_RECOVERY invitation: exchanges
// with recipients, one after the other, until enough shares came; then the new device.
func (a *app) claimSharedRecovery(ctx context.Context, cl *client.Claim, label string, password []byte) (*device.Local, error) {
	info := cl.Info()
	a.say("%d share(s) needed for recovery. Recipients:", cl.SharesNeeded())
	for _, r := range info.Recovery.Recipients {
		state := ""
		if r.Revoked {
			state = " (revoked)"
		}
		a.say("  %s: %d share(s)%s", r.HumanHandle, r.Shares, state)
	}
	for cl.SharesCollected() < cl.SharesNeeded() {
		if err := a.exchangeCodes(ctx, cl, "Waiting for a recipient to greet you…"); err != nil {
			return nil, err
		}
		n, err := cl.ReceiveShares(ctx)
		if err != nil {
			return nil, err
		}
		a.out("Received %d share(s) from %s: %d of %d.", n, cl.Greeter().HumanHandle, cl.SharesCollected(), cl.SharesNeeded())
	}
	if label == "" {
		var err error
		if label, err = a.ask(ctx, "Device label: "); err != nil {
			return nil, err
		}
	}
	if _, err := parsec.ParseDeviceLabel(label); err != nil {
		return nil, err
	}
	if password == nil {
		var err error
		if password, err = a.newPassword(); err != nil {
			return nil, err
		}
	}
	a.say("Recovering your device…")
	return cl.Recover(ctx, a.configDir, label, password)
}
