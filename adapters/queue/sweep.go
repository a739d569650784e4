package queue

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

const (
	sweepKind = "smsgw.sweep"
	// defaultSweepInterval: sweeps only bound table sizes (expired rows are ignored as they
	// are read), so a few minutes is plenty.
	defaultSweepInterval = 5 * time.Minute
)

// Sweeper deletes expired rows (gateway.Gateway.Sweep): opt-outs, rate-limit logs,
// idempotency keys.
type Sweeper interface {
	Sweep(ctx context.Context) error
}

// sweepArgs is the (empty) job of one sweep.
type sweepArgs struct{}

func (sweepArgs) Kind() string { return sweepKind }

// sweepWorker runs periodic sweeps. River inserts periodic jobs from the elected leader
// only, so with several replicas one sweep runs per interval, not one per replica.
type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	sweeper Sweeper
}

func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	return w.sweeper.Sweep(ctx)
}

// sweepJob is the periodic job that enqueues a sweep every interval (and once at start-up).
// A sweep that fails is not retried: the next one comes soon enough. Sweeps are idempotent,
// so the rare extra one after a leader change needs no uniqueness guard.
func sweepJob(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return sweepArgs{}, &river.InsertOpts{MaxAttempts: 1}
		},
		&river.PeriodicJobOpts{ID: sweepKind, RunOnStart: true})
}
