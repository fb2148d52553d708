package postgres

import (
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/metastore"
	"github.com/parsec-go/parsec/internal/server/metastore/sqlrows"
)

// Batches travel as arrays, one parameter per column (unnest), so that a batch of any size
// is one statement.

// idBytes returns the IDs as a bytea[] parameter.
func idBytes[ID ~[16]byte](ids []ID) [][]byte {
	out := make([][]byte, len(ids))
	for i := range ids {
		out[i] = ids[i][:]
	}
	return out
}

// vlobRealm returns the length of a realm's change log and its greatest vlob timestamp.
func (t *tx) vlobRealm(org string, realm parsec.VlobID) (checkpoint uint64, last parsec.DateTime, err error) {
	var cp, ts int64
	err = t.tx.QueryRow(t.ctx, `SELECT checkpoint, last_timestamp FROM vlob_realms WHERE org = $1 AND realm = $2`,
		org, realm[:]).Scan(&cp, &ts)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, nil
	}
	return uint64(cp), parsec.DateTime(ts), err
}

func (t *tx) LastVlobTimestamp(org parsec.OrganizationID, realm parsec.VlobID) (parsec.DateTime, error) {
	o, err := t.org(org)
	if err != nil {
		return 0, err
	}
	_, last, err := t.vlobRealm(o, realm)
	return last, err
}

func (t *tx) LastVlobVersions(org parsec.OrganizationID, realm parsec.VlobID, ids []parsec.VlobID) (map[parsec.VlobID]metastore.LastVersion, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	out := make(map[parsec.VlobID]metastore.LastVersion)
	_, err = queryUnsorted(t, func(sc sqlrows.Scanner) (struct{}, error) {
		var id []byte
		var v, ts int64
		err := sc.Scan(&id, &v, &ts)
		var vid parsec.VlobID
		copy(vid[:], id)
		out[vid] = metastore.LastVersion{Version: uint64(v), Timestamp: parsec.DateTime(ts)}
		return struct{}{}, err
	}, lastVersionsQuery, o, realm[:], idBytes(ids))
	return out, err
}

// lastVersionsQuery is LastVlobVersions's, latestAtomsQuery LatestVlobAtoms's: the last
// version of each of many vlobs (at a time, for the second), one lookup of the primary key
// each (see queryUnsorted, which runs them).
const (
	lastVersionsQuery = `SELECT l.* FROM unnest($3::bytea[]) AS ids(id) CROSS JOIN LATERAL (
			SELECT a.vlob_id, a.version, a.timestamp FROM vlob_atoms a WHERE a.org = $1 AND a.realm = $2 AND a.vlob_id = ids.id
			ORDER BY a.version DESC LIMIT 1) l`
	latestAtomsQuery = `SELECT l.* FROM unnest($3::bytea[]) AS ids(id) CROSS JOIN LATERAL (
			SELECT ` + sqlrows.AtomColumns + ` FROM vlob_atoms a WHERE a.org = $1 AND a.realm = $2 AND a.vlob_id = ids.id
			AND a.timestamp <= $4 ORDER BY a.version DESC LIMIT 1) l`
)

func (t *tx) AppendVlobAtoms(org parsec.OrganizationID, realm parsec.VlobID, atoms []metastore.VlobAtom) (uint64, error) {
	o, err := t.org(org)
	if err != nil {
		return 0, err
	}
	checkpoint, last, err := t.vlobRealm(o, realm)
	if err != nil || len(atoms) == 0 {
		return checkpoint, err
	}
	rows, checkpoint, last, err := sqlrows.AtomRows(atoms, checkpoint, last)
	if err != nil {
		return 0, err
	}
	n := len(rows)
	ids, versions, keys, blobs, sizes := make([][]byte, n), make([]int64, n), make([]int64, n), make([][]byte, n), make([]int64, n)
	authors, stamps, checkpoints := make([][]byte, n), make([]int64, n), make([]int64, n)
	for i, a := range rows {
		ids[i], versions[i], keys[i], blobs[i], sizes[i] = a.VlobID, a.Version, a.KeyIndex, a.Blob, int64(len(a.Blob))
		authors[i], stamps[i], checkpoints[i] = a.Author, a.Timestamp, a.Checkpoint
	}
	_, err = t.exec(`INSERT INTO vlob_atoms (org, realm, vlob_id, version, key_index, blob, size, author, timestamp, checkpoint)
		SELECT $1, $2, * FROM unnest($3::bytea[], $4::bigint[], $5::bigint[], $6::bytea[], $7::bigint[], $8::bytea[],
			$9::bigint[], $10::bigint[])`,
		o, realm[:], ids, versions, keys, blobs, sizes, authors, stamps, checkpoints)
	if isUniqueViolation(err) {
		return 0, sqlrows.Exists("vlob version", "of the batch")
	}
	if err != nil {
		return 0, err
	}
	_, err = t.exec(`INSERT INTO vlob_realms (org, realm, checkpoint, last_timestamp) VALUES ($1, $2, $3, $4)
		ON CONFLICT (org, realm) DO UPDATE SET checkpoint = excluded.checkpoint, last_timestamp = excluded.last_timestamp`,
		o, realm[:], int64(checkpoint), int64(last))
	return checkpoint, err
}

func (t *tx) LatestVlobAtoms(org parsec.OrganizationID, realm parsec.VlobID, ids []parsec.VlobID, at parsec.DateTime) ([]metastore.VlobAtom, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	if at.IsZero() {
		at = math.MaxInt64
	}
	found, err := queryUnsorted(t, sqlrows.ScanAtom, latestAtomsQuery, o, realm[:], idBytes(ids), int64(at))
	if err != nil {
		return nil, err
	}
	byID := make(map[parsec.VlobID]metastore.VlobAtom, len(found))
	for _, a := range found {
		byID[a.VlobID] = a
	}
	return sqlrows.InOrder(ids, byID), nil
}

func (t *tx) VlobAtoms(org parsec.OrganizationID, realm parsec.VlobID, refs []metastore.VlobRef) ([]metastore.VlobAtom, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	ids, versions := make([][]byte, len(refs)), make([]int64, len(refs))
	for i, r := range refs {
		ids[i], versions[i] = r.VlobID[:], int64(r.Version)
		if r.Version > math.MaxInt64 {
			versions[i] = -1 // no such version
		}
	}
	found, err := queryUnsorted(t, sqlrows.ScanAtom, vlobAtomsQuery, o, realm[:], ids, versions)
	if err != nil {
		return nil, err
	}
	byRef := make(map[metastore.VlobRef]metastore.VlobAtom, len(found))
	for _, a := range found {
		byRef[metastore.VlobRef{VlobID: a.VlobID, Version: a.Version}] = a
	}
	return sqlrows.InOrder(refs, byRef), nil
}

// vlobAtomsQuery is VlobAtoms's: given versions of many vlobs, one lookup of the primary key
// each. A plain join may read every version of the realm, through either index, and hash or
// filter them, when the statistics know nothing of the organization; so may a lateral
// lookup of the whole key, which the smaller index of the change log (org, realm,
// checkpoint) answers as cheaply in the planner's eyes. So each lookup asks for the last
// version up to the one wanted, which only the primary key gives without a sort (see
// queryUnsorted, which runs it), and keeps it if it is the one wanted.
const vlobAtomsQuery = `SELECT l.* FROM unnest($3::bytea[], $4::bigint[]) AS refs(id, version) CROSS JOIN LATERAL (
		SELECT ` + sqlrows.AtomColumns + ` FROM vlob_atoms a WHERE a.org = $1 AND a.realm = $2 AND a.vlob_id = refs.id
		AND a.version <= refs.version ORDER BY a.version DESC LIMIT 1) l
	WHERE l.version = refs.version`

func (t *tx) VlobChanges(org parsec.OrganizationID, realm parsec.VlobID, after, span uint64) ([]metastore.VlobRef, uint64, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, 0, err
	}
	current, _, err := t.vlobRealm(o, realm)
	if err != nil || after >= current {
		return nil, current, err
	}
	out, err := queryAll(t, func(sc sqlrows.Scanner) (metastore.VlobRef, error) {
		var id []byte
		var version, last int64
		err := sc.Scan(&id, &version, &last)
		r := metastore.VlobRef{Version: uint64(version)}
		copy(r.VlobID[:], id)
		return r, err
	}, `SELECT vlob_id, MAX(version), MAX(checkpoint) AS last FROM vlob_atoms
		WHERE org = $1 AND realm = $2 AND checkpoint > $3 AND checkpoint <= $4 GROUP BY vlob_id ORDER BY last`,
		o, realm[:], int64(after), int64(sqlrows.LogEnd(after, span)))
	return out, current, err
}

func (t *tx) Blocks(org parsec.OrganizationID, ids []parsec.BlockID) (map[parsec.BlockID]metastore.Block, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	out := make(map[parsec.BlockID]metastore.Block)
	_, err = queryAll(t, func(sc sqlrows.Scanner) (struct{}, error) {
		var b metastore.Block
		var id, realm, author []byte
		var keyIndex, created int64
		err := sc.Scan(&id, &realm, &author, &b.Size, &keyIndex, &created)
		copy(b.ID[:], id)
		copy(b.Realm[:], realm)
		copy(b.Author[:], author)
		b.KeyIndex, b.CreatedOn = uint64(keyIndex), parsec.DateTime(created)
		out[b.ID] = b
		return struct{}{}, err
	}, blocksQuery, o, idBytes(ids))
	return out, err
}

// blocksQuery reads many blocks by ID, one lookup of the primary key (org, id) each. With
// id = ANY($2), or a plain join, the planner may read all of the organization's blocks and
// filter them (or hash them) when its statistics know nothing of the organization (see
// queryUnsorted); a lateral subquery with a LIMIT is not merged into a join.
const blocksQuery = `SELECT b.id, b.realm, b.author, b.size, b.key_index, b.created_on FROM unnest($2::bytea[]) AS ids(id)
	CROSS JOIN LATERAL (SELECT * FROM blocks WHERE org = $1 AND id = ids.id LIMIT 1) b`

func (t *tx) RealmBlocks(org parsec.OrganizationID, realm parsec.VlobID) ([]metastore.Block, error) {
	o, err := t.org(org)
	if err != nil {
		return nil, err
	}
	return queryAll(t, func(sc sqlrows.Scanner) (metastore.Block, error) {
		b := metastore.Block{Realm: realm}
		var id, author []byte
		var keyIndex, created int64
		err := sc.Scan(&id, &author, &b.Size, &keyIndex, &created)
		copy(b.ID[:], id)
		copy(b.Author[:], author)
		b.KeyIndex, b.CreatedOn = uint64(keyIndex), parsec.DateTime(created)
		return b, err
	}, `SELECT id, author, size, key_index, created_on FROM blocks WHERE org = $1 AND realm = $2 ORDER BY id`, o, realm[:])
}

func (t *tx) InsertBlocks(org parsec.OrganizationID, blocks []metastore.Block) error {
	o, err := t.org(org)
	if err != nil {
		return err
	}
	n := len(blocks)
	ids, realms, authors, sizes, keys, created := make([][]byte, n), make([][]byte, n), make([][]byte, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, b := range blocks {
		if b.KeyIndex > math.MaxInt64 {
			return fmt.Errorf("block %s: key index out of range", b.ID)
		}
		ids[i], realms[i], authors[i], sizes[i], keys[i], created[i] = b.ID[:], b.Realm[:], b.Author[:], b.Size, int64(b.KeyIndex), int64(b.CreatedOn)
	}
	_, err = t.exec(`INSERT INTO blocks (org, id, realm, author, size, key_index, created_on)
		SELECT $1, * FROM unnest($2::bytea[], $3::bytea[], $4::bytea[], $5::bigint[], $6::bigint[], $7::bigint[])`,
		o, ids, realms, authors, sizes, keys, created)
	if isUniqueViolation(err) {
		return sqlrows.Exists("block", "of the batch")
	}
	return err
}
