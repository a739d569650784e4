package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/ports"
)

type accountRow struct {
	ID           string    `db:"id"`
	PasswordHash string    `db:"password_hash"`
	CreatedAt    time.Time `db:"created_at"`
}

func (r accountRow) toAccount() ports.Account {
	return ports.Account{ID: r.ID, PasswordHash: r.PasswordHash, CreatedAt: r.CreatedAt.UTC()}
}

// GetAccount implements ports.AccountStore.
func (s *Store) GetAccount(ctx context.Context, id string) (ports.Account, error) {
	var r accountRow
	if err := s.db.GetContext(ctx, &r,
		`SELECT id, password_hash, created_at FROM accounts WHERE id = $1`, id); err != nil {
		return ports.Account{}, fmt.Errorf("get account %s: %w", id, mapErr(err))
	}
	return r.toAccount(), nil
}

// PutAccount implements ports.AccountStore: it creates the account, or replaces the password
// hash of an existing one (which keeps its creation time).
func (s *Store) PutAccount(ctx context.Context, a ports.Account) error {
	_, err := s.db.ExecContext(ctx, `
INSERT INTO accounts (id, password_hash, created_at) VALUES ($1, $2, $3)
ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash`,
		a.ID, a.PasswordHash, ts(a.CreatedAt))
	if err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, mapErr(err))
	}
	return nil
}

// ListAccounts implements ports.AccountStore.
func (s *Store) ListAccounts(ctx context.Context) ([]ports.Account, error) {
	var rows []accountRow
	if err := s.db.SelectContext(ctx, &rows,
		`SELECT id, password_hash, created_at FROM accounts ORDER BY id`); err != nil {
		return nil, fmt.Errorf("list accounts: %w", mapErr(err))
	}
	out := make([]ports.Account, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.toAccount())
	}
	return out, nil
}
