package sqlite_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

type pingArgs struct{ MessageID string }

func (pingArgs) Kind() string { return "sqlite_test_ping" }

// completeWorker completes its job inside a store transaction, as the send worker does.
type completeWorker struct {
	river.WorkerDefaults[pingArgs]
	store ports.Store
	done  chan string
}

func (w *completeWorker) Work(ctx context.Context, job *river.Job[pingArgs]) error {
	err := w.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		m, err := tx.GetMessageForUpdate(ctx, job.Args.MessageID)
		if err != nil {
			return err
		}
		m.Status = message.StatusSent
		if err := tx.UpdateMessage(ctx, m); err != nil {
			return err
		}
		_, err = river.JobCompleteTx[*riversqlite.Driver](ctx, tx.(ports.SQLTx).SQLTx(), job)
		return err
	})
	if err != nil {
		return err
	}
	w.done <- job.Args.MessageID
	return nil
}

// TestRiverSharesThePool checks the pool settings against River itself: a job enqueued in
// the store's transaction runs, and completes in another store transaction, over the one
// shared connection.
func TestRiverSharesThePool(t *testing.T) {
	s := openStore(t)
	w := &completeWorker{store: s, done: make(chan string, 1)}
	workers := river.NewWorkers()
	river.AddWorker(workers, w)
	client, err := river.NewClient(riversqlite.New(s.DB()), &river.Config{
		Logger:            slog.New(slog.DiscardHandler),
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		Workers:           workers,
		FetchCooldown:     20 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond,
		TestOnly:          true,
	})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := client.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() {
		if err := client.Stop(context.WithoutCancel(ctx)); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}()

	m := message.Message{ID: "r1", AccountID: "a", Direction: message.Outbound, Status: message.StatusQueued,
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	err = s.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.InsertMessage(ctx, m); err != nil {
			return err
		}
		_, err := client.InsertTx(ctx, tx.(ports.SQLTx).SQLTx(), pingArgs{MessageID: m.ID}, nil)
		return err
	})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
	select {
	case id := <-w.done:
		if id != m.ID {
			t.Fatalf("worked %s, want %s", id, m.ID)
		}
	case <-ctx.Done():
		t.Fatal("job did not run")
	}
	got, err := s.GetMessage(ctx, "", m.ID)
	if err != nil || got.Status != message.StatusSent {
		t.Fatalf("message after job = %v, %v", got.Status, err)
	}
	var state string
	if err := s.DB().QueryRowContext(ctx, `SELECT state FROM river_job`).Scan(&state); err != nil || state != "completed" {
		t.Errorf("job state = %q, %v; want completed", state, err)
	}
}
