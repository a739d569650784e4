package queue

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// The periodic jobs: River's elected leader inserts them, so with several replicas each runs
// once per interval, not once per replica. A run that fails is not retried (MaxAttempts 1):
// the next period brings the next run, and every task is idempotent, so the rare extra run
// after a leader change needs no uniqueness guard.

const (
	sweepKind = "smsgw.sweep"
	// defaultSweepInterval: sweeps only bound table sizes (expired rows are ignored as they
	// are read), so a few minutes is plenty.
	defaultSweepInterval = 5 * time.Minute

	refreshKind = "smsgw.status_refresh"
	// refreshTimeout bounds one status refresh. It stays under rescueAfter, or the rescuer
	// would take a live run for a dead one; a run cut off has applied the pages it polled,
	// and the next period starts over.
	refreshTimeout = 50 * time.Second
)

// Sweeper deletes expired rows (gateway.Gateway.Sweep): opt-outs, rate-limit logs,
// idempotency keys.
type Sweeper interface {
	Sweep(ctx context.Context) error
}

// StatusRefresher polls the providers for the status of messages still waiting for one
// (gateway.Gateway.RefreshStatuses over every account, API.md §1 status_refresh_interval).
type StatusRefresher interface {
	RefreshStatuses(ctx context.Context) error
}

// sweepArgs is the (empty) job of one sweep.
type sweepArgs struct{}

func (sweepArgs) Kind() string { return sweepKind }

// refreshArgs is the (empty) job of one status refresh.
type refreshArgs struct{}

func (refreshArgs) Kind() string { return refreshKind }

// periodicWorker runs one periodic task for jobs of kind A.
type periodicWorker[A river.JobArgs] struct {
	river.WorkerDefaults[A]
	run     func(ctx context.Context) error
	timeout time.Duration // 0: the client's JobTimeout
}

func (w *periodicWorker[A]) Work(ctx context.Context, _ *river.Job[A]) error { return w.run(ctx) }

func (w *periodicWorker[A]) Timeout(*river.Job[A]) time.Duration { return w.timeout }

// periodicJob enqueues a job of args every interval (and once at start-up if runOnStart).
func periodicJob(args river.JobArgs, interval time.Duration, runOnStart bool) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) {
			return args, &river.InsertOpts{MaxAttempts: 1}
		},
		&river.PeriodicJobOpts{ID: args.Kind(), RunOnStart: runOnStart})
}

// addPeriodic registers the periodic tasks opts asks for and returns their jobs.
func addPeriodic(registry *river.Workers, opts Options) ([]*river.PeriodicJob, error) {
	var jobs []*river.PeriodicJob
	if opts.Sweeper != nil {
		if err := river.AddWorkerSafely(registry, &periodicWorker[sweepArgs]{run: opts.Sweeper.Sweep}); err != nil {
			return nil, err
		}
		interval := opts.SweepInterval
		if interval <= 0 {
			interval = defaultSweepInterval
		}
		jobs = append(jobs, periodicJob(sweepArgs{}, interval, true))
	}
	if opts.StatusRefresher != nil && opts.StatusRefreshInterval > 0 {
		w := &periodicWorker[refreshArgs]{run: opts.StatusRefresher.RefreshStatuses, timeout: refreshTimeout}
		if err := river.AddWorkerSafely(registry, w); err != nil {
			return nil, err
		}
		// Not at start-up: the gateway reconciles each provider when its plugin starts.
		jobs = append(jobs, periodicJob(refreshArgs{}, opts.StatusRefreshInterval, false))
	}
	return jobs, nil
}
