package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

func (a *app) userCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "The users of an organization: list, show, revoke, change profiles",
	}
	cmd.AddCommand(a.userListCmd(), a.userShowCmd(), a.userRevokeCmd(), a.userUpdateProfileCmd())
	return cmd
}

// userJSON is a user as `user list --json` and `user show --json` print it.
type userJSON struct {
	UserID    string             `json:"user_id"`
	Name      string             `json:"name"`
	Email     string             `json:"email"`
	Profile   string             `json:"profile"`
	Status    string             `json:"status"`
	CreatedOn string             `json:"created_on"`
	RevokedOn string             `json:"revoked_on,omitempty"`
	RevokedBy string             `json:"revoked_by,omitempty"`
	Devices   []deviceOfUserJSON `json:"devices"`
}

type deviceOfUserJSON struct {
	DeviceID  string `json:"device_id"`
	Label     string `json:"label"`
	CreatedOn string `json:"created_on"`
	Recovery  bool   `json:"recovery,omitempty"`
}

func toJSON(u client.UserInfo) userJSON {
	j := userJSON{UserID: u.ID.String(), Name: u.Handle.Label, Email: u.Handle.Email,
		Profile: u.Profile.Label(), Status: u.Status(), CreatedOn: u.CreatedOn.String(), Devices: []deviceOfUserJSON{}}
	if !u.RevokedOn.IsZero() {
		j.RevokedOn = u.RevokedOn.String()
		j.RevokedBy = u.RevokedByName
	}
	for _, d := range u.Devices {
		j.Devices = append(j.Devices, deviceOfUserJSON{DeviceID: d.ID.String(), Label: d.Label, CreatedOn: d.CreatedOn.String(), Recovery: d.Recovery})
	}
	return j
}

func (a *app) userListCmd() *cobra.Command {
	var df deviceFlags
	var profiles, statuses []string
	var search string
	cmd := &cobra.Command{
		Use:   "list -d DEVICE",
		Short: "List the organization's users",
		Long: `List the organization's users, one per line, tab-separated: user ID, name, email, profile
(Administrator, Member or External) and status (active, revoked, or frozen — Administrators see
who the server administrator froze).

The list comes from the certificates, which this device fetches and checks first: a server
that sends anything invalid is reported and the command stops. External users see other users'
IDs instead of their names and emails.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := client.UserFilter{Statuses: statuses, Search: search}
			for _, p := range profiles {
				pp, err := parsec.ParseProfile(p)
				if err != nil {
					return err
				}
				f.Profiles = append(f.Profiles, pp)
			}
			c, err := a.openPolled(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			users, err := c.ListUsers(cmd.Context(), f)
			if err != nil {
				return err
			}
			if a.json {
				out := []userJSON{}
				for _, u := range users {
					out = append(out, toJSON(u))
				}
				return a.printJSON(out)
			}
			a.say("Found %d user(s):", len(users))
			for _, u := range users {
				a.out("%s\t%s\t%s\t%s\t%s", u.ID, u.Handle.Label, u.Handle.Email, u.Profile.Label(), u.Status())
			}
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().StringSliceVar(&profiles, "profile", nil, "only users with this profile: admin, member or external (repeatable)")
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "only users with this status: active, revoked or frozen (repeatable)")
	cmd.Flags().StringVar(&search, "search", "", "only users whose name, email or ID contains this text")
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}

func (a *app) userShowCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "show EMAIL -d DEVICE",
		Short: "Show a user: profile, status and devices",
		Args:  exactArgs(1, "the user's email"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.openPolled(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			u, err := c.ShowUser(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(toJSON(u))
			}
			a.out("user: %s", u.ID)
			a.out("name: %s", u.Handle.Label)
			a.out("email: %s", u.Handle.Email)
			a.out("profile: %s", u.Profile.Label())
			a.out("status: %s", u.Status())
			a.out("joined: %s", u.CreatedOn)
			if !u.RevokedOn.IsZero() {
				by := u.RevokedByName
				if by == "" {
					by = "?"
				}
				a.out("revoked: %s by %s", u.RevokedOn, by)
			}
			for _, d := range u.Devices {
				kind := ""
				if d.Recovery {
					kind = "\t(recovery device)"
				}
				a.out("device: %s\t%s\tjoined %s%s", parsec.ShortID(d.ID), d.Label, d.CreatedOn, kind)
			}
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}

// openWithUsers opens the device, fetches and checks certificates, and finds the users named
// by email; the unknown ones are returned as errors (which a command acting on the others
// says with sayAll).
func (a *app) openWithUsers(cmd *cobra.Command, df *deviceFlags, emails []string) (*client.Client, []client.UserInfo, []error, error) {
	c, err := a.open(cmd, df)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := a.poll(cmd, c); err != nil {
		c.Close()
		return nil, nil, nil, err
	}
	var users []client.UserInfo
	var errs []error
	for _, e := range emails {
		u, err := c.FindUser(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		users = append(users, u)
	}
	return c, users, errs, nil
}

// sayAll says each error on stderr.
func (a *app) sayAll(errs []error) {
	for _, err := range errs {
		a.say("%v", err)
	}
}

func (a *app) userRevokeCmd() *cobra.Command {
	var df deviceFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "revoke EMAIL... -d DEVICE [--yes]",
		Short: "Revoke users: irreversibly remove them and all their devices (Administrators)",
		Long: `Revoke users from the organization. This cannot be undone: every device of the user is
refused at once. A revoked person can only come back through a new invitation, as a new user.
You are asked to confirm unless --yes.`,
		Args: atLeastOneEmail,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, users, errs, err := a.openWithUsers(cmd, &df, args)
			if err != nil {
				return err
			}
			defer c.Close()
			a.sayAll(errs)
			if len(users) == 0 {
				return parsec.Errorf(parsec.NotFound, "no user to revoke")
			}
			if !yes {
				var names []string
				for _, u := range users {
					names = append(names, u.Handle.String())
				}
				if err := a.confirm(cmd, fmt.Sprintf("Revoke %s? This cannot be undone.", strings.Join(names, ", ")), "revocation cancelled: nothing changed"); err != nil {
					return err
				}
			}
			results, err := c.RevokeUsers(cmd.Context(), users)
			failed := len(errs)
			for _, r := range results {
				email := r.User.Handle.Email
				switch r.Outcome {
				case client.RevokeDone:
					a.out("%s: revoked", email)
				case client.RevokeAlready:
					a.out("%s: already revoked", email)
				case client.RevokeFailed:
					failed++
					a.out("%s: not revoked: %v", email, r.Err)
				}
			}
			if err != nil {
				return err
			}
			if failed > 0 {
				return parsec.Errorf(parsec.Other, "%d of %d user(s) not revoked", failed, len(args))
			}
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

func (a *app) userUpdateProfileCmd() *cobra.Command {
	var df deviceFlags
	var profileFlag string
	cmd := &cobra.Command{
		Use:   "update-profile EMAIL... --profile admin|member -d DEVICE",
		Short: "Change users' profile between Administrator and Member (Administrators)",
		Long: `Change the profile of one or more users to Administrator or Member. External users are
skipped: their profile is not affected. You cannot change your own profile.`,
		Args: atLeastOneEmail,
		RunE: func(cmd *cobra.Command, args []string) error {
			if profileFlag == "" {
				return usageError{fmt.Errorf("--profile is required: admin or member")}
			}
			profile, err := parsec.ParseProfile(profileFlag)
			if err != nil {
				return err
			}
			if profile == parsec.ProfileOutsider {
				return parsec.Errorf(parsec.Invalid, "profiles change only between Administrator and Member: External cannot be chosen")
			}
			c, users, errs, err := a.openWithUsers(cmd, &df, args)
			if err != nil {
				return err
			}
			defer c.Close()
			a.sayAll(errs)
			results, err := c.ChangeProfiles(cmd.Context(), users, profile)
			failed := len(errs)
			for _, r := range results {
				email := r.User.Handle.Email
				switch r.Outcome {
				case client.ProfileChanged:
					a.out("%s: now %s", email, profile.Label())
				case client.ProfileUnchanged:
					a.out("%s: already %s", email, profile.Label())
				case client.ProfileSkipped:
					a.say("warning: %s is External: their profile will not be affected", email)
					a.out("%s: skipped (External)", email)
				case client.ProfileFailed:
					failed++
					a.out("%s: not changed: %v", email, r.Err)
				}
			}
			if err != nil {
				return err
			}
			if failed > 0 {
				return parsec.Errorf(parsec.Other, "%d of %d user(s) not changed", failed, len(args))
			}
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().StringVar(&profileFlag, "profile", "", "the new profile: admin or member")
	return cmd
}

func atLeastOneEmail(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usageError{fmt.Errorf("%s expects at least one email", cmd.CommandPath())}
	}
	return nil
}
