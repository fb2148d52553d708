-- What several server processes on this database share besides the metadata: the events
-- they publish (internal/server/events.Postgres) and the signatures of the requests they
-- accepted (replay protection, see Store.RecordSignature).
--
-- events: every event published, in the order of the IDs, which publishers take under one
-- transaction-level advisory lock so that a row becomes visible only after every row of a
-- smaller ID. A subscriber resumes after an event that the table still holds. Rows older
-- than the bus's window are deleted from the smallest ID up; event_floor keeps the greatest
-- ID deleted, so that a process cut off for longer learns that its subscribers missed events.

CREATE TABLE events (
    id       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org      TEXT COLLATE "C" NOT NULL,
    name     TEXT NOT NULL,
    payload  BYTEA,
    audience BYTEA NOT NULL,
    created  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX events_by_org ON events (org, id);

CREATE TABLE event_floor (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    id  BIGINT NOT NULL
);

INSERT INTO event_floor (id) VALUES (0);

CREATE TABLE replays (
    signature_hash BYTEA PRIMARY KEY,
    expires        BIGINT NOT NULL
);

CREATE INDEX replays_by_expiry ON replays (expires);
