-- The whole schema of the metadata store, as the SQLite store's migrations 0001 to 0005 left
-- it. Times are Unix microseconds, 0 meaning "not yet". Text keys compare byte by byte
-- (COLLATE "C"), whatever the database's locale, so that lists come out in the same order
-- as with SQLite. seq columns keep the order of insertion among records of equal time:
-- writers of one organization are serialized (see doc.go), so it is also the commit order.

CREATE TABLE organizations (
    id                            TEXT COLLATE "C" PRIMARY KEY,
    created_on                    BIGINT NOT NULL,
    bootstrap_token               BYTEA NOT NULL,
    root_verify_key               BYTEA,
    bootstrapped_on               BIGINT NOT NULL DEFAULT 0,
    is_expired                    BOOLEAN NOT NULL DEFAULT FALSE,
    user_profile_outsider_allowed BOOLEAN NOT NULL,
    active_users_limit            BIGINT,
    minimum_archiving_period      BIGINT NOT NULL
);

CREATE TABLE certificates (
    seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org       TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
    topic     TEXT COLLATE "C" NOT NULL,
    timestamp BIGINT NOT NULL,
    kind      TEXT NOT NULL,
    data      BYTEA NOT NULL,
    redacted  BYTEA
);

CREATE INDEX certificates_by_topic ON certificates (org, topic, timestamp, seq);

CREATE TABLE users (
    org                  TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
    id                   BYTEA NOT NULL,
    email                TEXT COLLATE "C" NOT NULL,
    name                 TEXT NOT NULL,
    initial_profile      TEXT NOT NULL,
    profile              TEXT NOT NULL,
    created_on           BIGINT NOT NULL,
    created_by           BYTEA,
    revoked_on           BIGINT NOT NULL DEFAULT 0,
    revoked_by           BYTEA,
    frozen               BOOLEAN NOT NULL DEFAULT FALSE,
    certificate          BYTEA NOT NULL,
    redacted_certificate BYTEA NOT NULL,
    -- Profile changes (CBOR list of {on, by, profile}).
    profile_history      BYTEA,
    PRIMARY KEY (org, id)
);

CREATE INDEX users_by_email ON users (org, email);

CREATE TABLE devices (
    org                  TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
    id                   BYTEA NOT NULL,
    user_id              BYTEA NOT NULL,
    label                TEXT NOT NULL,
    verify_key           BYTEA NOT NULL,
    created_on           BIGINT NOT NULL,
    created_by           BYTEA,
    certificate          BYTEA NOT NULL,
    redacted_certificate BYTEA NOT NULL,
    PRIMARY KEY (org, id)
);

CREATE INDEX devices_by_user ON devices (org, user_id, created_on);

CREATE TABLE invitations (
    seq               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org               TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
    token             BYTEA NOT NULL,
    type              TEXT NOT NULL,
    created_on        BIGINT NOT NULL,
    created_by        BYTEA NOT NULL,
    created_by_device BYTEA NOT NULL,
    claimer_email     TEXT COLLATE "C" NOT NULL DEFAULT '',
    claimer_user_id   BYTEA NOT NULL,
    deleted_on        BIGINT NOT NULL DEFAULT 0,
    deleted_reason    TEXT NOT NULL DEFAULT '',
    UNIQUE (org, token)
);

CREATE INDEX invitations_by_creation ON invitations (org, created_on, seq);
CREATE INDEX invitations_pending_by_email ON invitations (org, claimer_email, created_on, seq)
    WHERE type = 'USER' AND deleted_on = 0;
CREATE INDEX invitations_pending_by_claimer_user ON invitations (org, claimer_user_id, created_on, seq)
    WHERE type = 'DEVICE' AND deleted_on = 0;

-- greeter_steps and claimer_steps: the CBOR array of each side's step payloads.
CREATE TABLE greeting_attempts (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org            TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
    id             BYTEA NOT NULL,
    token          BYTEA NOT NULL,
    greeter        BYTEA NOT NULL,
    created_on     BIGINT NOT NULL,
    greeter_joined BIGINT NOT NULL DEFAULT 0,
    claimer_joined BIGINT NOT NULL DEFAULT 0,
    cancelled_on   BIGINT NOT NULL DEFAULT 0,
    cancelled_by   TEXT NOT NULL DEFAULT '',
    cancel_reason  TEXT NOT NULL DEFAULT '',
    greeter_steps  BYTEA NOT NULL,
    claimer_steps  BYTEA NOT NULL,
    UNIQUE (org, id),
    FOREIGN KEY (org, token) REFERENCES invitations (org, token)
);

CREATE INDEX greeting_attempts_by_session ON greeting_attempts (org, token, greeter);

CREATE TABLE realms (
    org           TEXT COLLATE "C" NOT NULL REFERENCES organizations (id),
    id            BYTEA NOT NULL,
    created_on    BIGINT NOT NULL,
    key_index     BIGINT NOT NULL DEFAULT 0,
    archiving     TEXT NOT NULL,
    deletion_date BIGINT NOT NULL DEFAULT 0,
    named         BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (org, id)
);

-- One row per role change, in order (seq); role '' means the role was removed.
CREATE TABLE realm_roles (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org     TEXT COLLATE "C" NOT NULL,
    realm   BYTEA NOT NULL,
    user_id BYTEA NOT NULL,
    role    TEXT NOT NULL,
    granted BIGINT NOT NULL,
    by      BYTEA NOT NULL,
    FOREIGN KEY (org, realm) REFERENCES realms (org, id)
);

CREATE INDEX realm_roles_by_realm ON realm_roles (org, realm, user_id, seq);
CREATE INDEX realm_roles_by_user ON realm_roles (org, user_id, realm, seq);

CREATE TABLE realm_keys_bundles (
    org       TEXT COLLATE "C" NOT NULL,
    realm     BYTEA NOT NULL,
    key_index BIGINT NOT NULL,
    created   BIGINT NOT NULL,
    by        BYTEA NOT NULL,
    canary    BYTEA NOT NULL,
    bundle    BYTEA NOT NULL,
    PRIMARY KEY (org, realm, key_index),
    FOREIGN KEY (org, realm) REFERENCES realms (org, id)
);

CREATE TABLE realm_keys_bundle_accesses (
    org       TEXT COLLATE "C" NOT NULL,
    realm     BYTEA NOT NULL,
    key_index BIGINT NOT NULL,
    user_id   BYTEA NOT NULL,
    access    BYTEA NOT NULL,
    PRIMARY KEY (org, realm, key_index, user_id),
    FOREIGN KEY (org, realm, key_index) REFERENCES realm_keys_bundles (org, realm, key_index)
);

-- Every version of every vlob; checkpoint is its position in its realm's change log.
CREATE TABLE vlob_atoms (
    org        TEXT COLLATE "C" NOT NULL,
    realm      BYTEA NOT NULL,
    vlob_id    BYTEA NOT NULL,
    version    BIGINT NOT NULL,
    key_index  BIGINT NOT NULL,
    size       BIGINT NOT NULL,
    author     BYTEA NOT NULL,
    timestamp  BIGINT NOT NULL,
    checkpoint BIGINT NOT NULL,
    blob       BYTEA NOT NULL,
    PRIMARY KEY (org, realm, vlob_id, version),
    FOREIGN KEY (org, realm) REFERENCES realms (org, id)
);

CREATE UNIQUE INDEX vlob_atoms_by_checkpoint ON vlob_atoms (org, realm, checkpoint);

-- The length of each realm's change log and its greatest vlob timestamp.
CREATE TABLE vlob_realms (
    org            TEXT COLLATE "C" NOT NULL,
    realm          BYTEA NOT NULL,
    checkpoint     BIGINT NOT NULL,
    last_timestamp BIGINT NOT NULL,
    PRIMARY KEY (org, realm),
    FOREIGN KEY (org, realm) REFERENCES realms (org, id)
);

-- Blocks: IDs are unique per organization, like the keys of the block store.
CREATE TABLE blocks (
    org        TEXT COLLATE "C" NOT NULL,
    id         BYTEA NOT NULL,
    realm      BYTEA NOT NULL,
    author     BYTEA NOT NULL,
    size       BIGINT NOT NULL,
    key_index  BIGINT NOT NULL,
    created_on BIGINT NOT NULL,
    PRIMARY KEY (org, id),
    FOREIGN KEY (org, realm) REFERENCES realms (org, id)
);
