package protocol

import "github.com/parsec-go/parsec/internal/parsec"

// Data commands: vlobs (versioned encrypted manifests) and blocks (encrypted file content).
// Writes take batches, checked and stored in one transaction: all items or none.
const (
	CmdVlobWrite        = "vlob_write"
	CmdVlobReadBatch    = "vlob_read_batch"
	CmdVlobReadVersions = "vlob_read_versions"
	CmdVlobPollChanges  = "vlob_poll_changes"
	CmdBlockCreate      = "block_create"
	CmdBlockRead        = "block_read"
)

// Data statuses. Those about one item of a batch name it in ErrorDetail.VlobID or BlockID.
const (
	StatusVlobAlreadyExists  Status = "vlob_already_exists" // detail: VlobID
	StatusVlobNotFound       Status = "vlob_not_found"      // detail: VlobID
	StatusBadVlobVersion     Status = "bad_vlob_version"    // detail: VlobID
	StatusBlockAlreadyExists Status = "block_already_exists"
	StatusBlockNotFound      Status = "block_not_found" // detail: BlockID
	StatusTooManyElements    Status = "too_many_elements"
	StatusStoreUnavailable   Status = "store_unavailable"
)

// Batch limits.
const (
	// MaxBatchItems bounds the vlobs of a vlob_write, vlob_read_batch or
	// vlob_read_versions, and the blocks of a block_create or block_read.
	MaxBatchItems = 1000
	// MaxPollChanges bounds the entries of the change log one vlob_poll_changes reads
	// (its reply: about 3.5 MB at most).
	MaxPollChanges = 100_000
	// MaxBlockSize bounds one encrypted block.
	MaxBlockSize = 4 << 20
	// MaxBatchBytes is what a client puts at most in one block_create or asks at most in
	// one block_read (sum of the blocks' encrypted sizes); it leaves room under
	// MaxBodySize for the envelope.
	MaxBatchBytes = 8 << 20
	// MaxReadBytes bounds the sum of the encrypted sizes of the blocks one block_read
	// returns (a block asked twice counts twice); beyond, too_many_elements. A client
	// asking at most MaxBatchBytes, or a single block, never reaches it.
	MaxReadBytes = MaxBatchBytes + MaxBlockSize
	// InlineEventBlob is the largest blob a vlob event carries (larger ones are left out).
	InlineEventBlob = 4095
)

// VlobWriteReq creates (Version 1) or updates (Version = last + 1) vlobs of one realm, all
// encrypted with the realm key KeyIndex, which must be the realm's last. The author must
// be OWNER, MANAGER or CONTRIBUTOR, the realm not archived, and each timestamp in the
// ballpark and strictly after the last certificate of the common and realm topics.
type VlobWriteReq struct {
	RealmID  parsec.VlobID `cbor:"realm_id"`
	KeyIndex uint64        `cbor:"key_index"`
	Items    []VlobWrite   `cbor:"items"`
}

type VlobWrite struct {
	VlobID    parsec.VlobID   `cbor:"vlob_id"`
	Version   uint64          `cbor:"version"`
	Timestamp parsec.DateTime `cbor:"timestamp"`
	Blob      []byte          `cbor:"blob"`
}

// VlobWriteRep gives the realm's checkpoint after the write: its items are the entries
// Checkpoint-len(Items)+1 to Checkpoint of the change log, in order. A client that had
// listed the log up to Checkpoint-len(Items) thus knows that it holds everything up to
// Checkpoint, and need not list its own writes at its next poll. Zero (a server that does
// not say) tells nothing.
type VlobWriteRep struct {
	Checkpoint uint64 `cbor:"checkpoint,omitempty"`
}

// VlobReadBatchReq reads the last version of vlobs, or with At set, the last version
// created at or before At. Unknown IDs are skipped.
type VlobReadBatchReq struct {
	RealmID parsec.VlobID   `cbor:"realm_id"`
	Vlobs   []parsec.VlobID `cbor:"vlobs"`
	At      parsec.DateTime `cbor:"at,omitempty"`
}

// VlobReadVersionsReq reads given versions. Unknown ones are skipped.
type VlobReadVersionsReq struct {
	RealmID parsec.VlobID `cbor:"realm_id"`
	Items   []VlobVersion `cbor:"items"`
}

type VlobVersion struct {
	VlobID  parsec.VlobID `cbor:"vlob_id"`
	Version uint64        `cbor:"version"`
}

// VlobReadRep answers both reads. The client must know the certificates up to the two
// Needed timestamps before it validates the items.
type VlobReadRep struct {
	Items                            []VlobItem      `cbor:"items"`
	NeededCommonCertificateTimestamp parsec.DateTime `cbor:"needed_common_certificate_timestamp"`
	NeededRealmCertificateTimestamp  parsec.DateTime `cbor:"needed_realm_certificate_timestamp"`
}

type VlobItem struct {
	VlobID    parsec.VlobID   `cbor:"vlob_id"`
	KeyIndex  uint64          `cbor:"key_index"`
	Author    parsec.DeviceID `cbor:"author"`
	Version   uint64          `cbor:"version"`
	Timestamp parsec.DateTime `cbor:"timestamp"`
	Blob      []byte          `cbor:"blob"`
}

// VlobPollChangesReq lists the vlobs changed after a checkpoint (0: all of them) with
// their last version, MaxPollChanges entries of the change log at a time.
type VlobPollChangesReq struct {
	RealmID        parsec.VlobID `cbor:"realm_id"`
	LastCheckpoint uint64        `cbor:"last_checkpoint"`
}

type VlobPollChangesRep struct {
	// CurrentCheckpoint is the checkpoint the changes bring the client to: the realm's
	// current one, unless More says that the log goes on after it (poll again from it).
	CurrentCheckpoint uint64        `cbor:"current_checkpoint"`
	Changes           []VlobVersion `cbor:"changes"`
	More              bool          `cbor:"more,omitempty"`
}

// BlockCreateReq stores encrypted blocks of one realm, all encrypted with the realm key
// KeyIndex (the realm's last). Writing a block that already exists in the same realm is a
// success (uploads are retried); an ID taken in another realm is block_already_exists.
type BlockCreateReq struct {
	RealmID  parsec.VlobID `cbor:"realm_id"`
	KeyIndex uint64        `cbor:"key_index"`
	Blocks   []BlockData   `cbor:"blocks"`
}

type BlockData struct {
	BlockID parsec.BlockID `cbor:"block_id"`
	Data    Bytes          `cbor:"data"`
}

type BlockCreateRep struct{}

// BlockReadReq reads blocks of one realm; any member may. A missing one fails the whole
// request with block_not_found naming it.
type BlockReadReq struct {
	RealmID  parsec.VlobID    `cbor:"realm_id"`
	BlockIDs []parsec.BlockID `cbor:"block_ids"`
}

type BlockReadRep struct {
	Blocks                          []BlockItem     `cbor:"blocks"`
	NeededRealmCertificateTimestamp parsec.DateTime `cbor:"needed_realm_certificate_timestamp"`
}

type BlockItem struct {
	BlockID  parsec.BlockID `cbor:"block_id"`
	KeyIndex uint64         `cbor:"key_index"`
	Data     Bytes          `cbor:"data"`
}

// EventVlob announces a new vlob version to the realm's members but its author device.
// Blob is set when it is at most InlineEventBlob bytes.
const EventVlob = "vlob"

type EventVlobData struct {
	RealmID                        parsec.VlobID   `cbor:"realm_id"`
	VlobID                         parsec.VlobID   `cbor:"vlob_id"`
	Author                         parsec.DeviceID `cbor:"author"`
	Timestamp                      parsec.DateTime `cbor:"timestamp"`
	Version                        uint64          `cbor:"version"`
	KeyIndex                       uint64          `cbor:"key_index"`
	Blob                           []byte          `cbor:"blob,omitempty"`
	LastCommonCertificateTimestamp parsec.DateTime `cbor:"last_common_certificate_timestamp"`
	LastRealmCertificateTimestamp  parsec.DateTime `cbor:"last_realm_certificate_timestamp"`
}

// Size hints for encoding (see EncodeRequest and OK): the bytes carried, plus the fields
// and CBOR heads around each item.
func (r VlobWriteReq) sizeHint() int {
	n := 0
	for _, it := range r.Items {
		n += len(it.Blob) + 96
	}
	return n
}

func (r VlobReadRep) sizeHint() int {
	n := 0
	for _, it := range r.Items {
		n += len(it.Blob) + 160
	}
	return n
}

func (r BlockCreateReq) sizeHint() int {
	n := 0
	for _, b := range r.Blocks {
		n += len(b.Data) + 48
	}
	return n
}

func (r BlockReadRep) sizeHint() int {
	n := 0
	for _, b := range r.Blocks {
		n += len(b.Data) + 64
	}
	return n
}
