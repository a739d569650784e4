package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/ports"
)

// sweepRecorder counts sweeps on a channel; the first one fails, to show a failed sweep is
// not retried (the next period brings the next one).
type sweepRecorder struct {
	calls chan struct{}
}

func (s *sweepRecorder) Sweep(ctx context.Context) error {
	s.calls <- struct{}{}
	if len(s.calls) == 1 {
		return errors.New("sweep failed")
	}
	return nil
}

// TestPeriodicSweep: with a Sweeper, the elected leader enqueues a sweep at start-up and then
// every SweepInterval, on both backends.
func TestPeriodicSweep(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			rec := &sweepRecorder{calls: make(chan struct{}, 100)}
			q, err := b.new(db, Options{
				Logger:        hclog.NewNullLogger(),
				Dispatcher:    dispatcherFunc(func(context.Context, ports.DispatchAttempt) error { return nil }),
				Sweeper:       rec,
				SweepInterval: 500 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := q.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), waitFor)
				defer cancel()
				if err := q.Stop(ctx); err != nil {
					t.Errorf("stop: %v", err)
				}
			})
			// Leader election takes a moment; then one sweep on start and more each period.
			deadline := time.After(waitFor)
			for n := 0; n < 3; n++ {
				select {
				case <-rec.calls:
				case <-deadline:
					t.Fatalf("%d sweeps within %v, want 3", n, waitFor)
				}
			}
		})
	}
}

type dispatcherFunc func(ctx context.Context, a ports.DispatchAttempt) error

func (f dispatcherFunc) Dispatch(ctx context.Context, a ports.DispatchAttempt) error {
	return f(ctx, a)
}
