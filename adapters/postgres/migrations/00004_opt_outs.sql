-- +goose Up
-- Opt-outs are global: one row per (sender, recipient) pair, whatever account sent or
-- received. Numbers compare bytewise (COLLATE "C"), as in SQLite and Go, so the list order
-- and its cursors agree across stores. expires_at NULL = permanent; a row whose expiry is at
-- or before now blocks nothing and waits for the sweep (PruneOptOuts).
CREATE TABLE opt_outs (
    sender     text COLLATE "C",
    recipient  text COLLATE "C",
    source     text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (sender, recipient)
);

-- Lists: newest first, cursor on (created_at, sender, recipient).
CREATE INDEX opt_outs_created ON opt_outs (created_at DESC, sender DESC, recipient DESC);

-- The sweep deletes expired rows; permanent blocks stay out of the index.
CREATE INDEX opt_outs_expires ON opt_outs (expires_at) WHERE expires_at IS NOT NULL;

-- +goose Down
DROP TABLE opt_outs;
