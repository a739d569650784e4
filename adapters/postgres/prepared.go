package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"
)

// prepared are the statements of the write path, prepared once so that Postgres parses them
// once per connection instead of on every execution (the send path runs them several times
// per message). A transaction uses them through Tx.Stmtx, which reuses the statement already
// prepared on its connection (or prepares it there, on the transaction's own connection).
type prepared struct {
	insertMessage, insertMessages, updateMessage, updateMessages, lockByID, lockByProviderID, lockMany, selectEvents *sqlx.Stmt
}

func prepare(ctx context.Context, db *sqlx.DB) (*prepared, error) {
	p := &prepared{}
	for _, s := range []struct {
		dst   **sqlx.Stmt
		query string
	}{
		{&p.insertMessage, insertMessage},
		{&p.insertMessages, insertMessages},
		{&p.updateMessages, updateMessages},
		{&p.lockMany, lockManyQuery},
		{&p.updateMessage, updateMessage},
		{&p.lockByID, lockByIDQuery},
		{&p.lockByProviderID, lockByProviderIDQuery},
		{&p.selectEvents, selectEvents},
	} {
		st, err := db.PreparexContext(ctx, s.query)
		if err != nil {
			_ = p.close()
			return nil, fmt.Errorf("prepare statement: %w", mapErr(err))
		}
		*s.dst = st
	}
	return p, nil
}

func (p *prepared) close() error {
	var errs []error
	for _, st := range []*sqlx.Stmt{p.insertMessage, p.insertMessages, p.updateMessage, p.updateMessages, p.lockMany, p.lockByID, p.lockByProviderID, p.selectEvents} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
