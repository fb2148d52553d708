package sqlrows

import (
	"fmt"
	"math"

	"github.com/parsec-go/parsec/internal/codec"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
)

// Invitations.

// InvitationColumns are the columns of an invitation, in the order of InvitationArgs and
// ScanInvitation.
const InvitationColumns = `token, type, created_on, created_by, created_by_device, claimer_email,
	claimer_user_id, deleted_on, deleted_reason`

// InvitationArgs lists the values of InvitationColumns, then org.
func InvitationArgs(org parsec.OrganizationID, inv metastore.Invitation) []any {
	return []any{inv.Token[:], inv.Type, inv.CreatedOn, inv.CreatedBy[:], inv.CreatedByDevice[:],
		inv.ClaimerEmail, inv.ClaimerUserID[:], inv.DeletedOn, inv.DeletedReason, string(org)}
}

// ScanInvitation reads the InvitationColumns of a row.
func ScanInvitation(sc Scanner) (metastore.Invitation, error) {
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

// Greeting attempts.

// AttemptColumns are the columns of a greeting attempt, in the order of AttemptArgs and
// ScanAttempt. greeter_steps and claimer_steps hold the CBOR encoding of each side's list of
// step payloads (an array of byte strings), so that writing an attempt is one statement.
const AttemptColumns = `id, token, greeter, created_on, greeter_joined, claimer_joined, cancelled_on,
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

// AttemptArgs lists the values of AttemptColumns, then org.
func AttemptArgs(org parsec.OrganizationID, a metastore.GreetingAttempt) ([]any, error) {
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

// ScanAttempt reads the AttemptColumns of a row.
func ScanAttempt(sc Scanner) (metastore.GreetingAttempt, error) {
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

// Realms.

// RealmColumns are the columns of a realm, in the order of RealmArgs and ScanRealm.
const RealmColumns = `id, created_on, key_index, archiving, deletion_date, named`

// RealmArgs lists the values of RealmColumns, then org.
func RealmArgs(org parsec.OrganizationID, r metastore.Realm) []any {
	return []any{r.ID[:], r.CreatedOn, int64(r.KeyIndex), r.Archiving, r.DeletionDate, r.Named, string(org)}
}

// ScanRealm reads the RealmColumns of a row.
func ScanRealm(sc Scanner) (metastore.Realm, error) {
	var r metastore.Realm
	var id []byte
	var keyIndex int64
	if err := sc.Scan(&id, &r.CreatedOn, &keyIndex, &r.Archiving, &r.DeletionDate, &r.Named); err != nil {
		return r, err
	}
	copy(r.ID[:], id)
	r.KeyIndex = uint64(keyIndex)
	return r, nil
}

// RoleColumns are the columns of a role change, in the order of ScanRole.
const RoleColumns = `user_id, role, granted, by`

// ScanRole reads the columns extra (into their destinations), then the RoleColumns of a row.
func ScanRole(sc Scanner, extra ...any) (metastore.RealmRole, error) {
	var r metastore.RealmRole
	var user, by []byte
	var role string
	if err := sc.Scan(append(extra, &user, &role, &r.On, &by)...); err != nil {
		return r, err
	}
	copy(r.User[:], user)
	copy(r.By[:], by)
	r.Role = parsec.RealmRole(role)
	return r, nil
}

// Vlobs.

// AtomColumns are the columns of a vlob version in table alias a, in the order of ScanAtom.
const AtomColumns = `a.vlob_id, a.version, a.key_index, a.blob, a.author, a.timestamp`

// ScanAtom reads the AtomColumns of a row. An empty blob comes back empty, never nil.
func ScanAtom(sc Scanner) (metastore.VlobAtom, error) {
	var a metastore.VlobAtom
	var id, author []byte
	var version, keyIndex int64
	if err := sc.Scan(&id, &version, &keyIndex, &a.Blob, &author, &a.Timestamp); err != nil {
		return a, err
	}
	copy(a.VlobID[:], id)
	copy(a.Author[:], author)
	a.Version, a.KeyIndex = uint64(version), uint64(keyIndex)
	if a.Blob == nil {
		a.Blob = []byte{}
	}
	return a, nil
}

// InOrder returns the atoms found in the order of keys, skipping the keys not found.
func InOrder[K comparable](keys []K, found map[K]metastore.VlobAtom) []metastore.VlobAtom {
	var out []metastore.VlobAtom
	for _, k := range keys {
		if a, ok := found[k]; ok {
			out = append(out, a)
		}
	}
	return out
}

// AtomRow is a vlob version as stored, with its place in the realm's change log.
type AtomRow struct {
	VlobID, Author, Blob         []byte // Blob is never nil: the column refuses NULL
	Version, KeyIndex, Timestamp int64
	Checkpoint                   int64
}

// AtomRows returns the rows of atoms appended, in order, to a change log of length
// checkpoint whose greatest timestamp is last, and the new length and greatest timestamp.
func AtomRows(atoms []metastore.VlobAtom, checkpoint uint64, last parsec.DateTime) ([]AtomRow, uint64, parsec.DateTime, error) {
	rows := make([]AtomRow, len(atoms))
	for i, a := range atoms {
		if a.Version > math.MaxInt64 || a.KeyIndex > math.MaxInt64 {
			return nil, 0, 0, fmt.Errorf("vlob %s: version or key index out of range", a.VlobID)
		}
		checkpoint++
		last = max(last, a.Timestamp)
		blob := a.Blob
		if blob == nil {
			blob = []byte{}
		}
		rows[i] = AtomRow{VlobID: a.VlobID[:], Author: a.Author[:], Blob: blob, Version: int64(a.Version),
			KeyIndex: int64(a.KeyIndex), Timestamp: int64(a.Timestamp), Checkpoint: int64(checkpoint)}
	}
	return rows, checkpoint, last, nil
}

// Shared recovery.

// RecoverySetupColumns are the columns of a setup, in the order of ScanRecoverySetup.
const RecoverySetupColumns = `user_id, timestamp, ciphered_data, reveal_token, deleted_on`

// ScanRecoverySetup reads the RecoverySetupColumns of a row (the shares come from another
// table, see ScanShares).
func ScanRecoverySetup(sc Scanner) (metastore.RecoverySetup, error) {
	var s metastore.RecoverySetup
	var user, token []byte
	if err := sc.Scan(&user, &s.Timestamp, &s.CipheredData, &token, &s.DeletedOn); err != nil {
		return s, err
	}
	copy(s.User[:], user)
	copy(s.RevealToken[:], token)
	return s, nil
}

// ScanUserID reads a row of one user ID.
func ScanUserID(sc Scanner) (parsec.UserID, error) {
	var id parsec.UserID
	var b []byte
	err := sc.Scan(&b)
	copy(id[:], b)
	return id, err
}

// Rows is the part of a driver's result set that ScanShares reads.
type Rows interface {
	Scanner
	Next() bool
	Err() error
}

// ScanShares reads (recipient, certificate) rows into s.Shares.
func ScanShares(rows Rows, s *metastore.RecoverySetup) error {
	s.Shares = make(map[parsec.UserID][]byte)
	for rows.Next() {
		var recipient, cert []byte
		if err := rows.Scan(&recipient, &cert); err != nil {
			return err
		}
		var id parsec.UserID
		copy(id[:], recipient)
		s.Shares[id] = cert
	}
	return rows.Err()
}

// LogEnd is the last checkpoint VlobChanges reads: span entries of the log after after, or
// all of them when span is 0 (a checkpoint is stored as a signed 64-bit integer).
func LogEnd(after, span uint64) uint64 {
	if span == 0 || after+span > math.MaxInt64 || after+span < after {
		return math.MaxInt64
	}
	return after + span
}
