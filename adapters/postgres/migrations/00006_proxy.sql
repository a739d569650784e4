-- +goose Up
-- Proxy pools and sessions (ports.ProxyTx, ports.ProxyStore, core/proxy). Numbers, ids and
-- participants compare bytewise (COLLATE "C"), as in SQLite and Go, so "number order" and
-- the list cursors agree across stores.

-- A number is in at most one pool: the primary key, whatever the account.
CREATE TABLE proxy_numbers (
    number     text COLLATE "C" PRIMARY KEY,
    provider   text NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    created_at timestamptz NOT NULL
);

-- LockProxyPool locks an account's numbers in number order.
CREATE INDEX proxy_numbers_account ON proxy_numbers (account_id, number);

-- No foreign key to proxy_numbers: a removed number's (closed) sessions stay and keep
-- naming it. A session is open at now when closed_at IS NULL AND (expires_at IS NULL OR
-- expires_at > now); an expired one counts as closed before the sweep records closed_at.
CREATE TABLE proxy_sessions (
    id            text COLLATE "C" PRIMARY KEY,
    account_id    text COLLATE "C" NOT NULL,
    proxy_number  text COLLATE "C" NOT NULL,
    participant_a text COLLATE "C" NOT NULL,
    participant_b text COLLATE "C" NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz,          -- NULL: no expiry
    closed_at     timestamptz           -- NULL: not closed
);

-- The unclosed sessions of a number, by either participant: the pool's usage (by number)
-- and the relay's lookup of an inbound sender (by number and participant). Closed sessions,
-- most of the table in time, stay out.
CREATE INDEX proxy_sessions_open_a ON proxy_sessions (proxy_number, participant_a) WHERE closed_at IS NULL;
CREATE INDEX proxy_sessions_open_b ON proxy_sessions (proxy_number, participant_b) WHERE closed_at IS NULL;

-- Lists: one account's sessions newest first, cursor on (created_at, id). The open list
-- reads the unclosed ones only (expired ones among them are filtered out until the sweep
-- closes them), however many closed ones the account has piled up.
CREATE INDEX proxy_sessions_account_created ON proxy_sessions (account_id, created_at DESC, id DESC);
CREATE INDEX proxy_sessions_account_open ON proxy_sessions (account_id, created_at DESC, id DESC)
    WHERE closed_at IS NULL;

-- The sweep of expired sessions not yet closed.
CREATE INDEX proxy_sessions_expires ON proxy_sessions (expires_at) WHERE closed_at IS NULL;

-- +goose Down
DROP TABLE proxy_sessions;
DROP TABLE proxy_numbers;
