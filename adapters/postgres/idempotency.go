package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/ports"
)

// claimQuery claims ($1, $2) for the request ($3 hash, $4 message id, $5 now, $6 lease end)
// in one statement: the insert, or the takeover of a stale record (created at or before
// $7 = now - ttl, or an unaccepted claim whose lease ended), returns the new record with
// claimed; otherwise the record in force is read in the same statement.
//
// That read sees the statement's snapshot, which misses a record committed by a racing
// claim after the snapshot was taken (the insert waited for it and found it in force), or
// shows the version a racing takeover replaced. The caller then runs the statement again:
// the conflict is settled by then, and the new snapshot sees the record in force.
const claimQuery = `
WITH claim AS (
    INSERT INTO idempotency_keys AS i (account_id, key, request_hash, message_id, accepted, created_at, lease_until)
    VALUES ($1, $2, $3, $4, false, $5, $6)
    ON CONFLICT (account_id, key) DO UPDATE SET request_hash = excluded.request_hash,
        message_id = excluded.message_id, accepted = false, created_at = excluded.created_at,
        lease_until = excluded.lease_until
    WHERE i.created_at <= $7 OR (NOT i.accepted AND i.lease_until <= excluded.created_at)
    RETURNING i.account_id, i.key, i.request_hash, i.message_id, i.accepted, i.created_at, i.lease_until
)
SELECT *, true AS claimed FROM claim
UNION ALL
SELECT account_id, key, request_hash, message_id, accepted, created_at, lease_until, false
FROM idempotency_keys
WHERE account_id = $1 AND key = $2 AND NOT EXISTS (SELECT FROM claim)`

// claimAttempts bounds the runs of claimQuery. The second run normally settles a race; more
// are needed only while other claims keep replacing or deleting the record in between.
const claimAttempts = 5

type idempotencyRow struct {
	AccountID   string    `db:"account_id"`
	Key         string    `db:"key"`
	RequestHash string    `db:"request_hash"`
	MessageID   string    `db:"message_id"`
	Accepted    bool      `db:"accepted"`
	CreatedAt   time.Time `db:"created_at"`
	LeaseUntil  time.Time `db:"lease_until"`
	Claimed     bool      `db:"claimed"`
}

func (r idempotencyRow) record() ports.IdempotencyRecord {
	return ports.IdempotencyRecord{AccountID: r.AccountID, Key: r.Key, RequestHash: r.RequestHash, MessageID: r.MessageID,
		Accepted: r.Accepted, CreatedAt: r.CreatedAt.UTC(), LeaseUntil: r.LeaseUntil.UTC()}
}

// ClaimIdempotencyKey implements ports.IdempotencyStore with claimQuery, in a transaction
// of its own (autocommit): one round trip unless it races another claim of the key.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, r ports.IdempotencyRecord, ttl time.Duration) (ports.IdempotencyRecord, bool, error) {
	now, lease := ts(r.CreatedAt), ts(r.LeaseUntil)
	staleBefore := ts(now.Add(-ttl)) // created at or before: stale
	for range claimAttempts {
		var rows []idempotencyRow
		if err := s.db.SelectContext(ctx, &rows, claimQuery,
			r.AccountID, r.Key, r.RequestHash, r.MessageID, now, lease, staleBefore); err != nil {
			return ports.IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key %s/%s: %w", r.AccountID, r.Key, mapErr(err))
		}
		if len(rows) != 1 {
			continue // a racing claim's record, committed after the snapshot
		}
		got := rows[0].record()
		stale := !got.CreatedAt.After(staleBefore) || (!got.Accepted && !got.LeaseUntil.After(now))
		if rows[0].Claimed || !stale {
			return got, rows[0].Claimed, nil
		}
		// The snapshot's version of a record a racing claim has replaced.
	}
	return ports.IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key %s/%s: still contended after %d attempts: %w",
		r.AccountID, r.Key, claimAttempts, ports.ErrUnavailable)
}

// PruneIdempotencyKeys implements ports.IdempotencyStore.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at <= $1`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys created up to %s: %w", before.UTC().Format(time.RFC3339Nano), mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys created up to %s: %w", before.UTC().Format(time.RFC3339Nano), mapErr(err))
	}
	return int(n), nil
}

// AcceptIdempotencyKey implements ports.IdempotencyTx. The row stays locked until the
// transaction ends, so a racing claim waits and then sees it accepted (or, on rollback,
// still a claim).
func (t *tx) AcceptIdempotencyKey(ctx context.Context, accountID, key, messageID string) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE idempotency_keys SET accepted = true
WHERE account_id = $1 AND key = $2 AND message_id = $3`, accountID, key, messageID)
	if err != nil {
		return false, fmt.Errorf("accept idempotency key %s/%s of %s: %w", accountID, key, messageID, mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("accept idempotency key %s/%s of %s: %w", accountID, key, messageID, mapErr(err))
	}
	return n == 1, nil
}

// ReleaseIdempotencyKey implements ports.IdempotencyTx.
func (t *tx) ReleaseIdempotencyKey(ctx context.Context, accountID, key, messageID string) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM idempotency_keys
WHERE account_id = $1 AND key = $2 AND message_id = $3 AND NOT accepted`, accountID, key, messageID)
	if err != nil {
		return fmt.Errorf("release idempotency key %s/%s of %s: %w", accountID, key, messageID, mapErr(err))
	}
	return nil
}
