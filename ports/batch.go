package ports

import (
	"context"
	"errors"
	"slices"

	"github.com/smsgw/smsgw/core/message"
)

// The batch methods of Tx done one message at a time, for stores where a multi-row
// statement saves nothing (SQLite's single connection, in-memory stores).

// InsertEach implements Tx.InsertMessages with InsertMessage.
func InsertEach(ctx context.Context, insert func(context.Context, message.Message) error, ms []message.Message) error {
	for _, m := range ms {
		if err := insert(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// GetEachForUpdate implements Tx.GetMessagesForUpdate with GetMessageForUpdate: id order,
// duplicates and unknown ids left out.
func GetEachForUpdate(ctx context.Context, get func(context.Context, string) (message.Message, error), ids []string) ([]message.Message, error) {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	out := make([]message.Message, 0, len(sorted))
	for _, id := range slices.Compact(sorted) {
		m, err := get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// UpdateEach implements Tx.UpdateMessages with UpdateMessage.
func UpdateEach(ctx context.Context, update func(context.Context, message.Message, ...message.Event) error, updates []MessageUpdate) error {
	for _, u := range updates {
		if err := update(ctx, u.Message, u.NewEvents...); err != nil {
			return err
		}
	}
	return nil
}
