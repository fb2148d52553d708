// Package sqlrows holds what the stores kept in a SQL database (sqlite, postgres) share: the
// mapping of metastore records to rows and back (the same column lists, filled from and
// scanned into the same Go values) and the reading of their embedded schema migrations.
// Each store keeps its own dialect, schema and statements; this package never runs a query.
package sqlrows

import (
	"fmt"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Scanner is a row being read (*sql.Row, *sql.Rows, pgx.Row, pgx.Rows).
type Scanner interface{ Scan(dest ...any) error }

// WithheldToken stands for an invitation token in error messages: tokens are the claimers'
// credentials and must not end up in logs.
const WithheldToken = "with this token"

// NotFound returns the error of a missing record (kind parsec.NotFound, wrapping
// metastore.ErrNotFound).
func NotFound(what string, key any) error {
	return &parsec.Error{Kind: parsec.NotFound, Msg: fmt.Sprintf("%s %v not found", what, key), Err: metastore.ErrNotFound}
}

// Exists returns the error of a key already taken (kind parsec.Exists, wrapping
// metastore.ErrExists).
func Exists(what string, key any) error {
	return &parsec.Error{Kind: parsec.Exists, Msg: fmt.Sprintf("%s %v already exists", what, key), Err: metastore.ErrExists}
}

func deviceIDPtr(b []byte) *parsec.DeviceID {
	if len(b) != 16 {
		return nil
	}
	var d parsec.DeviceID
	copy(d[:], b)
	return &d
}

func deviceIDBytes(d *parsec.DeviceID) any {
	if d == nil {
		return nil
	}
	return d[:]
}

// Organizations.

// OrgColumns are the columns of an organization, in the order of OrgArgs and ScanOrg.
const OrgColumns = `id, created_on, bootstrap_token, root_verify_key, bootstrapped_on, is_expired,
	user_profile_outsider_allowed, active_users_limit, minimum_archiving_period`

// OrgArgs lists the values of OrgColumns.
func OrgArgs(o metastore.Organization) []any {
	var limit any
	if o.Config.ActiveUsersLimit != nil {
		limit = *o.Config.ActiveUsersLimit
	}
	return []any{string(o.ID), o.CreatedOn, o.BootstrapToken[:], o.RootVerifyKey, o.BootstrappedOn, o.Config.IsExpired,
		o.Config.UserProfileOutsiderAllowed, limit, o.Config.MinimumArchivingPeriod}
}

// ScanOrg reads the OrgColumns of a row.
func ScanOrg(sc Scanner) (metastore.Organization, error) {
	var o metastore.Organization
	var id string
	var token []byte
	var limit *int64
	err := sc.Scan(&id, &o.CreatedOn, &token, &o.RootVerifyKey, &o.BootstrappedOn, &o.Config.IsExpired,
		&o.Config.UserProfileOutsiderAllowed, &limit, &o.Config.MinimumArchivingPeriod)
	if err != nil {
		return o, err
	}
	o.ID = parsec.OrganizationID(id)
	copy(o.BootstrapToken[:], token)
	o.Config.ActiveUsersLimit = limit
	return o, nil
}

// Users.

// UserColumns are the columns of a user, in the order of UserArgs and ScanUser.
const UserColumns = `id, email, name, initial_profile, profile, created_on, created_by, revoked_on,
	revoked_by, frozen, certificate, redacted_certificate, profile_history`

// UserArgs lists the values of UserColumns, then org.
func UserArgs(org parsec.OrganizationID, u metastore.User) []any {
	var history []byte
	if len(u.ProfileHistory) > 0 {
		history = codec.MustMarshal(u.ProfileHistory)
	}
	return []any{u.ID[:], u.Email, u.Name, string(u.InitialProfile), string(u.Profile), u.CreatedOn,
		deviceIDBytes(u.CreatedBy), u.RevokedOn, deviceIDBytes(u.RevokedBy), u.Frozen, u.Certificate,
		u.RedactedCertificate, history, string(org)}
}

// ScanUser reads the UserColumns of a row.
func ScanUser(sc Scanner) (metastore.User, error) {
	var u metastore.User
	var id, createdBy, revokedBy, history []byte
	var initial, profile string
	err := sc.Scan(&id, &u.Email, &u.Name, &initial, &profile, &u.CreatedOn, &createdBy, &u.RevokedOn,
		&revokedBy, &u.Frozen, &u.Certificate, &u.RedactedCertificate, &history)
	if err != nil {
		return u, err
	}
	copy(u.ID[:], id)
	u.InitialProfile, u.Profile = parsec.UserProfile(initial), parsec.UserProfile(profile)
	u.CreatedBy, u.RevokedBy = deviceIDPtr(createdBy), deviceIDPtr(revokedBy)
	if len(history) > 0 {
		if err := codec.Unmarshal(history, &u.ProfileHistory); err != nil {
			return u, fmt.Errorf("user %s: damaged profile history: %w", u.ID, err)
		}
	}
	return u, nil
}

// Devices.

// DeviceColumns are the columns of a device, in the order of DeviceArgs and ScanDevice.
const DeviceColumns = `id, user_id, label, verify_key, created_on, created_by, certificate, redacted_certificate`

// DeviceArgs lists the values of DeviceColumns, then org.
func DeviceArgs(org parsec.OrganizationID, d metastore.Device) []any {
	return []any{d.ID[:], d.UserID[:], d.Label, d.VerifyKey, d.CreatedOn, deviceIDBytes(d.CreatedBy), d.Certificate,
		d.RedactedCertificate, string(org)}
}

// ScanDevice reads the DeviceColumns of a row.
func ScanDevice(sc Scanner) (metastore.Device, error) {
	var d metastore.Device
	var id, user, createdBy []byte
	err := sc.Scan(&id, &user, &d.Label, &d.VerifyKey, &d.CreatedOn, &createdBy, &d.Certificate, &d.RedactedCertificate)
	if err != nil {
		return d, err
	}
	copy(d.ID[:], id)
	copy(d.UserID[:], user)
	d.CreatedBy = deviceIDPtr(createdBy)
	return d, nil
}
