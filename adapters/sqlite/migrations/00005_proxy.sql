-- Proxy pools and sessions (ports.ProxyTx, ports.ProxyStore, core/proxy). Timestamps are
-- INTEGER unix microseconds (UTC), as in 00001. Numbers, ids and participants compare
-- bytewise (BINARY), as in Go and Postgres' "C". A session is open at now when closed_at IS
-- NULL AND (expires_at IS NULL OR expires_at > now); an expired one counts as closed before
-- the sweep records closed_at. Allocations serialize on the transaction's write lock
-- (_txlock=immediate), so the tables need no lock of their own.

-- +goose Up
-- A number is in at most one pool: the primary key, whatever the account.
CREATE TABLE proxy_numbers (
    number     TEXT    NOT NULL PRIMARY KEY,
    provider   TEXT    NOT NULL,
    account_id TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- An account's pool in number order.
CREATE INDEX proxy_numbers_account_idx ON proxy_numbers (account_id, number);

-- No foreign key to proxy_numbers: a removed number's (closed) sessions stay and keep
-- naming it.
CREATE TABLE proxy_sessions (
    id            TEXT    NOT NULL PRIMARY KEY,
    account_id    TEXT    NOT NULL,
    proxy_number  TEXT    NOT NULL,
    participant_a TEXT    NOT NULL,
    participant_b TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,          -- NULL: no expiry
    closed_at     INTEGER           -- NULL: not closed
) STRICT;

-- The unclosed sessions of a number, by either participant: the pool's usage (by number)
-- and the relay's lookup of an inbound sender (by number and participant).
CREATE INDEX proxy_sessions_open_a_idx ON proxy_sessions (proxy_number, participant_a) WHERE closed_at IS NULL;
CREATE INDEX proxy_sessions_open_b_idx ON proxy_sessions (proxy_number, participant_b) WHERE closed_at IS NULL;

-- Lists: one account's sessions newest first, (created_at, id) as the cursor; the open list
-- reads the unclosed ones only.
CREATE INDEX proxy_sessions_account_created_idx ON proxy_sessions (account_id, created_at DESC, id DESC);
CREATE INDEX proxy_sessions_account_open_idx ON proxy_sessions (account_id, created_at DESC, id DESC)
    WHERE closed_at IS NULL;

-- The sweep of expired sessions not yet closed.
CREATE INDEX proxy_sessions_expires_idx ON proxy_sessions (expires_at) WHERE closed_at IS NULL;

-- +goose Down
DROP TABLE proxy_sessions;
DROP TABLE proxy_numbers;
