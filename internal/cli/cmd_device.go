package cli

import (
	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
)

func (a *app) deviceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "device",
		Short: "The devices stored on this computer",
	}
	cmd.AddCommand(a.deviceListCmd(), a.deviceExportRecoveryCmd(), a.deviceImportRecoveryCmd(), a.deviceChangePasswordCmd(), a.deviceRemoveCmd())
	return cmd
}

// deviceJSON is a device as `device list --json` prints it.
type deviceJSON struct {
	DeviceID     string `json:"device_id"`
	Organization string `json:"organization"`
	UserID       string `json:"user_id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	Label        string `json:"device_label"`
	ServerURL    string `json:"server_url"`
}

func (a *app) deviceListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the devices in the configuration directory",
		Long:  "List the devices in the configuration directory, one per line: <short id> - <org>: <Name <email>> @ <label>.",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, errs := device.List(a.configDir)
			for _, err := range errs {
				a.say("warning: %v", err)
			}
			if a.json {
				out := []deviceJSON{}
				for _, f := range files {
					h := f.Header
					out = append(out, deviceJSON{DeviceID: h.DeviceID.String(), Organization: string(h.OrganizationID),
						UserID: h.UserID.String(), Email: h.HumanHandle.Email, Name: h.HumanHandle.Label,
						Label: h.DeviceLabel, ServerURL: h.ServerURL})
				}
				return a.printJSON(out)
			}
			if len(files) == 0 {
				a.say("No devices found in %s", a.configDir)
				return nil
			}
			a.say("Found %d device(s) in %s:", len(files), a.configDir)
			for _, f := range files {
				a.out("%s", f.Header.Line())
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&a.json, "json", false, "print as JSON")
	return cmd
}

// deviceFlags select and unlock a device.
type deviceFlags struct {
	device string
}

func (a *app) addDeviceFlags(cmd *cobra.Command, f *deviceFlags) {
	cmd.Flags().StringVarP(&f.device, "device", "d", "", "device to use: any unique prefix of its ID (see parsec device list)")
	a.addPasswordStdin(cmd)
}

// open finds, unlocks and opens the selected device.
func (a *app) open(cmd *cobra.Command, f *deviceFlags) (*client.Client, error) {
	file, err := device.Find(a.configDir, f.device)
	if err != nil {
		return nil, err
	}
	pw, err := a.password("Password for device " + file.Header.Line() + ": ")
	if err != nil {
		return nil, err
	}
	local, err := file.Unlock(pw)
	if err != nil {
		return nil, err
	}
	hc, err := a.httpClient()
	if err != nil {
		return nil, err
	}
	return client.Open(cmd.Context(), a.configDir, local, client.Options{HTTPClient: hc, Warn: func(msg string) { a.say("warning: %s", msg) }})
}

// poll fetches and validates new certificates before a command uses them.
func (a *app) poll(cmd *cobra.Command, c *client.Client) error {
	n, err := c.PollCertificates(cmd.Context())
	if err != nil {
		return err
	}
	if n > 0 {
		a.say("Received %d new certificate(s) from the server, all valid.", n)
	}
	return nil
}
