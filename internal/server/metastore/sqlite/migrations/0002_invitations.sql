-- Invitations and greeting attempts.
--
-- seq keeps the order of insertion among records created at the same time (an implicit
-- rowid could be renumbered by VACUUM). Times are Unix microseconds, 0 meaning "not yet".

CREATE TABLE invitations (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    org               TEXT NOT NULL REFERENCES organizations(id),
    token             BLOB NOT NULL,
    type              TEXT NOT NULL,
    created_on        INTEGER NOT NULL,
    created_by        BLOB NOT NULL,
    created_by_device BLOB NOT NULL,
    claimer_email     TEXT NOT NULL DEFAULT '',
    claimer_user_id   BLOB NOT NULL,
    deleted_on        INTEGER NOT NULL DEFAULT 0,
    deleted_reason    TEXT NOT NULL DEFAULT '',
    UNIQUE (org, token)
) STRICT;

CREATE INDEX invitations_by_creation ON invitations (org, created_on, seq);

-- Pending invitations by claimer. Queries must repeat these WHERE terms literally for SQLite
-- to use the partial indexes.
CREATE INDEX invitations_pending_by_email ON invitations (org, claimer_email, created_on, seq)
    WHERE type = 'USER' AND deleted_on = 0;
CREATE INDEX invitations_pending_by_claimer_user ON invitations (org, claimer_user_id, created_on, seq)
    WHERE type = 'DEVICE' AND deleted_on = 0;

-- greeter_steps and claimer_steps hold the CBOR encoding of each side's list of step
-- payloads (an array of byte strings), so that writing an attempt is one statement.
CREATE TABLE greeting_attempts (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    org            TEXT NOT NULL REFERENCES organizations(id),
    id             BLOB NOT NULL,
    token          BLOB NOT NULL,
    greeter        BLOB NOT NULL,
    created_on     INTEGER NOT NULL,
    greeter_joined INTEGER NOT NULL DEFAULT 0,
    claimer_joined INTEGER NOT NULL DEFAULT 0,
    cancelled_on   INTEGER NOT NULL DEFAULT 0,
    cancelled_by   TEXT NOT NULL DEFAULT '',
    cancel_reason  TEXT NOT NULL DEFAULT '',
    greeter_steps  BLOB NOT NULL,
    claimer_steps  BLOB NOT NULL,
    UNIQUE (org, id),
    FOREIGN KEY (org, token) REFERENCES invitations (org, token)
) STRICT;

CREATE INDEX greeting_attempts_by_session ON greeting_attempts (org, token, greeter);
