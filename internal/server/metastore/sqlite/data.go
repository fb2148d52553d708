package sqlite

import (
	"errors"

	"github.com/parsec-go/parsec/internal/parsec"
)

// Placeholder, replaced by the vlob and block implementation.
var errTODOData = errors.New("data: not implemented")

func (t *tx) LastVlobTimestamp(org parsec.OrganizationID, realm parsec.VlobID) (parsec.DateTime, error) {
	return 0, nil // placeholder: no vlobs yet
}
