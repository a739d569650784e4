-- Opt-outs, global: one row per (sender, recipient) pair, whatever account sent or received.
-- Timestamps are INTEGER unix microseconds (UTC), as in 00001; expires_at NULL = permanent.
-- A row whose expiry is at or before now blocks nothing and waits for the sweep. Numbers
-- compare bytewise (SQLite's default BINARY collation), as in Go and Postgres' "C".
-- (Version 2 is River's Go migration.)

-- +goose Up
CREATE TABLE opt_outs (
    sender     TEXT    NOT NULL,
    recipient  TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER,          -- NULL: permanent
    PRIMARY KEY (sender, recipient)
) STRICT, WITHOUT ROWID;

-- Listing: newest first, (created_at, sender, recipient) as the cursor.
CREATE INDEX opt_outs_created_idx ON opt_outs (created_at DESC, sender DESC, recipient DESC);

-- The sweep deletes expired rows; permanent blocks stay out of the index.
CREATE INDEX opt_outs_expires_idx ON opt_outs (expires_at) WHERE expires_at IS NOT NULL;

-- +goose Down
DROP TABLE opt_outs;
