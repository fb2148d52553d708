package sqlite

import (
	"database/sql"
	"errors"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlrows"
)

// Shared recovery.

func (t *tx) InsertRecoverySetup(org parsec.OrganizationID, s metastore.RecoverySetup) error {
	res, err := t.exec(`INSERT INTO recovery_setups (org, user_id, timestamp, ciphered_data, reveal_token, deleted_on)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		string(org), s.User[:], s.Timestamp, s.CipheredData, s.RevealToken[:], s.DeletedOn)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(err, sqlrows.Exists("shared-recovery setup of", s.User))
	}
	for recipient, cert := range s.Shares {
		if _, err := t.exec(`INSERT INTO recovery_shares (org, user_id, timestamp, recipient, certificate) VALUES (?, ?, ?, ?, ?)`,
			string(org), s.User[:], s.Timestamp, recipient[:], cert); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) RecoverySetup(org parsec.OrganizationID, user parsec.UserID) (metastore.RecoverySetup, error) {
	s, err := sqlrows.ScanRecoverySetup(t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrows.RecoverySetupColumns+` FROM recovery_setups
		WHERE org = ? AND user_id = ? ORDER BY timestamp DESC LIMIT 1`, string(org), user[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return s, sqlrows.NotFound("shared-recovery setup of", user)
	}
	if err != nil {
		return s, err
	}
	return s, t.recoveryShares(org, &s)
}

func (t *tx) recoveryShares(org parsec.OrganizationID, s *metastore.RecoverySetup) error {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT recipient, certificate FROM recovery_shares
		WHERE org = ? AND user_id = ? AND timestamp = ?`, string(org), s.User[:], s.Timestamp)
	if err != nil {
		return err
	}
	defer rows.Close()
	return sqlrows.ScanShares(rows, s)
}

func (t *tx) DeleteRecoverySetup(org parsec.OrganizationID, user parsec.UserID, timestamp, on parsec.DateTime) error {
	res, err := t.exec(`UPDATE recovery_setups SET deleted_on = ? WHERE org = ? AND user_id = ? AND timestamp = ?`,
		on, string(org), user[:], timestamp)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(err, sqlrows.NotFound("shared-recovery setup of", user))
	}
	return nil
}

func (t *tx) RecoverySetups(org parsec.OrganizationID) ([]metastore.RecoverySetup, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT `+sqlrows.RecoverySetupColumns+` FROM recovery_setups
		WHERE org = ? ORDER BY timestamp`, string(org))
	if err != nil {
		return nil, err
	}
	var out []metastore.RecoverySetup
	for rows.Next() {
		s, err := sqlrows.ScanRecoverySetup(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := t.recoveryShares(org, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *tx) RecoveryUsersFor(org parsec.OrganizationID, recipient parsec.UserID) ([]parsec.UserID, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT DISTINCT user_id FROM recovery_shares WHERE org = ? AND recipient = ?`,
		string(org), recipient[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []parsec.UserID
	for rows.Next() {
		id, err := sqlrows.ScanUserID(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
