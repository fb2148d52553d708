-- Small blocks (up to 64 KiB: the last block of a file, or a small file's only one) of a
-- server whose blocks are on S3: one row each here rather than an object each there (see
-- internal/server/blockstore/pgsmall). The blocks are encrypted: PostgreSQL would try in
-- vain to compress them, so they are stored without compression.

CREATE TABLE small_blocks (
    org  TEXT COLLATE "C" NOT NULL,
    id   BYTEA NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (org, id)
);

ALTER TABLE small_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
