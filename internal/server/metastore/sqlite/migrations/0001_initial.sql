-- Organizations, users, devices and the certificate log.

CREATE TABLE organizations (
    id                            TEXT PRIMARY KEY,
    created_on                    INTEGER NOT NULL,
    bootstrap_token               BLOB NOT NULL,
    root_verify_key               BLOB,
    bootstrapped_on               INTEGER NOT NULL DEFAULT 0,
    is_expired                    INTEGER NOT NULL DEFAULT 0,
    user_profile_outsider_allowed INTEGER NOT NULL,
    active_users_limit            INTEGER,
    minimum_archiving_period      INTEGER NOT NULL
) STRICT;

CREATE TABLE certificates (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    org       TEXT NOT NULL REFERENCES organizations(id),
    topic     TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    data      BLOB NOT NULL,
    redacted  BLOB
) STRICT;

CREATE INDEX certificates_by_topic ON certificates (org, topic, timestamp, seq);

CREATE TABLE users (
    org                  TEXT NOT NULL REFERENCES organizations(id),
    id                   BLOB NOT NULL,
    email                TEXT NOT NULL,
    name                 TEXT NOT NULL,
    initial_profile      TEXT NOT NULL,
    profile              TEXT NOT NULL,
    created_on           INTEGER NOT NULL,
    created_by           BLOB,
    revoked_on           INTEGER NOT NULL DEFAULT 0,
    revoked_by           BLOB,
    frozen               INTEGER NOT NULL DEFAULT 0,
    certificate          BLOB NOT NULL,
    redacted_certificate BLOB NOT NULL,
    PRIMARY KEY (org, id)
) STRICT;

CREATE INDEX users_by_email ON users (org, email);

CREATE TABLE devices (
    org                  TEXT NOT NULL REFERENCES organizations(id),
    id                   BLOB NOT NULL,
    user_id              BLOB NOT NULL,
    label                TEXT NOT NULL,
    verify_key           BLOB NOT NULL,
    created_on           INTEGER NOT NULL,
    created_by           BLOB,
    certificate          BLOB NOT NULL,
    redacted_certificate BLOB NOT NULL,
    PRIMARY KEY (org, id)
) STRICT;

CREATE INDEX devices_by_user ON devices (org, user_id, created_on);
