package sqlite

import (
	"errors"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Placeholder, replaced by the realm implementation.
var errTODORealms = errors.New("realms: not implemented")

func (t *tx) InsertRealm(org parsec.OrganizationID, r metastore.Realm) error { return errTODORealms }
func (t *tx) UpdateRealm(org parsec.OrganizationID, r metastore.Realm) error { return errTODORealms }
func (t *tx) Realm(org parsec.OrganizationID, id parsec.VlobID) (metastore.Realm, error) {
	return metastore.Realm{}, errTODORealms
}
func (t *tx) AddRealmRole(org parsec.OrganizationID, realm parsec.VlobID, r metastore.RealmRole) error {
	return errTODORealms
}
func (t *tx) RealmRoles(org parsec.OrganizationID, realm parsec.VlobID) ([]metastore.RealmRole, error) {
	return nil, errTODORealms
}
func (t *tx) CurrentRealmRole(org parsec.OrganizationID, realm parsec.VlobID, user parsec.UserID) (parsec.RealmRole, error) {
	return parsec.RoleNone, errTODORealms
}
func (t *tx) RealmMembers(org parsec.OrganizationID, realm parsec.VlobID) ([]metastore.RealmRole, error) {
	return nil, errTODORealms
}
func (t *tx) UserRealms(org parsec.OrganizationID, user parsec.UserID) ([]parsec.VlobID, error) {
	return nil, errTODORealms
}
func (t *tx) InsertKeysBundle(org parsec.OrganizationID, realm parsec.VlobID, b metastore.KeysBundle, access map[parsec.UserID][]byte) error {
	return errTODORealms
}
func (t *tx) KeysBundle(org parsec.OrganizationID, realm parsec.VlobID, keyIndex uint64) (metastore.KeysBundle, error) {
	return metastore.KeysBundle{}, errTODORealms
}
func (t *tx) PutKeysBundleAccess(org parsec.OrganizationID, realm parsec.VlobID, keyIndex uint64, user parsec.UserID, access []byte) error {
	return errTODORealms
}
func (t *tx) KeysBundleAccess(org parsec.OrganizationID, realm parsec.VlobID, keyIndex uint64, user parsec.UserID) ([]byte, error) {
	return nil, errTODORealms
}
