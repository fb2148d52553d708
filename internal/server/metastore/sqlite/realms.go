package sqlite

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlrows"
)

// Realms.

func (t *tx) InsertRealm(org parsec.OrganizationID, r metastore.Realm) error {
	res, err := t.exec(`INSERT INTO realms (`+sqlrows.RealmColumns+`, org) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (org, id) DO NOTHING`, sqlrows.RealmArgs(org, r)...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return sqlrows.Exists("realm", r.ID)
	}
	return nil
}

func (t *tx) UpdateRealm(org parsec.OrganizationID, r metastore.Realm) error {
	res, err := t.exec(`UPDATE realms SET id = ?, created_on = ?, key_index = ?, archiving = ?, deletion_date = ?,
		named = ? WHERE org = ? AND id = ?`, append(sqlrows.RealmArgs(org, r), r.ID[:])...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return sqlrows.NotFound("realm", r.ID)
	}
	return nil
}

func (t *tx) Realm(org parsec.OrganizationID, id parsec.VlobID) (metastore.Realm, error) {
	r, err := sqlrows.ScanRealm(t.tx.QueryRowContext(t.ctx, `SELECT `+sqlrows.RealmColumns+` FROM realms WHERE org = ? AND id = ?`, string(org), id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return r, sqlrows.NotFound("realm", id)
	}
	return r, err
}

// requireRealm returns ErrNotFound unless the realm exists.
func (t *tx) requireRealm(org parsec.OrganizationID, id parsec.VlobID) error {
	var one int
	err := t.tx.QueryRowContext(t.ctx, `SELECT 1 FROM realms WHERE org = ? AND id = ?`, string(org), id[:]).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return sqlrows.NotFound("realm", id)
	}
	return err
}

// Roles.

func (t *tx) AddRealmRole(org parsec.OrganizationID, realm parsec.VlobID, r metastore.RealmRole) error {
	if err := t.requireRealm(org, realm); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO realm_roles (org, realm, user_id, role, granted, by) VALUES (?, ?, ?, ?, ?, ?)`,
		string(org), realm[:], r.User[:], string(r.Role), r.On, r.By[:])
	return err
}

func (t *tx) queryRoles(q string, args ...any) ([]metastore.RealmRole, error) {
	rows, err := t.tx.QueryContext(t.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []metastore.RealmRole
	for rows.Next() {
		r, err := sqlrows.ScanRole(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *tx) RealmRoles(org parsec.OrganizationID, realm parsec.VlobID) ([]metastore.RealmRole, error) {
	return t.queryRoles(`SELECT user_id, role, granted, by FROM realm_roles WHERE org = ? AND realm = ? ORDER BY seq`,
		string(org), realm[:])
}

func (t *tx) CurrentRealmRole(org parsec.OrganizationID, realm parsec.VlobID, user parsec.UserID) (parsec.RealmRole, error) {
	var role string
	err := t.tx.QueryRowContext(t.ctx, `SELECT role FROM realm_roles WHERE org = ? AND realm = ? AND user_id = ?
		ORDER BY seq DESC LIMIT 1`, string(org), realm[:], user[:]).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return parsec.RoleNone, nil
	}
	return parsec.RealmRole(role), err
}

// lastRole selects, among rows r of realm_roles, the last role change of each (realm, user).
const lastRole = `r.seq = (SELECT MAX(seq) FROM realm_roles WHERE org = r.org AND realm = r.realm AND user_id = r.user_id)`

func (t *tx) RealmMembers(org parsec.OrganizationID, realm parsec.VlobID) ([]metastore.RealmRole, error) {
	return t.queryRoles(`SELECT user_id, role, granted, by FROM realm_roles r
		WHERE org = ? AND realm = ? AND `+lastRole+` AND role != '' ORDER BY user_id`, string(org), realm[:])
}

func (t *tx) UserRealms(org parsec.OrganizationID, user parsec.UserID) ([]parsec.VlobID, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT DISTINCT realm FROM realm_roles WHERE org = ? AND user_id = ? ORDER BY realm`,
		string(org), user[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []parsec.VlobID
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		var id parsec.VlobID
		copy(id[:], b)
		out = append(out, id)
	}
	return out, rows.Err()
}

func (t *tx) UserRealmRoles(org parsec.OrganizationID, user parsec.UserID) (map[parsec.VlobID]metastore.RealmRole, error) {
	rows, err := t.tx.QueryContext(t.ctx, `SELECT realm, user_id, role, granted, by FROM realm_roles r
		WHERE org = ? AND user_id = ? AND `+lastRole, string(org), user[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[parsec.VlobID]metastore.RealmRole{}
	for rows.Next() {
		var b []byte
		r, err := sqlrows.ScanRole(rows, &b)
		if err != nil {
			return nil, err
		}
		var id parsec.VlobID
		copy(id[:], b)
		out[id] = r
	}
	return out, rows.Err()
}

// Key bundles.

func (t *tx) InsertKeysBundle(org parsec.OrganizationID, realm parsec.VlobID, b metastore.KeysBundle, access map[parsec.UserID][]byte) error {
	if err := t.requireRealm(org, realm); err != nil {
		return err
	}
	res, err := t.exec(`INSERT INTO realm_keys_bundles (org, realm, key_index, created, by, canary, bundle)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org, realm, key_index) DO NOTHING`,
		string(org), realm[:], int64(b.KeyIndex), b.On, b.By[:], b.Canary, b.Bundle)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return sqlrows.Exists("keys bundle", fmt.Sprintf("%d of realm %s", b.KeyIndex, realm))
	}
	for user, a := range access {
		if err := t.PutKeysBundleAccess(org, realm, b.KeyIndex, user, a); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) KeysBundle(org parsec.OrganizationID, realm parsec.VlobID, keyIndex uint64) (metastore.KeysBundle, error) {
	b := metastore.KeysBundle{KeyIndex: keyIndex}
	var by []byte
	err := t.tx.QueryRowContext(t.ctx, `SELECT created, by, canary, bundle FROM realm_keys_bundles
		WHERE org = ? AND realm = ? AND key_index = ?`, string(org), realm[:], int64(keyIndex)).Scan(&b.On, &by, &b.Canary, &b.Bundle)
	if errors.Is(err, sql.ErrNoRows) {
		return b, sqlrows.NotFound("keys bundle", fmt.Sprintf("%d of realm %s", keyIndex, realm))
	}
	copy(b.By[:], by)
	return b, err
}

func (t *tx) PutKeysBundleAccess(org parsec.OrganizationID, realm parsec.VlobID, keyIndex uint64, user parsec.UserID, access []byte) error {
	if _, err := t.KeysBundle(org, realm, keyIndex); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO realm_keys_bundle_accesses (org, realm, key_index, user_id, access) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (org, realm, key_index, user_id) DO UPDATE SET access = excluded.access`,
		string(org), realm[:], int64(keyIndex), user[:], access)
	return err
}

func (t *tx) KeysBundleAccess(org parsec.OrganizationID, realm parsec.VlobID, keyIndex uint64, user parsec.UserID) ([]byte, error) {
	var access []byte
	err := t.tx.QueryRowContext(t.ctx, `SELECT access FROM realm_keys_bundle_accesses
		WHERE org = ? AND realm = ? AND key_index = ? AND user_id = ?`, string(org), realm[:], int64(keyIndex), user[:]).Scan(&access)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, sqlrows.NotFound("keys bundle access", fmt.Sprintf("of user %s to key %d of realm %s", user, keyIndex, realm))
	}
	return access, err
}
