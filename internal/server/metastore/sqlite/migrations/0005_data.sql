-- Vlobs (versioned encrypted manifests) and block metadata. Blobs are opaque.

-- Every version of every vlob. checkpoint is the version's position in its realm's change
-- log (1, 2, 3…): the change log is this table read in checkpoint order. The blob comes
-- last, so that reading the other columns never walks its overflow pages.
CREATE TABLE vlob_atoms (
    org        TEXT NOT NULL,
    realm      BLOB NOT NULL,
    vlob_id    BLOB NOT NULL,
    version    INTEGER NOT NULL,
    key_index  INTEGER NOT NULL,
    size       INTEGER NOT NULL,
    author     BLOB NOT NULL,
    timestamp  INTEGER NOT NULL,
    checkpoint INTEGER NOT NULL,
    blob       BLOB NOT NULL,
    PRIMARY KEY (org, realm, vlob_id, version),
    FOREIGN KEY (org, realm) REFERENCES realms (org, id)
) STRICT;

CREATE UNIQUE INDEX vlob_atoms_by_checkpoint ON vlob_atoms (org, realm, checkpoint);

-- One row per realm with vlobs, updated once per write transaction: the length of the
-- change log and the greatest vlob timestamp, so that neither needs a scan.
CREATE TABLE vlob_realms (
    org            TEXT NOT NULL,
    realm          BLOB NOT NULL,
    checkpoint     INTEGER NOT NULL,
    last_timestamp INTEGER NOT NULL,
    PRIMARY KEY (org, realm),
    FOREIGN KEY (org, realm) REFERENCES realms (org, id)
) STRICT, WITHOUT ROWID;

-- Blocks: IDs are unique per organization, like the keys of the block store.
CREATE TABLE blocks (
    org        TEXT NOT NULL,
    id         BLOB NOT NULL,
    realm      BLOB NOT NULL,
    author     BLOB NOT NULL,
    size       INTEGER NOT NULL,
    key_index  INTEGER NOT NULL,
    created_on INTEGER NOT NULL,
    PRIMARY KEY (org, id),
    FOREIGN KEY (org, realm) REFERENCES realms (org, id)
) STRICT, WITHOUT ROWID;
