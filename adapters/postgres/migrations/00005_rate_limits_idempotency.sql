-- +goose Up
-- Rate limits: one sliding log per key (ports.Limiter, core/ratelimit). hits holds the
-- counted hits still in the window as of the key's last Hit, oldest first; admitted is how
-- many that Hit admitted, so that its RETURNING (which sees only the new row) can report
-- it; newest is the latest hit in the log ('-infinity' when empty), for the sweep. Keys
-- compare bytewise (COLLATE "C"), the order Hit locks them in, as Go sorts them.
--
-- Every counted send updates its sender's row, so the row must stay cheap to update: no
-- index but the key (an index on newest would rule out HOT updates and add an index write
-- to every send; the sweep scans instead, and the table holds only the senders of the last
-- window), and room on each page for the new version (fillfactor).
CREATE TABLE rate_logs (
    key      text COLLATE "C" PRIMARY KEY,
    hits     timestamptz[] NOT NULL,
    admitted int NOT NULL,
    newest   timestamptz NOT NULL
) WITH (fillfactor = 70);

-- rate_hits_after is the hits of a log after since (those still in the window), oldest
-- first: the part of a log the next Hit keeps.
CREATE FUNCTION rate_hits_after(hits timestamptz[], since timestamptz) RETURNS timestamptz[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN ARRAY(SELECT h FROM unnest(hits) AS h WHERE h > since ORDER BY h);

-- Idempotency keys (ports.IdempotencyStore): one row per (account, key), a claim until
-- accepted. An unaccepted row after lease_until, and any row created a ttl ago, may be
-- taken over by the next claim; the sweep deletes by created_at.
CREATE TABLE idempotency_keys (
    account_id   text COLLATE "C",
    key          text COLLATE "C",
    request_hash text NOT NULL,
    message_id   text NOT NULL,
    accepted     boolean NOT NULL,
    created_at   timestamptz NOT NULL,
    lease_until  timestamptz NOT NULL,
    PRIMARY KEY (account_id, key)
);

CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP FUNCTION rate_hits_after(timestamptz[], timestamptz);
DROP TABLE rate_logs;
