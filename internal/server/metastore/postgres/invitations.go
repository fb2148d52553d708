package postgres

import (
	"fmt"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlrows"
)

// Invitations.

func (t *tx) InsertInvitation(org parsec.OrganizationID, inv metastore.Invitation) error {
	if _, err := t.org(org); err != nil {
		return err
	}
	return t.insertOnce("invitations", sqlrows.InvitationColumns, "org, token", sqlrows.InvitationArgs(org, inv),
		sqlrows.Exists("invitation", sqlrows.WithheldToken))
}

func (t *tx) UpdateInvitation(org parsec.OrganizationID, inv metastore.Invitation) error {
	if _, err := t.org(org); err != nil {
		return err
	}
	return t.updateRow("invitations", sqlrows.InvitationColumns, "token", sqlrows.InvitationArgs(org, inv), inv.Token[:],
		sqlrows.NotFound("invitation", sqlrows.WithheldToken))
}

func (t *tx) Invitation(org parsec.OrganizationID, token parsec.AccessToken) (metastore.Invitation, error) {
	o, err := t.org(org)
	if err != nil {
		return metastore.Invitation{}, err
	}
	return queryOne(t, sqlrows.ScanInvitation, sqlrows.NotFound("invitation", sqlrows.WithheldToken),
		`SELECT `+sqlrows.InvitationColumns+` FROM invitations WHERE org = $1 AND token = $2`, o, token[:])
}

// The WHERE terms on type and deleted_on repeat those of the partial indexes.

func (t *tx) PendingUserInvitation(org parsec.OrganizationID, email string) (metastore.Invitation, error) {
	o, err := t.org(org)
	if err != nil {
		return metastore.Invitation{}, err
	}
	return queryOne(t, sqlrows.ScanInvitation, sqlrows.NotFound("pending user invitation for", fmt.Sprintf("%q", email)),
		`SELECT `+sqlrows.InvitationColumns+` FROM invitations
		WHERE org = $1 AND claimer_email = $2 AND type = 'USER' AND deleted_on = 0
		ORDER BY created_on, seq LIMIT 1`, o, email)
}

func (t *tx) PendingInvitationFor(org parsec.OrganizationID, typ string, user parsec.UserID) (metastore.Invitation, error) {
	o, err := t.org(org)
	if err != nil {
		return metastore.Invitation{}, err
	}
	return queryOne(t, sqlrows.ScanInvitation, sqlrows.NotFound("pending "+typ+" invitation for user", user),
		`SELECT `+sqlrows.InvitationColumns+` FROM invitations
		WHERE org = $1 AND claimer_user_id = $2 AND type = $3 AND deleted_on = 0
		ORDER BY created_on, seq LIMIT 1`, o, user[:], typ)
}

func (t *tx) Invitations(org parsec.OrganizationID) ([]metastore.Invitation, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	return queryAll(t, sqlrows.ScanInvitation, `SELECT `+sqlrows.InvitationColumns+` FROM invitations
		WHERE org = $1 ORDER BY created_on, seq`, o)
}

// Greeting attempts.

func (t *tx) InsertGreetingAttempt(org parsec.OrganizationID, a metastore.GreetingAttempt) error {
	if _, err := t.org(org); err != nil {
		return err
	}
	args, err := sqlrows.AttemptArgs(org, a)
	if err != nil {
		return err
	}
	return t.insertOnce("greeting_attempts", sqlrows.AttemptColumns, "org, id", args, sqlrows.Exists("greeting attempt", a.ID))
}

func (t *tx) UpdateGreetingAttempt(org parsec.OrganizationID, a metastore.GreetingAttempt) error {
	if _, err := t.org(org); err != nil {
		return err
	}
	args, err := sqlrows.AttemptArgs(org, a)
	if err != nil {
		return err
	}
	return t.updateRow("greeting_attempts", sqlrows.AttemptColumns, "id", args, a.ID[:], sqlrows.NotFound("greeting attempt", a.ID))
}

func (t *tx) GreetingAttempt(org parsec.OrganizationID, id parsec.GreetingAttemptID) (metastore.GreetingAttempt, error) {
	o, err := t.org(org)
	if err != nil {
		return metastore.GreetingAttempt{}, err
	}
	return queryOne(t, sqlrows.ScanAttempt, sqlrows.NotFound("greeting attempt", id),
		`SELECT `+sqlrows.AttemptColumns+` FROM greeting_attempts WHERE org = $1 AND id = $2`, o, id[:])
}

func (t *tx) GreetingAttempts(org parsec.OrganizationID, token parsec.AccessToken) ([]metastore.GreetingAttempt, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	return queryAll(t, sqlrows.ScanAttempt, `SELECT `+sqlrows.AttemptColumns+` FROM greeting_attempts
		WHERE org = $1 AND token = $2 ORDER BY created_on, seq`, o, token[:])
}
