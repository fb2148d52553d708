package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Invitations.

// withheldToken stands for an invitation token in error messages: tokens are the claimers'
// credentials and must not end up in logs.
const withheldToken = "with this token"

const invitationColumns = `token, type, created_on, created_by, created_by_device, claimer_email,
	claimer_user_id, deleted_on, deleted_reason`

func scanInvitation(sc interface{ Scan(...any) error }) (metastore.Invitation, error) {
	var inv metastore.Invitation
	var token, createdBy, createdByDevice, claimerUser []byte
	err := sc.Scan(&token, &inv.Type, &inv.CreatedOn, &createdBy, &createdByDevice, &inv.ClaimerEmail,
		&claimerUser, &inv.DeletedOn, &inv.DeletedReason)
	if err != nil {
		return inv, err
	}
	copy(inv.Token[:], token)
	copy(inv.CreatedBy[:], createdBy)
	copy(inv.CreatedByDevice[:], createdByDevice)
	copy(inv.ClaimerUserID[:], claimerUser)
	return inv, nil
}

// invitationArgs lists the values of invitationColumns, then org.
func invitationArgs(org parsec.OrganizationID, inv metastore.Invitation) []any {
	return []any{inv.Token[:], inv.Type, inv.CreatedOn, inv.CreatedBy[:], inv.CreatedByDevice[:],
		inv.ClaimerEmail, inv.ClaimerUserID[:], inv.DeletedOn, inv.DeletedReason, string(org)}
}

func (t *tx) InsertInvitation(org parsec.OrganizationID, inv metastore.Invitation) error {
	res, err := t.exec(`INSERT INTO invitations (`+invitationColumns+`, org) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, token) DO NOTHING`, invitationArgs(org, inv)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return exists("invitation", withheldToken)
	}
	return nil
}

func (t *tx) UpdateInvitation(org parsec.OrganizationID, inv metastore.Invitation) error {
	res, err := t.exec(`UPDATE invitations SET token = ?, type = ?, created_on = ?, created_by = ?,
		created_by_device = ?, claimer_email = ?, claimer_user_id = ?, deleted_on = ?, deleted_reason = ?
		WHERE org = ? AND token = ?`, append(invitationArgs(org, inv), inv.Token[:])...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return notFound("invitation", withheldToken)
	}
	return nil
}

func (t *tx) Invitation(org parsec.OrganizationID, token parsec.AccessToken) (metastore.Invitation, error) {
	inv, err := scanInvitation(t.tx.QueryRowContext(t.ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE org = ? AND token = ?`, string(org), token[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return inv, notFound("invitation", withheldToken)
	}
	return inv, err
}

// The WHERE terms on type and deleted_on repeat those of the partial indexes of migration
// 0002 literally, so that SQLite uses them.

func (t *tx) PendingUserInvitation(org parsec.OrganizationID, email string) (metastore.Invitation, error) {
	inv, err := scanInvitation(t.tx.QueryRowContext(t.ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE org = ? AND claimer_email = ? AND type = 'USER' AND deleted_on = 0
		ORDER BY created_on, seq LIMIT 1`, string(org), email))
	if errors.Is(err, sql.ErrNoRows) {
		return inv, notFound("pending user invitation for", fmt.Sprintf("%q", email))
	}
	return inv, err
}

func (t *tx) PendingDeviceInvitation(org parsec.OrganizationID, user parsec.UserID) (metastore.Invitation, error) {
	inv, err := scanInvitation(t.tx.QueryRowContext(t.ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE org = ? AND claimer_user_id = ? AND type = 'DEVICE' AND deleted_on = 0
		ORDER BY created_on, seq LIMIT 1`, string(org), user[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return inv, notFound("pending device invitation for user", user)
	}
	return inv, err
}

func (t *tx) Invitations(org parsec.OrganizationID) ([]metastore.Invitation, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+invitationColumns+` FROM invitations
		WHERE org = ? ORDER BY created_on, seq`, string(org))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// Greeting attempts.

const attemptColumns = `id, token, greeter, created_on, greeter_joined, claimer_joined, cancelled_on,
	cancelled_by, cancel_reason, greeter_steps, claimer_steps`

// encodeSteps encodes a list of step payloads as a CBOR array of byte strings; nil is stored
// as the empty array.
func encodeSteps(steps [][]byte) ([]byte, error) {
	if steps == nil {
		steps = [][]byte{}
	}
	return codec.Marshal(steps)
}

// decodeSteps reverses encodeSteps. An empty list comes back nil.
func decodeSteps(data []byte) ([][]byte, error) {
	var steps [][]byte
	if err := codec.Unmarshal(data, &steps); err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		return nil, nil
	}
	return steps, nil
}

func scanAttempt(sc interface{ Scan(...any) error }) (metastore.GreetingAttempt, error) {
	var a metastore.GreetingAttempt
	var id, token, greeter, greeterSteps, claimerSteps []byte
	err := sc.Scan(&id, &token, &greeter, &a.CreatedOn, &a.GreeterJoined, &a.ClaimerJoined, &a.CancelledOn,
		&a.CancelledBy, &a.CancelReason, &greeterSteps, &claimerSteps)
	if err != nil {
		return a, err
	}
	copy(a.ID[:], id)
	copy(a.Token[:], token)
	copy(a.Greeter[:], greeter)
	if a.GreeterSteps, err = decodeSteps(greeterSteps); err != nil {
		return a, fmt.Errorf("greeting attempt %v: greeter steps: %w", a.ID, err)
	}
	if a.ClaimerSteps, err = decodeSteps(claimerSteps); err != nil {
		return a, fmt.Errorf("greeting attempt %v: claimer steps: %w", a.ID, err)
	}
	return a, nil
}

// attemptArgs lists the values of attemptColumns, then org.
func attemptArgs(org parsec.OrganizationID, a metastore.GreetingAttempt) ([]any, error) {
	greeterSteps, err := encodeSteps(a.GreeterSteps)
	if err != nil {
		return nil, fmt.Errorf("greeting attempt %v: greeter steps: %w", a.ID, err)
	}
	claimerSteps, err := encodeSteps(a.ClaimerSteps)
	if err != nil {
		return nil, fmt.Errorf("greeting attempt %v: claimer steps: %w", a.ID, err)
	}
	return []any{a.ID[:], a.Token[:], a.Greeter[:], a.CreatedOn, a.GreeterJoined, a.ClaimerJoined, a.CancelledOn,
		a.CancelledBy, a.CancelReason, greeterSteps, claimerSteps, string(org)}, nil
}

func (t *tx) InsertGreetingAttempt(org parsec.OrganizationID, a metastore.GreetingAttempt) error {
	args, err := attemptArgs(org, a)
	if err != nil {
		return err
	}
	res, err := t.exec(`INSERT INTO greeting_attempts (`+attemptColumns+`, org) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, id) DO NOTHING`, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return exists("greeting attempt", a.ID)
	}
	return nil
}

func (t *tx) UpdateGreetingAttempt(org parsec.OrganizationID, a metastore.GreetingAttempt) error {
	args, err := attemptArgs(org, a)
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
		return notFound("greeting attempt", a.ID)
	}
	return nil
}

func (t *tx) GreetingAttempt(org parsec.OrganizationID, id parsec.GreetingAttemptID) (metastore.GreetingAttempt, error) {
	a, err := scanAttempt(t.tx.QueryRowContext(t.ctx, `SELECT `+attemptColumns+` FROM greeting_attempts
		WHERE org = ? AND id = ?`, string(org), id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("greeting attempt", id)
	}
	return a, err
}

func (t *tx) GreetingAttempts(org parsec.OrganizationID, token parsec.AccessToken) ([]metastore.GreetingAttempt, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+attemptColumns+` FROM greeting_attempts
		WHERE org = ? AND token = ? ORDER BY created_on, seq`, string(org), token[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.GreetingAttempt
	for rows.Next() {
		a, err := scanAttempt(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
