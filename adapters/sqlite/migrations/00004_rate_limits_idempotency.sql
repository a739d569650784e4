-- Rate limits and idempotency keys. Timestamps are INTEGER unix microseconds (UTC), as in
-- 00001.

-- +goose Up
-- One sliding log per key (ports.Limiter): hits is a JSON array of the counted hits still in
-- the window as of the key's last Hit, oldest first; newest is the latest of them (NULL when
-- the log is empty), for the sweep. Hit reads and writes logs under the transaction's write
-- lock (_txlock=immediate), which makes the count exact. Keys compare bytewise (BINARY).
CREATE TABLE rate_logs (
    key    TEXT PRIMARY KEY,
    hits   TEXT NOT NULL,
    newest INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX rate_logs_newest_idx ON rate_logs (newest);

-- One row per (account, key) (ports.IdempotencyStore), a claim until accepted.
CREATE TABLE idempotency_keys (
    account_id   TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    message_id   TEXT    NOT NULL,
    accepted     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    lease_until  INTEGER NOT NULL,
    PRIMARY KEY (account_id, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE rate_logs;
