package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/smsgw/smsgw/ports"
)

// GetAccount returns the account, or ErrNotFound.
func (s *Store) GetAccount(ctx context.Context, id string) (ports.Account, error) {
	a := ports.Account{ID: id}
	var created int64
	err := s.db.QueryRowContext(ctx, `SELECT password_hash, created_at FROM accounts WHERE id = ?`, id).
		Scan(&a.PasswordHash, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return ports.Account{}, fmt.Errorf("get account %s: %w", id, ports.ErrNotFound)
	}
	if err != nil {
		return ports.Account{}, fmt.Errorf("get account %s: %w", id, classify(err))
	}
	a.CreatedAt = fromDB(created)
	return a, nil
}

// PutAccount creates the account, or replaces the password hash of an existing one (its
// creation time stays).
func (s *Store) PutAccount(ctx context.Context, a ports.Account) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO accounts (id, password_hash, created_at) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET password_hash = excluded.password_hash`,
		a.ID, a.PasswordHash, toDB(a.CreatedAt))
	if err != nil {
		return fmt.Errorf("put account %s: %w", a.ID, classify(err))
	}
	return nil
}

// ListAccounts returns all accounts ordered by id.
func (s *Store) ListAccounts(ctx context.Context) ([]ports.Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, password_hash, created_at FROM accounts ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", classify(err))
	}
	defer rows.Close()
	var out []ports.Account
	for rows.Next() {
		var (
			a       ports.Account
			created int64
		)
		if err := rows.Scan(&a.ID, &a.PasswordHash, &created); err != nil {
			return nil, fmt.Errorf("list accounts: %w", err)
		}
		a.CreatedAt = fromDB(created)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list accounts: %w", classify(err))
	}
	return out, nil
}
