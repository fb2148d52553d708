-- Realms (workspaces): the record the handlers check requests against, the role changes,
-- and the key bundles with each member's access. The certificates themselves are in the
-- certificates table, topic 'realm/<id hex>'.

CREATE TABLE realms (
    org           TEXT NOT NULL REFERENCES organizations(id),
    id            BLOB NOT NULL,
    created_on    INTEGER NOT NULL,
    key_index     INTEGER NOT NULL DEFAULT 0,
    archiving     TEXT NOT NULL,
    deletion_date INTEGER NOT NULL DEFAULT 0,
    named         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (org, id)
) STRICT;

-- One row per role change, in order (seq); role '' means the role was removed.
CREATE TABLE realm_roles (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    org     TEXT NOT NULL,
    realm   BLOB NOT NULL,
    user_id BLOB NOT NULL,
    role    TEXT NOT NULL,
    granted INTEGER NOT NULL,
    by      BLOB NOT NULL,
    FOREIGN KEY (org, realm) REFERENCES realms (org, id)
) STRICT;

CREATE INDEX realm_roles_by_realm ON realm_roles (org, realm, user_id, seq);
CREATE INDEX realm_roles_by_user ON realm_roles (org, user_id, realm, seq);

CREATE TABLE realm_keys_bundles (
    org       TEXT NOT NULL,
    realm     BLOB NOT NULL,
    key_index INTEGER NOT NULL,
    created   INTEGER NOT NULL,
    by        BLOB NOT NULL,
    canary    BLOB NOT NULL,
    bundle    BLOB NOT NULL,
    PRIMARY KEY (org, realm, key_index),
    FOREIGN KEY (org, realm) REFERENCES realms (org, id)
) STRICT;

-- A user's access to a bundle: given by the rotation, or later by a share (which replaces
-- an earlier one of the same user and key index).
CREATE TABLE realm_keys_bundle_accesses (
    org       TEXT NOT NULL,
    realm     BLOB NOT NULL,
    key_index INTEGER NOT NULL,
    user_id   BLOB NOT NULL,
    access    BLOB NOT NULL,
    PRIMARY KEY (org, realm, key_index, user_id),
    FOREIGN KEY (org, realm, key_index) REFERENCES realm_keys_bundles (org, realm, key_index)
) STRICT;
