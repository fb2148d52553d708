package metastore

import "github.com/parsec-go/parsec/internal/parsec"

// VlobAtom is one version of a vlob (a versioned, encrypted manifest) of a realm. Blob is
// opaque: the store never looks inside.
type VlobAtom struct {
	VlobID    parsec.VlobID
	Version   uint64 // 1, 2, 3…
	KeyIndex  uint64 // the realm key that encrypted Blob
	Blob      []byte
	Author    parsec.DeviceID
	Timestamp parsec.DateTime // chosen by the author, checked by the server
}

// VlobRef names one version of a vlob.
type VlobRef struct {
	VlobID  parsec.VlobID
	Version uint64
}

// LastVersion is a vlob's last version and its timestamp, which a new version must be after.
type LastVersion struct {
	Version   uint64
	Timestamp parsec.DateTime
}

// Block is what the metadata store knows of a block of a realm; its bytes are in the
// block store, under (organization, ID).
type Block struct {
	ID        parsec.BlockID
	Realm     parsec.VlobID
	Author    parsec.DeviceID
	Size      int64 // of the encrypted bytes
	KeyIndex  uint64
	CreatedOn parsec.DateTime
}

// DataTx is the vlob and block part of a transaction (embedded in Tx).
//
// Each realm has a change log: every vlob version stored is appended to it, and its
// checkpoint is the number of versions appended so far (0 for a realm without vlobs).
// Clients poll the changes after the checkpoint they last saw.
//
// Methods taking many IDs are made for batches of up to a few thousand items in one
// transaction; the store does not check that the realm exists, nor who may do what.
type DataTx interface {
	// LastVlobTimestamp returns the greatest timestamp of a vlob version in a realm, or
	// zero when it has none. Role certificates must come after it.
	LastVlobTimestamp(org parsec.OrganizationID, realm parsec.VlobID) (parsec.DateTime, error)

	// LastVlobVersions returns the last version of each of ids that has one in the realm,
	// with its timestamp; the IDs without any version are not in the map.
	LastVlobVersions(org parsec.OrganizationID, realm parsec.VlobID, ids []parsec.VlobID) (map[parsec.VlobID]LastVersion, error)

	// AppendVlobAtoms stores new vlob versions and appends them, in order, to the realm's
	// change log. It returns ErrExists if one of them (vlob ID and version) is already
	// stored; the caller then abandons the transaction. It does not check that versions
	// follow each other: the handler does. It returns the realm's checkpoint after them
	// (the atoms are the log's entries checkpoint-len(atoms)+1 to checkpoint).
	AppendVlobAtoms(org parsec.OrganizationID, realm parsec.VlobID, atoms []VlobAtom) (uint64, error)

	// LatestVlobAtoms returns, in the order of ids, the last version of each vlob that has
	// one; with at not zero, the last version whose timestamp is not after at. IDs without
	// such a version are skipped. ids must not repeat.
	LatestVlobAtoms(org parsec.OrganizationID, realm parsec.VlobID, ids []parsec.VlobID, at parsec.DateTime) ([]VlobAtom, error)

	// VlobAtoms returns, in the order of refs, the versions that exist; the others are
	// skipped. refs must not repeat.
	VlobAtoms(org parsec.OrganizationID, realm parsec.VlobID, refs []VlobRef) ([]VlobAtom, error)

	// VlobChanges returns the last version of every vlob with a version appended to the
	// change log after checkpoint after, in the order of their last change, and the
	// realm's current checkpoint. With span not 0, only the span entries of the log after
	// after are read (checkpoints after+1 to after+span).
	VlobChanges(org parsec.OrganizationID, realm parsec.VlobID, after, span uint64) ([]VlobRef, uint64, error)

	// Blocks returns the blocks of the organization, in any realm, whose ID is in ids;
	// unknown IDs are not in the map.
	Blocks(org parsec.OrganizationID, ids []parsec.BlockID) (map[parsec.BlockID]Block, error)

	// RealmBlocks lists every block of a realm, by ID (bytewise): what a copy of the
	// organization to other stores needs (parsec server migrate).
	RealmBlocks(org parsec.OrganizationID, realm parsec.VlobID) ([]Block, error)

	// InsertBlocks records blocks, or returns ErrExists if one of their IDs is already
	// taken in the organization (block IDs are unique per organization, like the keys of
	// the block store); the caller then abandons the transaction.
	InsertBlocks(org parsec.OrganizationID, blocks []Block) error
}
