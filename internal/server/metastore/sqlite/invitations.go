package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlrows"
)

// Invitations.

func (t *tx) InsertInvitation(org parsec.OrganizationID, inv metastore.Invitation) error {
	res, err := t.exec(`INSERT INTO invitations (`+sqlrows.InvitationColumns+`, org) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, token) DO NOTHING`, sqlrows.InvitationArgs(org, inv)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return sqlrows.Exists("invitation", sqlrows.WithheldToken)
	}
	return nil
}

func (t *tx) UpdateInvitation(org parsec.OrganizationID, inv metastore.Invitation) error {
	res, err := t.exec(`UPDATE invitations SET token = ?, type = ?, created_on = ?, created_by = ?,
		created_by_device = ?, claimer_email = ?, claimer_user_id = ?, deleted_on = ?, deleted_reason = ?
		WHERE org = ? AND token = ?`, append(sqlrows.InvitationArgs(org, inv), inv.Token[:])...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return sqlrows.NotFound("invitation", sqlrows.WithheldToken)
	}
	return nil
}

func (t *tx) Invitation(org parsec.OrganizationID, token parsec.AccessToken) (metastore.Invitation, error) {
	inv, err := sqlrows.ScanInvitation(t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrows.InvitationColumns+` FROM invitations
		WHERE org = ? AND token = ?`, string(org), token[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return inv, sqlrows.NotFound("invitation", sqlrows.WithheldToken)
	}
	return inv, err
}

// The WHERE terms on type and deleted_on repeat those of the partial indexes of migration
// 0002 literally, so that SQLite uses them.

func (t *tx) PendingUserInvitation(org parsec.OrganizationID, email string) (metastore.Invitation, error) {
	inv, err := sqlrows.ScanInvitation(t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrows.InvitationColumns+` FROM invitations
		WHERE org = ? AND claimer_email = ? AND type = 'USER' AND deleted_on = 0
		ORDER BY created_on, seq LIMIT 1`, string(org), email))
	if errors.Is(err, sql.ErrNoRows) {
		return inv, sqlrows.NotFound("pending user invitation for", fmt.Sprintf("%q", email))
	}
	return inv, err
}

func (t *tx) PendingInvitationFor(org parsec.OrganizationID, typ string, user parsec.UserID) (metastore.Invitation, error) {
	inv, err := sqlrows.ScanInvitation(t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrows.InvitationColumns+` FROM invitations
		WHERE org = ? AND claimer_user_id = ? AND type = ? AND deleted_on = 0
		ORDER BY created_on, seq LIMIT 1`, string(org), user[:], typ))
	if errors.Is(err, sql.ErrNoRows) {
		return inv, sqlrows.NotFound("pending "+typ+" invitation for user", user)
	}
	return inv, err
}

func (t *tx) Invitations(org parsec.OrganizationID) ([]metastore.Invitation, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+sqlrows.InvitationColumns+` FROM invitations
		WHERE org = ? ORDER BY created_on, seq`, string(org))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.Invitation
	for rows.Next() {
		inv, err := sqlrows.ScanInvitation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// Greeting attempts.

func (t *tx) InsertGreetingAttempt(org parsec.OrganizationID, a metastore.GreetingAttempt) error {
	args, err := sqlrows.AttemptArgs(org, a)
	if err != nil {
		return err
	}
	res, err := t.exec(`INSERT INTO greeting_attempts (`+sqlrows.AttemptColumns+`, org) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, id) DO NOTHING`, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return sqlrows.Exists("greeting attempt", a.ID)
	}
	return nil
}

func (t *tx) UpdateGreetingAttempt(org parsec.OrganizationID, a metastore.GreetingAttempt) error {
	args, err := sqlrows.AttemptArgs(org, a)
	if err != nil {
		return err
	}
	res, err := t.exec(`UPDATE greeting_attempts SET id = ?, token = ?, greeter = ?, created_on = ?,
		greeter_joined = ?, claimer_joined = ?, cancelled_on = ?, cancelled_by = ?, cancel_reason = ?,
		greeter_steps = ?, claimer_steps = ? WHERE org = ? AND id = ?`, append(args, a.ID[:])...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return sqlrows.NotFound("greeting attempt", a.ID)
	}
	return nil
}

func (t *tx) GreetingAttempt(org parsec.OrganizationID, id parsec.GreetingAttemptID) (metastore.GreetingAttempt, error) {
	a, err := sqlrows.ScanAttempt(t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrows.AttemptColumns+` FROM greeting_attempts
		WHERE org = ? AND id = ?`, string(org), id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return a, sqlrows.NotFound("greeting attempt", id)
	}
	return a, err
}

func (t *tx) GreetingAttempts(org parsec.OrganizationID, token parsec.AccessToken) ([]metastore.GreetingAttempt, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+sqlrows.AttemptColumns+` FROM greeting_attempts
		WHERE org = ? AND token = ? ORDER BY created_on, seq`, string(org), token[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.GreetingAttempt
	for rows.Next() {
		a, err := sqlrows.ScanAttempt(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
