package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
)

// Recovery files and the care of the devices of this computer: export-recovery,
// import-recovery, change-password, remove.

const recoveryAdvice = `Keep the file and this passphrase offline and apart (the passphrase on paper, the file on a
USB key in a drawer): together they open your account on a new computer, with
"parsec device import-recovery FILE". They stay valid: devices are not revoked one by one. If
both are exposed, anyone holding them can act as you: ask an Administrator to revoke your user
and to invite you again.`

func (a *app) deviceExportRecoveryCmd() *cobra.Command {
	var df deviceFlags
	var label string
	cmd := &cobra.Command{
		Use:   "export-recovery FILE -d DEVICE",
		Short: "Create a recovery device and save it in FILE, protected by a generated passphrase",
		Long: `Create a new device of your user, labelled as a recovery device, and save it in FILE (which
must not exist), protected by a passphrase this command generates (256 bits, 13 groups of 4
letters and digits) instead of a password. The passphrase is printed on stdout, alone on its line, once.

` + recoveryAdvice,
		Args: exactArgs(1, "the file to write"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := args[0]
			// Checked before the device exists on the server, so that a refusal leaves
			// nothing behind.
			if _, err := os.Lstat(path); err == nil {
				return parsec.Errorf(parsec.Exists, "%s already exists: choose another file (a recovery file is never overwritten)", path)
			}
			probe, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				return parsec.Errorf(parsec.Invalid, "cannot write the recovery file: %v", err)
			}
			probe.Close()
			os.Remove(path)
			c, err := a.open(cmd, &df)
			if err != nil {
				return err
			}
			defer c.Close()
			if err := a.poll(cmd, c); err != nil {
				return err
			}
			rf, err := c.ExportRecovery(cmd.Context(), label)
			if err != nil {
				return err
			}
			if err := device.WriteFile(path, rf.Data); err != nil {
				return parsec.Errorf(parsec.Other, "the recovery device %s was created but could not be saved (%v): export another one", parsec.ShortID(rf.DeviceID), err)
			}
			a.say("Recovery device %s saved in %s. Its passphrase:", parsec.ShortID(rf.DeviceID), path)
			a.out("%s", rf.Passphrase)
			a.say("%s", recoveryAdvice)
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	cmd.Flags().StringVar(&label, "label", "recovery", "the recovery device's label")
	return cmd
}

func (a *app) deviceImportRecoveryCmd() *cobra.Command {
	var label string
	cmd := &cobra.Command{
		Use:   "import-recovery FILE [--label LABEL]",
		Short: "Create a new device on this computer from a recovery file and its passphrase",
		Long: `Open a recovery file (parsec device export-recovery) with its passphrase, and create from it a
new ordinary device of the same user on this computer, protected by a new password. The
recovery file stays as it was, and valid.

With --password-stdin, the first line of stdin is the passphrase and the second the new
device's password.`,
		Args: exactArgs(1, "the recovery file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := device.Load(args[0])
			if err != nil {
				return err
			}
			if !f.IsRecovery() {
				return parsec.Errorf(parsec.Invalid, "%s is not a recovery file but a device file protected by a password", args[0])
			}
			text, err := a.secret("Passphrase of the recovery file: ")
			if err != nil {
				return err
			}
			key, err := crypto.ParseRecoveryPassphrase(string(text))
			if err != nil {
				return err
			}
			if _, err := f.UnlockRecovery(key); err != nil {
				return err // before asking for a password
			}
			password, err := a.newPassword()
			if err != nil {
				return err
			}
			if label == "" {
				label, _ = os.Hostname()
			}
			if label == "" {
				label = "recovered"
			}
			hc, err := a.httpClient()
			if err != nil {
				return err
			}
			local, err := client.ImportRecovery(cmd.Context(), a.configDir, f, key, label, password, client.Options{HTTPClient: hc, Warn: func(msg string) { a.say("warning: %s", msg) }})
			if err != nil {
				return err
			}
			a.say("New device created:")
			a.out("%s", device.Header{DeviceID: local.DeviceID, OrganizationID: local.OrganizationID, HumanHandle: local.HumanHandle, DeviceLabel: local.DeviceLabel}.Line())
			return nil
		},
	}
	a.addPasswordStdin(cmd)
	cmd.Flags().StringVar(&label, "label", "", "the new device's label (default: this computer's name)")
	return cmd
}

func (a *app) deviceChangePasswordCmd() *cobra.Command {
	var df deviceFlags
	cmd := &cobra.Command{
		Use:   "change-password -d DEVICE",
		Short: "Change the password of a device on this computer",
		Long: `Change the password that protects a device file on this computer. The old password is asked
first. With --password-stdin, the first line of stdin is the old password and the second the
new one. The device file is replaced only once the new one is complete.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := device.Find(a.configDir, df.device)
			if err != nil {
				return err
			}
			old, err := a.password("Current password for device " + file.Header.Line() + ": ")
			if err != nil {
				return err
			}
			local, err := file.Unlock(old)
			if err != nil {
				return err
			}
			password, err := a.newPassword()
			if err != nil {
				return err
			}
			if err := device.Save(file.Path, local, password, file.Header.CreatedOn); err != nil {
				return err
			}
			a.say("Password changed for device %s.", file.Header.Line())
			return nil
		},
	}
	a.addDeviceFlags(cmd, &df)
	return cmd
}

func (a *app) deviceRemoveCmd() *cobra.Command {
	var df deviceFlags
	var yes bool
	cmd := &cobra.Command{
		Use:   "remove -d DEVICE [--yes]",
		Short: "Forget a device on this computer (it stays valid elsewhere)",
		Long: `Delete a device file and its local data from this computer. The device is not revoked: a copy
of it elsewhere still works, and changes it had not sent are lost. You are asked to confirm
unless --yes.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			file, err := device.Find(a.configDir, df.device)
			if err != nil {
				return err
			}
			if !yes {
				if err := a.confirm(cmd, fmt.Sprintf("Forget device %s on this computer? Changes it has not sent are lost.", file.Header.Line()), "nothing removed"); err != nil {
					return err
				}
			}
			if err := errors.Join(os.Remove(file.Path), client.RemoveDeviceData(a.configDir, file.Header.DeviceID)); err != nil {
				return fmt.Errorf("remove device: %w", err)
			}
			a.say("Device %s removed from this computer.", file.Header.Line())
			return nil
		},
	}
	cmd.Flags().StringVarP(&df.device, "device", "d", "", "device to remove: any unique prefix of its ID (see parsec device list)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}
