-- +goose Up
-- Timestamps are timestamptz (microsecond precision) written in UTC.
-- Ids compare bytewise (COLLATE "C"), as in SQLite and Go, so list order and cursors agree.

CREATE TABLE accounts (
    id            text COLLATE "C" PRIMARY KEY,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE messages (
    id                  text COLLATE "C" PRIMARY KEY,
    account_id          text COLLATE "C" NOT NULL,
    direction           text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    from_number         text NOT NULL,
    to_number           text NOT NULL,
    text                text NOT NULL,
    status              text NOT NULL,
    provider            text NOT NULL DEFAULT '',
    route               text[],                     -- NULL = no route (nil), '{}' = empty
    provider_message_id text NOT NULL DEFAULT '',
    segments            integer NOT NULL DEFAULT 0,
    encoding            text NOT NULL DEFAULT '',
    tags                jsonb,                      -- NULL = no tags (nil map)
    error_code          text,                       -- NULL = no error
    error_message       text,
    send_at             timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    hidden_at           timestamptz,
    -- number of rows in message_events; appends take their seq from it under the row lock
    event_count         integer NOT NULL DEFAULT 0
);

-- Lists: one account's messages newest first, cursor on (created_at, id).
CREATE INDEX messages_account_created ON messages (account_id, created_at DESC, id DESC);

-- Webhook dedupe: an inbound provider message id is stored once per provider.
CREATE UNIQUE INDEX messages_inbound_provider_id ON messages (provider, provider_message_id)
    WHERE direction = 'inbound' AND provider_message_id <> '';

-- Status updates look outbound messages up by the provider's id.
CREATE INDEX messages_provider_id ON messages (provider, provider_message_id);

-- Status polling: outbound messages with a provider id and a non-final status.
CREATE INDEX messages_awaiting_status ON messages (provider, created_at, id)
    WHERE direction = 'outbound' AND provider_message_id <> '' AND hidden_at IS NULL
      AND status IN ('scheduled', 'queued', 'sending', 'sent');

CREATE TABLE message_events (
    message_id text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    status     text NOT NULL,
    at         timestamptz NOT NULL,
    detail     text NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, seq)
);

-- +goose Down
DROP TABLE message_events;
DROP TABLE messages;
DROP TABLE accounts;
