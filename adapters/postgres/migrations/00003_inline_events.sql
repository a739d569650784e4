-- +goose Up
-- A message's event history moves into the message row as a JSON array (oldest first):
-- every status change then writes one row instead of a row, an event row, an index entry and
-- a foreign-key check, and reading a message needs no aggregate over another table.
ALTER TABLE messages ADD COLUMN events jsonb NOT NULL DEFAULT '[]';

UPDATE messages m SET events = e.events
FROM (
    SELECT message_id,
           jsonb_agg(jsonb_build_object(
               'status', status,
               'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'detail', detail) ORDER BY seq) AS events
    FROM message_events
    GROUP BY message_id
) e
WHERE m.id = e.message_id;

DROP TABLE message_events;
ALTER TABLE messages DROP COLUMN event_count;

-- +goose Down
ALTER TABLE messages ADD COLUMN event_count integer NOT NULL DEFAULT 0;

CREATE TABLE message_events (
    message_id text COLLATE "C" NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    seq        integer NOT NULL,
    status     text NOT NULL,
    at         timestamptz NOT NULL,
    detail     text NOT NULL DEFAULT '',
    PRIMARY KEY (message_id, seq)
);

INSERT INTO message_events (message_id, seq, status, at, detail)
SELECT m.id, e.seq, e.status, e.at, e.detail
FROM messages m,
     ROWS FROM (jsonb_to_recordset(m.events) AS (status text, at timestamptz, detail text))
         WITH ORDINALITY AS e(status, at, detail, seq);

UPDATE messages SET event_count = jsonb_array_length(events);
ALTER TABLE messages DROP COLUMN events;
