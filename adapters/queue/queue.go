// Package queue is the durable job queue: a River client over the store's own *sql.DB
// (riverdatabasesql on Postgres, riversqlite on SQLite), with the worker that runs send jobs
// through the core's dispatcher and the one that delivers events to the webhook blocks.
package queue

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// Dispatcher carries out one run of a send job (gateway.Gateway.Dispatch). A nil error
// finishes the job; any other error has River retry it with backoff.
type Dispatcher interface {
	Dispatch(ctx context.Context, a ports.DispatchAttempt) error
}

// Options configure a Queue. Dispatcher is required.
type Options struct {
	Logger     hclog.Logger
	Dispatcher Dispatcher
	// Workers is the number of jobs run at once by this process (default 64).
	Workers int
	// PollInterval overrides how often the queue looks for jobs (default 20ms).
	PollInterval time.Duration
	// Sweeper, when set, runs every SweepInterval (default 5m) as a periodic job.
	Sweeper       Sweeper
	SweepInterval time.Duration
	// StatusRefresher, when set and StatusRefreshInterval > 0, runs every
	// StatusRefreshInterval as a periodic job (not at start-up).
	StatusRefresher       StatusRefresher
	StatusRefreshInterval time.Duration
	// Webhooks are the webhook blocks events are delivered to (API.md §6); EnqueueEvents
	// queues nothing without them. RenderMessage renders an event's message as its data (the
	// v1 message object); it is required with Webhooks. WebhookWorkers is how many
	// deliveries run at once, on their own River queue (default 4); UserAgent is their
	// User-Agent (default "smsgw").
	Webhooks       []Webhook
	RenderMessage  func(message.Message) any
	WebhookWorkers int
	UserAgent      string
	// Registerer gets the queue's metrics (smsgw_webhook_deliveries_total); nil keeps them
	// unregistered.
	Registerer prometheus.Registerer
}

const (
	defaultWorkers = 64

	// Both drivers are poll-only (database/sql has no LISTEN), and River does not wake its
	// fetcher after InsertTx (the job is invisible until the caller commits), so the poll
	// interval is the pick-up latency of a new job. River adds up to max(10%, 10ms) of
	// jitter. A fetch that fills every free worker slot fetches again as soon as a slot
	// frees, no sooner than fetchCooldown after the last fetch, so under load the queue is
	// driven by completions, not by the poll.
	defaultPollInterval = 20 * time.Millisecond
	fetchCooldown       = 5 * time.Millisecond

	// schedulerInterval is River's (unexported, unconfigurable) JobSchedulerIntervalDefault:
	// how often the leader moves `scheduled`/`retryable` jobs whose time has come to
	// `available`. River itself stores retries due within this interval directly as
	// `available` with a future scheduled_at (the fetch query skips them until then); the
	// insert hook below does the same for sends scheduled within it.
	schedulerInterval = 5 * time.Second

	// jobTimeout cancels a run that hangs (a provider call never answering); it is retried.
	jobTimeout = 30 * time.Second
	// rescueAfter: a job still `running` this long after it started belongs to a process
	// that died (kill -9, power loss), since a live run is cancelled at jobTimeout. The
	// leader's rescuer (every 30s) then makes it retryable. River's default of 1h would hold
	// such messages for an hour.
	rescueAfter = time.Minute
	// completedRetention: a completed job carries nothing the messages table does not, so
	// keep the table small under high throughput.
	completedRetention = time.Hour
)

// Queue is the River-backed ports.JobQueue and the worker pool that runs its jobs.
type Queue struct {
	client   *river.Client[*sql.Tx]
	log      hclog.Logger
	webhooks []Webhook
	render   func(message.Message) any
	hooks    *webhookWorker
}

var (
	_ ports.JobQueue   = (*Queue)(nil)
	_ ports.EventQueue = (*Queue)(nil)
)

// NewPostgres makes a queue on the Postgres store's *sql.DB (lib/pq). River's schema must
// already exist (the store's migrations apply it).
func NewPostgres(db *sql.DB, opts Options) (*Queue, error) {
	return newQueue(riverdatabasesql.New(db), opts)
}

// NewSQLite makes a queue on the SQLite store's *sql.DB (modernc.org/sqlite). River's schema
// must already exist (the store's migrations apply it).
func NewSQLite(db *sql.DB, opts Options) (*Queue, error) {
	return newQueue(riversqlite.New(db), opts)
}

// newQueue builds the client for driver D; D is also what JobCompleteTx needs to know.
func newQueue[D riverdriver.Driver[*sql.Tx]](driver D, opts Options) (*Queue, error) {
	if opts.Dispatcher == nil {
		return nil, errors.New("queue: Options.Dispatcher is required")
	}
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	workers := max(opts.Workers, 0)
	if workers == 0 {
		workers = defaultWorkers
	}
	poll := opts.PollInterval
	if poll <= 0 {
		poll = defaultPollInterval
	}

	w := &sendWorker{
		dispatcher: opts.Dispatcher,
		complete: func(ctx context.Context, tx *sql.Tx, job *river.Job[sendArgs]) error {
			_, err := river.JobCompleteTx[D](ctx, tx, job)
			return err
		},
	}
	registry := river.NewWorkers()
	if err := river.AddWorkerSafely(registry, w); err != nil {
		return nil, fmt.Errorf("queue: register send worker: %w", err)
	}
	if len(opts.Webhooks) > 0 && opts.RenderMessage == nil {
		return nil, errors.New("queue: Options.RenderMessage is required with Webhooks")
	}
	// Registered even without webhooks, so that deliveries queued under an older config are
	// cancelled rather than left waiting for a worker.
	hooks, err := newWebhookWorker(opts.Webhooks, cmp.Or(opts.UserAgent, "smsgw"), log.Named("webhook"), opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("queue: %w", err)
	}
	if err := river.AddWorkerSafely(registry, hooks); err != nil {
		return nil, fmt.Errorf("queue: register webhook worker: %w", err)
	}
	periodic, err := addPeriodic(registry, opts)
	if err != nil {
		return nil, fmt.Errorf("queue: register periodic workers: %w", err)
	}

	client, err := river.NewClient(driver, &river.Config{
		CompletedJobRetentionPeriod: completedRetention,
		FetchCooldown:               min(fetchCooldown, poll),
		FetchPollInterval:           poll,
		Hooks:                       []rivertype.Hook{river.HookInsertBeginFunc(availableIfDueSoon)},
		JobTimeout:                  jobTimeout,
		Logger:                      slog.New(newLogHandler(log)),
		PeriodicJobs:                periodic,
		PollOnly:                    true,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: workers},
			WebhookQueue:       {MaxWorkers: cmp.Or(max(opts.WebhookWorkers, 0), defaultWebhookWorkers)},
		},
		RescueStuckJobsAfter: rescueAfter,
		Workers:              registry,
	})
	if err != nil {
		return nil, fmt.Errorf("queue: new river client: %w", err)
	}
	return &Queue{client: client, log: log, webhooks: opts.Webhooks, render: opts.RenderMessage, hooks: hooks}, nil
}

// availableIfDueSoon stores a job scheduled less than schedulerInterval ahead as `available`
// with its future scheduled_at, like River does for short retries: the fetch query holds it
// back until then, and it runs on time instead of at the scheduler's next pass.
func availableIfDueSoon(_ context.Context, p *rivertype.JobInsertParams) error {
	if p.State == rivertype.JobStateScheduled && p.ScheduledAt != nil && time.Until(*p.ScheduledAt) <= schedulerInterval {
		p.State = rivertype.JobStateAvailable
	}
	return nil
}

// Start starts fetching and running jobs. Cancelling ctx is a hard stop (running jobs are
// cancelled); use Stop for a graceful one.
func (q *Queue) Start(ctx context.Context) error {
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("start river client: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for running ones to finish. When ctx expires first, it
// cancels their contexts (they are retried later, by this or another process) and waits
// briefly for them to return.
func (q *Queue) Stop(ctx context.Context) error {
	defer q.hooks.close()
	err := q.client.Stop(ctx)
	if err == nil {
		return nil
	}
	q.log.Warn("queue drain timed out; cancelling running jobs", "error", err)
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if herr := q.client.StopAndCancel(hctx); herr != nil {
		return fmt.Errorf("stop queue: %w", errors.Join(err, herr))
	}
	return fmt.Errorf("stop queue: drain: %w", err)
}

// EnqueueSends inserts the send jobs in tx with one River InsertManyTx, so they exist if and
// only if tx commits. tx must be, or wrap, a ports.SQLTx (both SQL stores are).
func (q *Queue) EnqueueSends(ctx context.Context, tx ports.Tx, jobs ...ports.SendJob) error {
	if len(jobs) == 0 {
		return nil
	}
	stx, ok := ports.SQLTxOf(tx)
	if !ok {
		return fmt.Errorf("enqueue %d send(s): transaction %T does not implement ports.SQLTx", len(jobs), tx)
	}
	params := make([]river.InsertManyParams, len(jobs))
	for i, job := range jobs {
		args := sendArgs{Provider: job.Provider, MessageIDs: job.MessageIDs, MaxAttempts: max(job.MaxAttempts, 1), Backoff: job.Backoff}
		params[i] = river.InsertManyParams{
			Args:       args,
			InsertOpts: &river.InsertOpts{MaxAttempts: args.MaxAttempts + attemptHeadroom, ScheduledAt: job.RunAt},
		}
	}
	if _, err := q.client.InsertManyTx(ctx, stx, params); err != nil {
		return fmt.Errorf("enqueue %d send job(s): %w: %w", len(jobs), ports.ErrUnavailable, err)
	}
	return nil
}
