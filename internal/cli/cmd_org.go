package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/parsec"
)

func (a *app) orgCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "org",
		Aliases: []string{"organization"},
		Short:   "Create, bootstrap and inspect organizations",
	}
	cmd.AddCommand(a.orgCreateCmd(), a.orgBootstrapCmd(), a.orgStatusCmd(), a.orgStatsCmd())
	return cmd
}

func (a *app) orgCreateCmd() *cobra.Command {
	var af adminFlags
	var limit int64
	var noExternal bool
	cmd := &cobra.Command{
		Use:   "create ORG --addr SERVER_URL --admin-token TOKEN",
		Short: "Create an organization and print its bootstrap URL (server administrator)",
		Long: `Create an organization on a server and print the URL that bootstraps it. Give that URL to
the person who will be the organization's first Administrator; they run "parsec org bootstrap".

Creating again an organization that nobody bootstrapped yet gives it a new URL (the old one
stops working); a bootstrapped organization cannot be created again.`,
		Args: exactArgs(1, "the organization name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, adm, err := af.org(a, args[0])
			if err != nil {
				return err
			}
			var opts client.OrgOptions
			if cmd.Flags().Changed("active-users-limit") || limit != 0 {
				if limit < 0 {
					return usageError{fmt.Errorf("--active-users-limit must be 0 or more")}
				}
				opts.ActiveUsersLimit = &limit
			}
			if noExternal {
				f := false
				opts.UserProfileOutsiderAllowed = &f
			}
			urls, err := adm.CreateOrganization(cmd.Context(), id, opts)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(urls)
			}
			a.say("Organization %s created. Bootstrap URL:", id)
			a.out("%s", urls.BootstrapURLAsHTTPRedirection)
			return nil
		},
	}
	af.add(cmd)
	cmd.Flags().Int64Var(&limit, "active-users-limit", 0, "maximum number of users that are not revoked (default: no limit)")
	cmd.Flags().BoolVar(&noExternal, "no-external-users", false, "do not allow the External profile in this organization")
	cmd.Flags().BoolVar(&a.json, "json", false, "print both bootstrap URLs as JSON")
	return cmd
}

func (a *app) orgBootstrapCmd() *cobra.Command {
	var email, name, label string
	cmd := &cobra.Command{
		Use:   "bootstrap BOOTSTRAP_URL --email EMAIL --name NAME --device-label LABEL",
		Short: "Bootstrap an organization: become its first Administrator",
		Long: `Bootstrap an organization with the URL its server administrator gave you. This creates
the organization's root key (used once, then forgotten), you as its first user, with the
Administrator profile, and this device, saved in the configuration directory under a password.`,
		Args: exactArgs(1, "the bootstrap URL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			link, err := client.ParseBootstrapLink(args[0])
			if err != nil {
				return err
			}
			for flag, v := range map[string]string{"--email": email, "--name": name, "--device-label": label} {
				if v == "" {
					return usageError{fmt.Errorf("%s is required", flag)}
				}
			}
			handle, err := parsec.NewHumanHandle(email, name)
			if err != nil {
				return err
			}
			if _, err := parsec.ParseDeviceLabel(label); err != nil {
				return err
			}
			pw, err := a.newPassword()
			if err != nil {
				return err
			}
			hc, err := a.httpClient()
			if err != nil {
				return err
			}
			a.say("Bootstrapping organization %s on %s…", link.Org, link.Server.HTTPURL())
			dev, err := client.Bootstrap(cmd.Context(), a.configDir, client.BootstrapRequest{
				Link: link, Email: handle.Email, Name: handle.Label, DeviceLabel: label, Password: pw, HTTPClient: hc,
			})
			if err != nil {
				return err
			}
			a.say("Organization %s bootstrapped. New device created:", dev.OrganizationID)
			f, err := device.Load(device.Path(a.configDir, dev.DeviceID))
			if err != nil {
				return err
			}
			a.out("%s", f.Header.Line())
			return nil
		},
	}
	cmd.Flags().StringVarP(&email, "email", "e", "", "your email")
	cmd.Flags().StringVarP(&name, "name", "n", "", "your full name")
	cmd.Flags().StringVarP(&label, "device-label", "l", "", "a name for this device, e.g. laptop")
	a.addPasswordStdin(cmd)
	return cmd
}

func (a *app) orgStatusCmd() *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{
		Use:   "status ORG --addr SERVER_URL --admin-token TOKEN",
		Short: "Show an organization's status and configuration (server administrator)",
		Args:  exactArgs(1, "the organization name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, adm, err := af.org(a, args[0])
			if err != nil {
				return err
			}
			st, err := adm.OrganizationStatus(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(st)
			}
			limit := "none"
			if st.ActiveUsersLimit != nil {
				limit = fmt.Sprint(*st.ActiveUsersLimit)
			}
			a.out("organization: %s", id)
			a.out("bootstrapped: %v", st.IsBootstrapped)
			a.out("expired: %v", st.IsExpired)
			a.out("external users allowed: %v", st.UserProfileOutsiderAllowed)
			a.out("active users limit: %s", limit)
			a.out("minimum archiving period: %ds", st.MinimumArchivingPeriod)
			return nil
		},
	}
	af.add(cmd)
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}

func (a *app) orgStatsCmd() *cobra.Command {
	var af adminFlags
	cmd := &cobra.Command{
		Use:   "stats ORG --addr SERVER_URL --admin-token TOKEN",
		Short: "Show an organization's usage statistics (server administrator)",
		Args:  exactArgs(1, "the organization name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, adm, err := af.org(a, args[0])
			if err != nil {
				return err
			}
			st, err := adm.OrganizationStats(cmd.Context(), id)
			if err != nil {
				return err
			}
			if a.json {
				return a.printJSON(st)
			}
			a.out("organization: %s", id)
			a.out("users: %d (%d active)", st.Users, st.ActiveUsers)
			for _, p := range []parsec.UserProfile{parsec.ProfileAdmin, parsec.ProfileStandard, parsec.ProfileOutsider} {
				if c := st.UsersPerProfileDetail[p]; c != nil {
					a.out("  %s: %d active, %d revoked", p.Label(), c.Active, c.Revoked)
				}
			}
			a.out("workspaces: %d", st.Realms)
			a.out("metadata size: %d bytes", st.MetadataSize)
			a.out("data size: %d bytes", st.DataSize)
			return nil
		},
	}
	af.add(cmd)
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}
