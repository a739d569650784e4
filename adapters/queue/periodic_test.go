package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/ports"
)

// taskRecorder counts runs of a periodic task on a channel; the first one fails, to show a
// failed run is not retried (the next period brings the next one).
type taskRecorder struct {
	calls chan struct{}
}

func (r *taskRecorder) run(context.Context) error {
	r.calls <- struct{}{}
	if len(r.calls) == 1 {
		return errors.New("task failed")
	}
	return nil
}

func (r *taskRecorder) Sweep(ctx context.Context) error           { return r.run(ctx) }
func (r *taskRecorder) RefreshStatuses(ctx context.Context) error { return r.run(ctx) }

// TestPeriodicTasks: the elected leader enqueues the sweep at start-up and then every
// SweepInterval, and the status refresh every StatusRefreshInterval, on both backends; a
// zero StatusRefreshInterval switches the refresh off.
func TestPeriodicTasks(t *testing.T) {
	const interval = 500 * time.Millisecond
	tests := []struct {
		name string
		opts func(rec *taskRecorder) Options
		runs int // runs to wait for; 0: the test checks none happens
	}{
		{"sweep", func(rec *taskRecorder) Options { return Options{Sweeper: rec, SweepInterval: interval} }, 3},
		{"status refresh", func(rec *taskRecorder) Options {
			return Options{StatusRefresher: rec, StatusRefreshInterval: interval}
		}, 3},
		{"status refresh off", func(rec *taskRecorder) Options { return Options{StatusRefresher: rec} }, 0},
	}
	for _, b := range backends() {
		for _, tt := range tests {
			t.Run(b.name+"/"+tt.name, func(t *testing.T) {
				db := b.open(t)
				rec := &taskRecorder{calls: make(chan struct{}, 100)}
				opts := tt.opts(rec)
				opts.Logger = hclog.NewNullLogger()
				opts.Dispatcher = dispatcherFunc(func(context.Context, ports.DispatchAttempt) error { return nil })
				// With the task off, a sweep every period proves the periodic jobs run at all.
				off := tt.runs == 0
				sweeps := &taskRecorder{calls: make(chan struct{}, 100)}
				if off {
					opts.Sweeper, opts.SweepInterval = sweeps, interval
				}
				q, err := b.new(db, opts)
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
				// Leader election takes a moment; then runs each period.
				deadline := time.After(waitFor)
				want, calls := tt.runs, rec.calls
				if off {
					want, calls = 3, sweeps.calls
				}
				for n := 0; n < want; n++ {
					select {
					case <-calls:
					case <-deadline:
						t.Fatalf("%d runs within %v, want %d", n, waitFor, want)
					}
				}
				if off && len(rec.calls) > 0 {
					t.Fatalf("%d status refreshes with the interval 0, want none", len(rec.calls))
				}
			})
		}
	}
}

type dispatcherFunc func(ctx context.Context, a ports.DispatchAttempt) error

func (f dispatcherFunc) Dispatch(ctx context.Context, a ports.DispatchAttempt) error {
	return f(ctx, a)
}
