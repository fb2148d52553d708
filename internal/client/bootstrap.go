package client

import (
	"context"
	"net/http"

	"github.com/parsec-go/parsec/internal/certif"
	"github.com/parsec-go/parsec/internal/client/device"
	"github.com/parsec-go/parsec/internal/crypto"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// BootstrapRequest says who the first administrator of a new organization is.
type BootstrapRequest struct {
	Link        protocol.Link // the bootstrap link from the server administrator
	Email       string
	Name        string
	DeviceLabel string
	Password    []byte // protects the new device file
	HTTPClient  *http.Client
	Clock       parsec.Clock
}

// Bootstrap creates an organization's root key, its first user (an administrator) and that
// user's first device, has the server check and store their certificates, and saves the
// device in configDir. The root signing key is used only here, then forgotten: nobody,
// including this device, can sign as the organization afterwards.
func Bootstrap(ctx context.Context, configDir string, r BootstrapRequest) (*device.Local, error) {
	if r.Link.Action != protocol.ActionBootstrapOrganization {
		return nil, parsec.Errorf(parsec.Invalid, "this is not an organization bootstrap link (action %q)", r.Link.Action)
	}
	handle, err := parsec.NewHumanHandle(r.Email, r.Name)
	if err != nil {
		return nil, err
	}
	label, err := parsec.ParseDeviceLabel(r.DeviceLabel)
	if err != nil {
		return nil, err
	}
	if len(r.Password) == 0 {
		return nil, parsec.Errorf(parsec.Invalid, "the device password must not be empty")
	}
	clock := r.Clock
	if clock == nil {
		clock = parsec.SystemClock{}
	}
	root := crypto.GenerateSigningKey()
	signer := crypto.GenerateSigningKey()
	userKey := crypto.GenerateUserKey()
	dev := &device.Local{
		ServerURL: r.Link.Server.HTTPURL(), OrganizationID: r.Link.Org, RootVerifyKey: root.VerifyKey(),
		UserID: parsec.NewUserID(), DeviceID: parsec.NewDeviceID(), DeviceLabel: label, HumanHandle: handle,
		InitialProfile: parsec.ProfileAdmin, SigningKey: signer.Seed(), PrivateKey: userKey.Bytes(),
		LocalKey: crypto.GenerateSecretKey(),
	}
	now := clock.Now()
	user := &certif.UserCertificate{Timestamp: now, UserID: dev.UserID, HumanHandle: &handle,
		PublicKey: userKey.Public(), Algorithm: crypto.UserKeyAlgorithm, Profile: parsec.ProfileAdmin}
	dc := &certif.DeviceCertificate{Timestamp: now, UserID: dev.UserID, DeviceID: dev.DeviceID,
		DeviceLabel: &label, VerifyKey: signer.VerifyKey(), Algorithm: certif.DeviceKeyAlgorithm, Purpose: certif.DevicePurpose}
	req := protocol.OrganizationBootstrapReq{
		BootstrapToken: r.Link.Token, RootVerifyKey: dev.RootVerifyKey[:],
		UserCertificate: certif.Sign(root, user), DeviceCertificate: certif.Sign(root, dc),
	}
	redactedUser, redactedDevice := *user, *dc
	redactedUser.HumanHandle, redactedDevice.DeviceLabel = nil, nil
	req.RedactedUserCertificate = certif.Sign(root, &redactedUser)
	req.RedactedDeviceCertificate = certif.Sign(root, &redactedDevice)

	t := newTransport(r.HTTPClient, r.Link.Server, r.Link.Org)
	if err := t.call(ctx, protocol.RouteAnonymous, protocol.CmdOrganizationBootstrap, req, nil, nil); err != nil {
		return nil, err
	}
	if err := device.Create(device.Path(configDir, dev.DeviceID), dev, r.Password, now); err != nil {
		return nil, parsec.Errorf(parsec.Other,
			"organization %s was bootstrapped but its first device could not be saved (%v): ask the server administrator to create the organization again", dev.OrganizationID, err)
	}
	return dev, nil
}
