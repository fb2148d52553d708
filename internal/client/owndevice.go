package client

import (
	"context"
	"os"
	"time"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// NewOwnDevice creates a new device of this user, signed by this device, and returns its
// secrets for the caller to save: a recovery device (recovery true: its certificate says
// so; see ExportRecovery) or an ordinary one (device.Save). The new device is known
// to the server and valid at once.
func (c *Client) NewOwnDevice(ctx context.Context, label string, recovery bool) (*device.Local, error) {
	purpose := certif.DevicePurpose
	if recovery {
		purpose = certif.RecoveryPurpose
	}
	return c.newOwnDevice(ctx, label, purpose)
}

// newOwnDevice creates a new device of this user with the given purpose (certif.*Purpose).
func (c *Client) newOwnDevice(ctx context.Context, label, purpose string) (*device.Local, error) {
	label, err := parsec.ParseDeviceLabel(label)
	if err != nil {
		return nil, err
	}
	signer := crypto.GenerateSigningKey()
	id := parsec.NewDeviceID()
	if err := c.createDevice(ctx, c.dev.UserID, id, label, signer.VerifyKey(), purpose); err != nil {
		return nil, err
	}
	if _, err := c.PollCertificates(ctx); err != nil {
		return nil, err
	}
	l := *c.dev
	l.DeviceID, l.DeviceLabel, l.SigningKey, l.LocalKey = id, label, signer.Seed(), crypto.GenerateSecretKey()
	return &l, nil
}

// createDevice signs a device certificate of user, in both flavours, with this device, and
// has the server record it.
func (c *Client) createDevice(ctx context.Context, user parsec.UserID, id parsec.DeviceID, label string, key crypto.VerifyKey, purpose string) error {
	author := c.dev.DeviceID
	return c.WithFreshTimestamp(ctx, 500*time.Millisecond, func(ts parsec.DateTime) error {
		d := &certif.DeviceCertificate{Author: &author, Timestamp: ts, UserID: user, DeviceID: id, DeviceLabel: &label,
			VerifyKey: key, Algorithm: certif.DeviceKeyAlgorithm, Purpose: purpose}
		d.View = c.seen(certif.CommonTopic)
		rd := *d
		rd.DeviceLabel = nil
		return c.Call(ctx, protocol.CmdDeviceCreate, protocol.DeviceCreateReq{
			DeviceCertificate: certif.Sign(c.signer, d), RedactedDeviceCertificate: certif.Sign(c.signer, &rd),
		}, nil)
	})
}

// ImportRecovery opens a recovery file with the key of its passphrase and creates from it a
// new ordinary device of the same user, saved in configDir under password. The recovery
// device works from a scratch directory: nothing of it stays on this computer. A wrong key
// fails with kind parsec.BadAuth and creates nothing.
func ImportRecovery(ctx context.Context, configDir string, f *device.File, key crypto.SecretKey, label string, password []byte, opts Options) (*device.Local, error) {
	return fromRecovery(ctx, configDir, f, key, label, password, opts, nil)
}

// fromRecovery is ImportRecovery; then, if set, runs with the recovery device's client
// once the certificates are validated (before the new device is made: its error stops
// everything) and once the new device is saved (its error is returned with the device).
func fromRecovery(ctx context.Context, configDir string, f *device.File, key crypto.SecretKey, label string, password []byte, opts Options,
	then func(c *Client, saved *device.Local) error) (*device.Local, error) {
	if len(password) == 0 {
		return nil, parsec.Errorf(parsec.Invalid, "the device password must not be empty")
	}
	recovery, err := f.UnlockRecovery(key)
	if err != nil {
		return nil, err
	}
	scratch, err := os.MkdirTemp("", "parsec-recovery-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	c, err := Open(ctx, scratch, recovery, opts)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.PollCertificates(ctx); err != nil {
		return nil, err
	}
	if then != nil {
		if err := then(c, nil); err != nil {
			return nil, err
		}
	}
	local, err := c.NewOwnDevice(ctx, label, false)
	if err != nil {
		return nil, err
	}
	if err := device.Create(device.Path(configDir, local.DeviceID), local, password, c.now()); err != nil {
		return nil, parsec.Errorf(parsec.Other, "the device %s was created but could not be saved (%v): import the recovery file again", parsec.ShortID(local.DeviceID), err)
	}
	if then != nil {
		return local, then(c, local)
	}
	return local, nil
}

// A RecoveryFile is a recovery device, ready to be handed to its user: the file's bytes,
// encrypted under a generated passphrase (see crypto.NewRecoveryPassphrase), and that
// passphrase, to show once.
type RecoveryFile struct {
	DeviceID   parsec.DeviceID
	Data       []byte
	Passphrase string
}

// ExportRecovery creates a recovery device of this user (its certificate says so) and
// returns it as a recovery file. ImportRecovery turns it into a new device, on any
// computer.
func (c *Client) ExportRecovery(ctx context.Context, label string) (*RecoveryFile, error) {
	local, err := c.NewOwnDevice(ctx, label, true)
	if err != nil {
		return nil, err
	}
	key, passphrase := crypto.NewRecoveryPassphrase()
	data, err := device.EncodeRecovery(local, key, c.now())
	if err != nil {
		return nil, err
	}
	return &RecoveryFile{DeviceID: local.DeviceID, Data: data, Passphrase: passphrase}, nil
}
