package metastore

import "github.com/parsec-go/parsec/internal/parsec"

// RecoveryTx is the shared-recovery part of a transaction. The setup and deletion
// certificates live in the user's recovery topic (RecoveryTopic, with AddCertificate); what
// is kept here is what the server hands out at recovery time and who may see what.
type RecoveryTx interface {
	// InsertRecoverySetup adds a setup, or returns ErrExists if the user has one of the same
	// timestamp.
	InsertRecoverySetup(org parsec.OrganizationID, s RecoverySetup) error
	// RecoverySetup returns the user's last setup (deleted or not), or ErrNotFound.
	RecoverySetup(org parsec.OrganizationID, user parsec.UserID) (RecoverySetup, error)
	// DeleteRecoverySetup marks the user's setup of that timestamp deleted on the given date,
	// or returns ErrNotFound.
	DeleteRecoverySetup(org parsec.OrganizationID, user parsec.UserID, timestamp, on parsec.DateTime) error
	// RecoverySetups lists every setup of an organization, deleted ones included, by
	// timestamp.
	RecoverySetups(org parsec.OrganizationID) ([]RecoverySetup, error)
	// RecoveryUsersFor lists the users who have had a setup with this recipient (any,
	// deleted ones included), in no particular order, each once.
	RecoveryUsersFor(org parsec.OrganizationID, recipient parsec.UserID) ([]parsec.UserID, error)
}

// RecoverySetup is a user's shared-recovery setup as the server keeps it: what it hands to
// whoever proves, with the reveal token, that enough recipients vouched for them, and each
// recipient's share certificate. The server can read neither.
type RecoverySetup struct {
	User         parsec.UserID
	Timestamp    parsec.DateTime // the setup certificate's
	CipheredData []byte
	RevealToken  parsec.AccessToken
	Shares       map[parsec.UserID][]byte // recipient → share certificate
	DeletedOn    parsec.DateTime          // zero while in force
}

// Deleted reports whether the setup was deleted.
func (s RecoverySetup) Deleted() bool { return !s.DeletedOn.IsZero() }
