package cli

import (
	"github.com/spf13/cobra"
)

func (a *app) userCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "The users of an organization",
	}
	cmd.AddCommand(a.userListCmd())
	return cmd
}

// userJSON is a user as `user list --json` prints it.
type userJSON struct {
	UserID    string             `json:"user_id"`
	Name      string             `json:"name"`
	Email     string             `json:"email"`
	Profile   string             `json:"profile"`
	Status    string             `json:"status"`
	CreatedOn string             `json:"created_on"`
	RevokedOn string             `json:"revoked_on,omitempty"`
	Devices   []deviceOfUserJSON `json:"devices"`
}

type deviceOfUserJSON struct {
	DeviceID  string `json:"device_id"`
	Label     string `json:"label"`
	CreatedOn string `json:"created_on"`
}

func (a *app) userListCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "list -d DEVICE",
		Short: "List the organization's users",
		Long: `List the organization's users, one per line, tab-separated: user ID, name, email, profile
(Administrator, Member or External) and status (active or revoked).

The list comes from the certificates, which this device fetches and checks first: a server
that sends anything invalid is reported and the command stops. External users see other users'
IDs instead of their names and emails.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.open(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := a.poll(cmd, c); err != nil {
				return err
			}
			users := c.Users()
			if a.json {
				out := []userJSON{}
				for _, u := range users {
					j := userJSON{UserID: u.ID.String(), Name: u.Handle.Label, Email: u.Handle.Email,
						Profile: u.Profile.Label(), Status: u.Status(), CreatedOn: u.CreatedOn.String(), Devices: []deviceOfUserJSON{}}
					if !u.RevokedOn.IsZero() {
						j.RevokedOn = u.RevokedOn.String()
					}
					for _, d := range u.Devices {
						j.Devices = append(j.Devices, deviceOfUserJSON{DeviceID: d.ID.String(), Label: d.Label, CreatedOn: d.CreatedOn.String()})
					}
					out = append(out, j)
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
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}
