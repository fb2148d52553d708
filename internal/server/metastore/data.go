package metastore

import "github.com/parsec-go/parsec/internal/parsec"

// DataTx is the vlob and block part of a transaction (embedded in Tx).
type DataTx interface {
	// LastVlobTimestamp returns the greatest timestamp of a vlob version in a realm, or
	// zero when it has none. Role certificates must come after it.
	LastVlobTimestamp(org parsec.OrganizationID, realm parsec.VlobID) (parsec.DateTime, error)
}
