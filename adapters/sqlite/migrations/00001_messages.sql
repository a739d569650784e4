-- Schema of the embedded store. Timestamps are INTEGER unix microseconds (UTC): they sort
-- correctly, compare exactly with ports.Cursor (which is microsecond based) and keep
-- Postgres' timestamptz precision. Collections (route, tags) are JSON text.

-- +goose Up
CREATE TABLE accounts (
    id            TEXT    NOT NULL PRIMARY KEY,
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

-- No foreign key to accounts: accounts may be declared in the config file after messages
-- exist, and a message outlives a removed account.
CREATE TABLE messages (
    id                  TEXT    NOT NULL PRIMARY KEY,
    account_id          TEXT    NOT NULL,
    direction           TEXT    NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    "from"              TEXT    NOT NULL,
    "to"                TEXT    NOT NULL,
    text                TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    provider            TEXT    NOT NULL DEFAULT '',
    route               TEXT    NOT NULL DEFAULT '[]',
    provider_message_id TEXT    NOT NULL DEFAULT '',
    segments            INTEGER NOT NULL DEFAULT 0,
    encoding            TEXT    NOT NULL DEFAULT '',
    tags                TEXT    NOT NULL DEFAULT '{}',
    error_code          TEXT,            -- NULL: no error
    error_message       TEXT,
    send_at             INTEGER,         -- NULL: send now
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    hidden_at           INTEGER          -- NULL: visible
) STRICT;

-- Listing: newest first per account, (created_at, id) as the cursor.
CREATE INDEX messages_account_created_idx ON messages (account_id, created_at DESC, id DESC);

-- Inbound webhook dedupe: a provider delivers the same message id at most once.
CREATE UNIQUE INDEX messages_inbound_provider_id_key ON messages (provider, provider_message_id)
    WHERE direction = 'inbound' AND provider_message_id <> '';

-- Status webhooks and polls look messages up by their provider id.
CREATE INDEX messages_provider_id_idx ON messages (provider, provider_message_id, direction)
    WHERE provider_message_id <> '';

-- Status refresh scans only the outbound messages still waiting for a final status. The
-- list of final statuses is message.Status.Final; the query repeats these exact terms so
-- SQLite can use the partial index.
CREATE INDEX messages_awaiting_status_idx ON messages (provider, created_at, id)
    WHERE direction = 'outbound' AND provider_message_id <> ''
      AND status NOT IN ('delivered', 'undelivered', 'failed', 'canceled', 'received')
      AND hidden_at IS NULL;

CREATE TABLE message_events (
    message_id TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    status     TEXT    NOT NULL,
    at         INTEGER NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, seq)
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE message_events;
DROP TABLE messages;
DROP TABLE accounts;
