-- The rate limits that every server process on this database shares (see
-- Store.CountRequest): for each key (a device), the count of requests in its current window,
-- which ends at window_end (µs). A request at or after window_end opens the next window.
-- Rows of ended windows are deleted from time to time.

CREATE TABLE rate_limits (
    key        TEXT COLLATE "C" PRIMARY KEY,
    window_end BIGINT NOT NULL,
    count      BIGINT NOT NULL
);

CREATE INDEX rate_limits_by_end ON rate_limits (window_end);
