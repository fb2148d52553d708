package postgres

import (
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlrows"
)

// Shared recovery.

func (t *tx) InsertRecoverySetup(org parsec.OrganizationID, s metastore.RecoverySetup) error {
	o, err := t.org(org)
	if err != nil {
		return err
	}
	n, err := t.exec(`INSERT INTO recovery_setups (org, user_id, timestamp, ciphered_data, reveal_token, deleted_on)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
		o, s.User[:], int64(s.Timestamp), s.CipheredData, s.RevealToken[:], int64(s.DeletedOn))
	if err != nil {
		return err
	}
	if n == 0 {
		return sqlrows.Exists("shared-recovery setup of", s.User)
	}
	for recipient, cert := range s.Shares {
		if _, err := t.exec(`INSERT INTO recovery_shares (org, user_id, timestamp, recipient, certificate) VALUES ($1, $2, $3, $4, $5)`,
			o, s.User[:], int64(s.Timestamp), recipient[:], cert); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) RecoverySetup(org parsec.OrganizationID, user parsec.UserID) (metastore.RecoverySetup, error) {
	o, err := t.org(org)
	if err != nil {
		return metastore.RecoverySetup{}, err
	}
	s, err := queryOne(t, sqlrows.ScanRecoverySetup, sqlrows.NotFound("shared-recovery setup of", user),
		`SELECT `+sqlrows.RecoverySetupColumns+` FROM recovery_setups
		WHERE org = $1 AND user_id = $2 ORDER BY timestamp DESC LIMIT 1`, o, user[:])
	if err != nil {
		return s, err
	}
	return s, t.recoveryShares(o, &s)
}

func (t *tx) recoveryShares(o string, s *metastore.RecoverySetup) error {
	rows, err := t.tx.Query(t.ctx, `SELECT recipient, certificate FROM recovery_shares
		WHERE org = $1 AND user_id = $2 AND timestamp = $3`, o, s.User[:], int64(s.Timestamp))
	if err != nil {
		return err
	}
	defer rows.Close()
	return sqlrows.ScanShares(rows, s)
}

func (t *tx) DeleteRecoverySetup(org parsec.OrganizationID, user parsec.UserID, timestamp, on parsec.DateTime) error {
	o, err := t.org(org)
	if err != nil {
		return err
	}
	n, err := t.exec(`UPDATE recovery_setups SET deleted_on = $1 WHERE org = $2 AND user_id = $3 AND timestamp = $4`,
		int64(on), o, user[:], int64(timestamp))
	if err != nil {
		return err
	}
	if n == 0 {
		return sqlrows.NotFound("shared-recovery setup of", user)
	}
	return nil
}

func (t *tx) RecoverySetups(org parsec.OrganizationID) ([]metastore.RecoverySetup, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	out, err := queryAll(t, sqlrows.ScanRecoverySetup, `SELECT `+sqlrows.RecoverySetupColumns+` FROM recovery_setups
		WHERE org = $1 ORDER BY timestamp`, o)
	if err != nil {
		return nil, err
	}
	for i := range out {
		if err := t.recoveryShares(o, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t *tx) RecoveryUsersFor(org parsec.OrganizationID, recipient parsec.UserID) ([]parsec.UserID, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	return queryAll(t, sqlrows.ScanUserID, `SELECT DISTINCT user_id FROM recovery_shares WHERE org = $1 AND recipient = $2`, o, recipient[:])
}
