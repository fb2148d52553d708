package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlrows"
)

// Realms.

func (t *tx) InsertRealm(org parsec.OrganizationID, r metastore.Realm) error {
	if _, err := t.org(org); err != nil {
		return err
	}
	return t.insertOnce("realms", sqlrows.RealmColumns, "org, id", sqlrows.RealmArgs(org, r), sqlrows.Exists("realm", r.ID))
}

func (t *tx) UpdateRealm(org parsec.OrganizationID, r metastore.Realm) error {
	if _, err := t.org(org); err != nil {
		return err
	}
	return t.updateRow("realms", sqlrows.RealmColumns, "id", sqlrows.RealmArgs(org, r), r.ID[:], sqlrows.NotFound("realm", r.ID))
}

func (t *tx) Realm(org parsec.OrganizationID, id parsec.VlobID) (metastore.Realm, error) {
	o, err := t.org(org)
	if err != nil {
		return metastore.Realm{}, err
	}
	return queryOne(t, sqlrows.ScanRealm, sqlrows.NotFound("realm", id),
		`SELECT `+sqlrows.RealmColumns+` FROM realms WHERE org = $1 AND id = $2`, o, id[:])
}

// requireRealm returns ErrNotFound unless the realm exists.
func (t *tx) requireRealm(org string, id parsec.VlobID) error {
	var one int
	err := t.tx.QueryRow(t.ctx, `SELECT 1 FROM realms WHERE org = $1 AND id = $2`, org, id[:]).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlrows.NotFound("realm", id)
	}
	return err
}

// Roles.

func (t *tx) AddRealmRole(org parsec.OrganizationID, realm parsec.VlobID, r metastore.RealmRole) error {
	o, err := t.org(org)
	if err != nil {
		return err
	}
	if err := t.requireRealm(o, realm); err != nil {
		return err
	}
	_, err = t.exec(`INSERT INTO realm_roles (org, realm, `+sqlrows.RoleColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		o, realm[:], r.User[:], string(r.Role), int64(r.On), r.By[:])
	return err
}

func scanRole(sc sqlrows.Scanner) (metastore.RealmRole, error) { return sqlrows.ScanRole(sc) }

func (t *tx) RealmRoles(org parsec.OrganizationID, realm parsec.VlobID) ([]metastore.RealmRole, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	return queryAll(t, scanRole, `SELECT `+sqlrows.RoleColumns+` FROM realm_roles WHERE org = $1 AND realm = $2 ORDER BY seq`,
		o, realm[:])
}

func (t *tx) CurrentRealmRole(org parsec.OrganizationID, realm parsec.VlobID, user parsec.UserID) (parsec.RealmRole, error) {
	o, err := t.org(org)
	if err != nil {
		return parsec.RoleNone, err
	}
	var role string
	err = t.tx.QueryRow(t.ctx, `SELECT role FROM realm_roles WHERE org = $1 AND realm = $2 AND user_id = $3
		ORDER BY seq DESC LIMIT 1`, o, realm[:], user[:]).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return parsec.RoleNone, nil
	}
	return parsec.RealmRole(role), err
}

func (t *tx) RealmMembers(org parsec.OrganizationID, realm parsec.VlobID) ([]metastore.RealmRole, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	return queryAll(t, scanRole, `SELECT `+sqlrows.RoleColumns+` FROM (
			SELECT DISTINCT ON (user_id) `+sqlrows.RoleColumns+` FROM realm_roles
			WHERE org = $1 AND realm = $2 ORDER BY user_id, seq DESC) last
		WHERE role <> '' ORDER BY user_id`, o, realm[:])
}

func (t *tx) UserRealms(org parsec.OrganizationID, user parsec.UserID) ([]parsec.VlobID, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	return queryAll(t, func(sc sqlrows.Scanner) (parsec.VlobID, error) {
		var id parsec.VlobID
		var b []byte
		err := sc.Scan(&b)
		copy(id[:], b)
		return id, err
	}, `SELECT DISTINCT realm FROM realm_roles WHERE org = $1 AND user_id = $2 ORDER BY realm`, o, user[:])
}

func (t *tx) UserRealmRoles(org parsec.OrganizationID, user parsec.UserID) (map[parsec.VlobID]metastore.RealmRole, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	out := map[parsec.VlobID]metastore.RealmRole{}
	_, err = queryAll(t, func(sc sqlrows.Scanner) (struct{}, error) {
		var b []byte
		r, err := sqlrows.ScanRole(sc, &b)
		var id parsec.VlobID
		copy(id[:], b)
		out[id] = r
		return struct{}{}, err
	}, `SELECT DISTINCT ON (realm) realm, `+sqlrows.RoleColumns+` FROM realm_roles
		WHERE org = $1 AND user_id = $2 ORDER BY realm, seq DESC`, o, user[:])
	return out, err
}

// Key bundles.

func (t *tx) InsertKeysBundle(org parsec.OrganizationID, realm parsec.VlobID, b metastore.KeysBundle, access map[parsec.UserID][]byte) error {
	o, err := t.org(org)
	if err != nil {
		return err
	}
	if err := t.requireRealm(o, realm); err != nil {
		return err
	}
	n, err := t.exec(`INSERT INTO realm_keys_bundles (org, realm, key_index, created, by, canary, bundle)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (org, realm, key_index) DO NOTHING`,
		o, realm[:], int64(b.KeyIndex), int64(b.On), b.By[:], b.Canary, b.Bundle)
	if err != nil {
		return err
	}
	if n == 0 {
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
	o, err := t.org(org)
	if err != nil {
		return metastore.KeysBundle{}, err
	}
	b := metastore.KeysBundle{KeyIndex: keyIndex}
	var by []byte
	err = t.tx.QueryRow(t.ctx, `SELECT created, by, canary, bundle FROM realm_keys_bundles
		WHERE org = $1 AND realm = $2 AND key_index = $3`, o, realm[:], int64(keyIndex)).Scan(&b.On, &by, &b.Canary, &b.Bundle)
	if errors.Is(err, pgx.ErrNoRows) {
		return b, sqlrows.NotFound("keys bundle", fmt.Sprintf("%d of realm %s", keyIndex, realm))
	}
	copy(b.By[:], by)
	return b, err
}

func (t *tx) PutKeysBundleAccess(org parsec.OrganizationID, realm parsec.VlobID, keyIndex uint64, user parsec.UserID, access []byte) error {
	if _, err := t.KeysBundle(org, realm, keyIndex); err != nil {
		return err
	}
	_, err := t.exec(`INSERT INTO realm_keys_bundle_accesses (org, realm, key_index, user_id, access) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (org, realm, key_index, user_id) DO UPDATE SET access = excluded.access`,
		string(org), realm[:], int64(keyIndex), user[:], access)
	return err
}

func (t *tx) KeysBundleAccess(org parsec.OrganizationID, realm parsec.VlobID, keyIndex uint64, user parsec.UserID) ([]byte, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	var access []byte
	err = t.tx.QueryRow(t.ctx, `SELECT access FROM realm_keys_bundle_accesses
		WHERE org = $1 AND realm = $2 AND key_index = $3 AND user_id = $4`, o, realm[:], int64(keyIndex), user[:]).Scan(&access)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, sqlrows.NotFound("keys bundle access", fmt.Sprintf("of user %s to key %d of realm %s", user, keyIndex, realm))
	}
	return access, err
}
