package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/ports"
)

// idempotencyColumns is the column list every idempotency query selects, in scanIdempotency's order.
const idempotencyColumns = `account_id, key, request_hash, message_id, accepted, created_at, lease_until`

func scanIdempotency(scan func(dest ...any) error) (ports.IdempotencyRecord, error) {
	var (
		r              ports.IdempotencyRecord
		created, lease int64
	)
	if err := scan(&r.AccountID, &r.Key, &r.RequestHash, &r.MessageID, &r.Accepted, &created, &lease); err != nil {
		return ports.IdempotencyRecord{}, err
	}
	r.CreatedAt, r.LeaseUntil = fromDB(created), fromDB(lease)
	return r, nil
}

// ClaimIdempotencyKey implements ports.IdempotencyStore in an immediate transaction of its
// own: holding the write lock, reading the record in force and then writing the claim
// cannot interleave with another claim.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, r ports.IdempotencyRecord, ttl time.Duration) (ports.IdempotencyRecord, bool, error) {
	r.CreatedAt, r.LeaseUntil, r.Accepted = fromDB(toDB(r.CreatedAt)), fromDB(toDB(r.LeaseUntil)), false
	var (
		got     ports.IdempotencyRecord
		claimed bool
	)
	err := s.inTx(ctx, func(ctx context.Context, t *Tx) error {
		cur, err := scanIdempotency(t.tx.QueryRowContext(ctx, `SELECT `+idempotencyColumns+` FROM idempotency_keys
			WHERE account_id = ? AND key = ?`, r.AccountID, r.Key).Scan)
		switch {
		case err == nil && !cur.Stale(r.CreatedAt, ttl):
			got = cur
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return classify(err)
		}
		_, err = t.tx.ExecContext(ctx, `INSERT INTO idempotency_keys (`+idempotencyColumns+`) VALUES (?, ?, ?, ?, 0, ?, ?)
			ON CONFLICT (account_id, key) DO UPDATE SET request_hash = excluded.request_hash,
				message_id = excluded.message_id, accepted = 0, created_at = excluded.created_at,
				lease_until = excluded.lease_until`,
			r.AccountID, r.Key, r.RequestHash, r.MessageID, toDB(r.CreatedAt), toDB(r.LeaseUntil))
		if err != nil {
			return classify(err)
		}
		got, claimed = r, true
		return nil
	})
	if err != nil {
		return ports.IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key %s/%s: %w", r.AccountID, r.Key, err)
	}
	return got, claimed, nil
}

// PruneIdempotencyKeys implements ports.IdempotencyStore.
func (s *Store) PruneIdempotencyKeys(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at <= ?`, toDB(before))
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys created up to %s: %w", before.UTC().Format(time.RFC3339Nano), classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune idempotency keys created up to %s: %w", before.UTC().Format(time.RFC3339Nano), classify(err))
	}
	return int(n), nil
}

// AcceptIdempotencyKey implements ports.IdempotencyTx.
func (t *Tx) AcceptIdempotencyKey(ctx context.Context, accountID, key, messageID string) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE idempotency_keys SET accepted = 1
		WHERE account_id = ? AND key = ? AND message_id = ?`, accountID, key, messageID)
	if err != nil {
		return false, fmt.Errorf("accept idempotency key %s/%s of %s: %w", accountID, key, messageID, classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("accept idempotency key %s/%s of %s: %w", accountID, key, messageID, classify(err))
	}
	return n == 1, nil
}

// ReleaseIdempotencyKey implements ports.IdempotencyTx.
func (t *Tx) ReleaseIdempotencyKey(ctx context.Context, accountID, key, messageID string) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM idempotency_keys
		WHERE account_id = ? AND key = ? AND message_id = ? AND accepted = 0`, accountID, key, messageID)
	if err != nil {
		return fmt.Errorf("release idempotency key %s/%s of %s: %w", accountID, key, messageID, classify(err))
	}
	return nil
}
