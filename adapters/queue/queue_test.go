package queue

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	_ "github.com/lib/pq" // "postgres" database/sql driver
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"go.uber.org/goleak"
	_ "modernc.org/sqlite" // "sqlite" database/sql driver

	"github.com/smsgw/smsgw/adapters/postgres/pgtest"
	"github.com/smsgw/smsgw/ports"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(pgtest.Main(m))
}

// waitFor bounds every wait on an event; it is a deadline, not a synchronisation.
const waitFor = 15 * time.Second

// backend is one store flavour the suite runs on.
type backend struct {
	name string
	open func(t testing.TB) *sql.DB // a migrated, empty database
	new  func(db *sql.DB, opts Options) (*Queue, error)
}

func backends() []backend {
	return []backend{
		{name: "sqlite", open: openSQLite, new: NewSQLite},
		{name: "postgres", open: openPostgres, new: NewPostgres},
	}
}

func openSQLite(t testing.TB) *sql.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "queue.db") +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	// As the sqlite store does: one connection, writers queue in process.
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		t.Fatalf("new migrator: %v", err)
	}
	if _, err := m.Migrate(t.Context(), rivermigrate.DirectionUp, nil); err != nil {
		t.Fatalf("migrate river (sqlite): %v", err)
	}
	return db
}

func openPostgres(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", pgtest.DSN(t))
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	// As the postgres store does: a bounded pool that keeps its connections.
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	t.Cleanup(func() { _ = db.Close() })
	m, err := rivermigrate.New(riverdatabasesql.New(db), nil)
	if err != nil {
		t.Fatalf("new migrator: %v", err)
	}
	if _, err := m.Migrate(t.Context(), rivermigrate.DirectionUp, nil); err != nil {
		t.Fatalf("migrate river (postgres): %v", err)
	}
	return db
}

// storeTx stands in for a store's transaction: a ports.Tx that is also a ports.SQLTx. The
// queue only ever calls SQLTx on it.
type storeTx struct {
	ports.Tx
	tx *sql.Tx
}

func (s storeTx) SQLTx() *sql.Tx { return s.tx }

// plainTx is a ports.Tx that is not a ports.SQLTx.
type plainTx struct{ ports.Tx }

// inTx is the stores' InTx in miniature: commit when fn returns nil, else roll back.
func inTx(ctx context.Context, db *sql.DB, fn func(tx ports.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(storeTx{tx: tx}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// run is one dispatch as the test dispatcher saw it.
type run struct {
	ports.DispatchAttempt
	at time.Time
}

// id is the job's message ids, joined (the cases enqueue one message per job).
func (r run) id() string { return strings.Join(r.MessageIDs, ",") }

// harness is a started queue on a fresh database with a dispatcher the case programs.
type harness struct {
	t      testing.TB
	db     *sql.DB
	q      *Queue
	runs   chan run
	errLog *syncBuffer
}

type dispatchFunc func(ctx context.Context, h *harness, a ports.DispatchAttempt) error

type testDispatcher struct {
	h  *harness
	fn dispatchFunc
}

func (d *testDispatcher) Dispatch(ctx context.Context, a ports.DispatchAttempt) error {
	if d.h.runs != nil {
		d.h.runs <- run{DispatchAttempt: a, at: time.Now()}
	}
	return d.fn(ctx, d.h, a)
}

func newHarness(t testing.TB, b backend, fn dispatchFunc) *harness {
	t.Helper()
	return newHarnessWorkers(t, b, 4, true, fn)
}

// newHarnessWorkers is newHarness with the worker count, and without recording runs when
// record is false.
func newHarnessWorkers(t testing.TB, b backend, workers int, record bool, fn dispatchFunc) *harness {
	t.Helper()
	h := &harness{t: t, db: b.open(t), errLog: &syncBuffer{}}
	if record {
		h.runs = make(chan run, 100)
	}
	q, err := b.new(h.db, Options{
		Logger:     hclog.New(&hclog.LoggerOptions{Level: hclog.Error, Output: h.errLog}),
		Dispatcher: &testDispatcher{h: h, fn: fn},
		Workers:    workers,
	})
	if err != nil {
		t.Fatalf("new queue: %v", err)
	}
	h.q = q
	if err := q.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	// Registered after the database's cleanup, so it runs before the database closes.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		if err := q.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
		if s := h.errLog.String(); s != "" {
			t.Errorf("queue logged errors:\n%s", s)
		}
	})
	return h
}

func (h *harness) enqueue(commit bool, jobs ...ports.SendJob) {
	h.t.Helper()
	errRollback := errors.New("roll back")
	err := h.tryEnqueue(commit, errRollback, jobs...)
	if commit && err != nil || !commit && !errors.Is(err, errRollback) {
		h.t.Fatalf("enqueue (commit=%v): %v", commit, err)
	}
}

// tryEnqueue enqueues jobs with one EnqueueSends call in one transaction, rolled back with
// errRollback unless commit.
func (h *harness) tryEnqueue(commit bool, errRollback error, jobs ...ports.SendJob) error {
	return inTx(h.t.Context(), h.db, func(tx ports.Tx) error {
		if err := h.q.EnqueueSends(h.t.Context(), tx, jobs...); err != nil {
			return err
		}
		if !commit {
			return errRollback
		}
		return nil
	})
}

func (h *harness) next() run {
	h.t.Helper()
	select {
	case r := <-h.runs:
		return r
	case <-time.After(waitFor):
		h.t.Fatal("no dispatch in time")
		return run{}
	}
}

// noMoreRuns checks nothing else was dispatched (by the time the caller's own events say
// the queue would have done it).
func (h *harness) noMoreRuns() {
	h.t.Helper()
	select {
	case r := <-h.runs:
		h.t.Errorf("unexpected dispatch %+v", r.DispatchAttempt)
	default:
	}
}

// states returns the state of each send job by message id.
func (h *harness) states() map[string]string {
	h.t.Helper()
	rows, err := h.db.QueryContext(h.t.Context(), "SELECT args, state FROM river_job")
	if err != nil {
		h.t.Fatalf("query river_job: %v", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var raw []byte
		var state string
		if err := rows.Scan(&raw, &state); err != nil {
			h.t.Fatalf("scan river_job: %v", err)
		}
		var a sendArgs
		if err := json.Unmarshal(raw, &a); err != nil {
			h.t.Fatalf("decode args %s: %v", raw, err)
		}
		out[strings.Join(a.MessageIDs, ",")] = state
	}
	if err := rows.Err(); err != nil {
		h.t.Fatalf("read river_job: %v", err)
	}
	return out
}

// completedEvents subscribes to River's job-completed events.
func (h *harness) completedEvents() <-chan *river.Event {
	ch, cancel := h.q.client.Subscribe(river.EventKindJobCompleted)
	h.t.Cleanup(cancel)
	return ch
}

func waitCompleted(t *testing.T, events <-chan *river.Event, n int) {
	t.Helper()
	for range n {
		select {
		case <-events:
		case <-time.After(waitFor):
			t.Fatal("job not completed in time")
		}
	}
}

// completeInTx is what the core does when it finishes a job: Complete inside a store tx.
func completeInTx(ctx context.Context, h *harness, a ports.DispatchAttempt) error {
	return inTx(ctx, h.db, func(tx ports.Tx) error { return a.Complete(ctx, tx) })
}

func TestQueue(t *testing.T) {
	tests := []struct {
		name     string
		dispatch dispatchFunc
		check    func(t *testing.T, h *harness)
	}{
		{
			name:     "rolled back enqueue is never dispatched",
			dispatch: completeInTx,
			check: func(t *testing.T, h *harness) {
				done := h.completedEvents()
				h.enqueue(false, ports.SendJob{MessageIDs: []string{"m-rolled-back"}, MaxAttempts: 1})
				h.enqueue(true, ports.SendJob{MessageIDs: []string{"m-committed"}, MaxAttempts: 1})
				if r := h.next(); r.id() != "m-committed" {
					t.Fatalf("dispatched %q, want m-committed", r.id())
				}
				waitCompleted(t, done, 1)
				h.noMoreRuns()
				if got := h.states(); len(got) != 1 || got["m-committed"] != "completed" {
					t.Errorf("jobs = %v, want only m-committed completed", got)
				}
			},
		},
		{
			name:     "committed enqueue is dispatched once",
			dispatch: completeInTx,
			check: func(t *testing.T, h *harness) {
				done := h.completedEvents()
				h.enqueue(true, ports.SendJob{MessageIDs: []string{"m1"}, MaxAttempts: 3, Backoff: time.Millisecond})
				r := h.next()
				if r.id() != "m1" || r.Attempt != 1 || r.MaxAttempts != 3 {
					t.Errorf("dispatch = %+v, want m1 attempt 1 of 3", r.DispatchAttempt)
				}
				waitCompleted(t, done, 1)
				h.noMoreRuns()
			},
		},
		{
			name:     "jobs enqueued together are each dispatched once",
			dispatch: completeInTx,
			check: func(t *testing.T, h *harness) {
				done := h.completedEvents()
				h.enqueue(true,
					ports.SendJob{Provider: "twilio", MessageIDs: []string{"b1"}, MaxAttempts: 2},
					ports.SendJob{Provider: "flowroute", MessageIDs: []string{"b2"}, MaxAttempts: 2},
					ports.SendJob{MessageIDs: []string{"b3"}, MaxAttempts: 2})
				var got []string
				for range 3 {
					r := h.next()
					got = append(got, r.id()+"@"+r.Provider)
				}
				slices.Sort(got)
				// The provider travels with the job (failover jobs name theirs).
				if fmt.Sprint(got) != "[b1@twilio b2@flowroute b3@]" {
					t.Errorf("dispatched %v", got)
				}
				waitCompleted(t, done, 3)
				h.noMoreRuns()
			},
		},
		{
			name: "nil without Complete finishes the job too",
			dispatch: func(context.Context, *harness, ports.DispatchAttempt) error {
				return nil
			},
			check: func(t *testing.T, h *harness) {
				done := h.completedEvents()
				h.enqueue(true, ports.SendJob{MessageIDs: []string{"m1"}, MaxAttempts: 1})
				h.next()
				waitCompleted(t, done, 1)
				if got := h.states()["m1"]; got != "completed" {
					t.Errorf("state = %q, want completed", got)
				}
			},
		},
		{
			name:     "run at in the future waits",
			dispatch: completeInTx,
			check: func(t *testing.T, h *harness) {
				runAt := time.Now().Add(time.Second).Truncate(time.Millisecond)
				h.enqueue(true,
					ports.SendJob{MessageIDs: []string{"later"}, MaxAttempts: 1, RunAt: runAt},
					ports.SendJob{MessageIDs: []string{"far"}, MaxAttempts: 1, RunAt: time.Now().Add(time.Hour)},
				)
				h.enqueue(true, ports.SendJob{MessageIDs: []string{"now"}, MaxAttempts: 1})
				first, second := h.next(), h.next()
				if first.id() != "now" || second.id() != "later" {
					t.Fatalf("order = %s, %s; want now, later", first.id(), second.id())
				}
				if second.at.Before(runAt) {
					t.Errorf("later ran at %s, before its run at %s", second.at, runAt)
				}
				if got := h.states()["far"]; got != "scheduled" {
					t.Errorf("far job state = %q, want scheduled", got)
				}
				h.noMoreRuns()
			},
		},
		{
			name: "a provider's Retry-After delays the retry",
			dispatch: func(ctx context.Context, h *harness, a ports.DispatchAttempt) error {
				if a.Attempt == 1 {
					return fmt.Errorf("send: %w", &ports.ProviderError{Provider: "p", Class: ports.ClassRateLimited, RetryAfter: 700 * time.Millisecond})
				}
				return completeInTx(ctx, h, a)
			},
			check: func(t *testing.T, h *harness) {
				done := h.completedEvents()
				h.enqueue(true, ports.SendJob{MessageIDs: []string{"m1"}, MaxAttempts: 2, Backoff: time.Millisecond})
				first, second := h.next(), h.next()
				if gap := second.at.Sub(first.at); gap < 700*time.Millisecond {
					t.Errorf("retry %s after the first attempt, want at least the provider's Retry-After (700ms)", gap)
				}
				waitCompleted(t, done, 1)
				h.noMoreRuns()
			},
		},
		{
			name: "error retries with the next attempt",
			dispatch: func(ctx context.Context, h *harness, a ports.DispatchAttempt) error {
				if a.Attempt == 1 {
					return errors.New("provider unavailable")
				}
				return completeInTx(ctx, h, a)
			},
			check: func(t *testing.T, h *harness) {
				done := h.completedEvents()
				h.enqueue(true, ports.SendJob{MessageIDs: []string{"m1"}, MaxAttempts: 2, Backoff: time.Millisecond})
				first, second := h.next(), h.next()
				if first.Attempt != 1 || second.Attempt != 2 || second.MaxAttempts != 2 {
					t.Errorf("attempts = %d, %d (max %d); want 1, 2 (max 2)", first.Attempt, second.Attempt, second.MaxAttempts)
				}
				if second.at.Before(first.at) {
					t.Errorf("retry ran before the first attempt")
				}
				waitCompleted(t, done, 1)
				h.noMoreRuns()
			},
		},
		{
			name: "complete commits with the store transaction",
			dispatch: func(ctx context.Context, h *harness, a ports.DispatchAttempt) error {
				err := inTx(ctx, h.db, func(tx ports.Tx) error {
					if err := a.Complete(ctx, tx); err != nil {
						return err
					}
					if a.Attempt == 1 {
						return errors.New("store write failed") // rolls the completion back
					}
					return nil
				})
				if err != nil {
					return err
				}
				// Committed: the job is completed before River's own completion runs.
				var n int
				qerr := h.db.QueryRowContext(ctx, "SELECT count(*) FROM river_job WHERE state = 'completed'").Scan(&n)
				if qerr != nil || n != 1 {
					h.t.Errorf("completed jobs after commit = %d (%v), want 1", n, qerr)
				}
				return nil
			},
			check: func(t *testing.T, h *harness) {
				done := h.completedEvents()
				h.enqueue(true, ports.SendJob{MessageIDs: []string{"m1"}, MaxAttempts: 5, Backoff: time.Millisecond})
				if r := h.next(); r.Attempt != 1 {
					t.Fatalf("first attempt = %d", r.Attempt)
				}
				if r := h.next(); r.Attempt != 2 {
					t.Fatalf("second attempt = %d (rolled back completion must retry)", r.Attempt)
				}
				waitCompleted(t, done, 1)
				if got := h.states()["m1"]; got != "completed" {
					t.Errorf("state = %q, want completed", got)
				}
				h.noMoreRuns()
			},
		},
		{
			name: "complete needs an SQL transaction",
			dispatch: func(ctx context.Context, h *harness, a ports.DispatchAttempt) error {
				if err := a.Complete(ctx, plainTx{}); err == nil {
					h.t.Error("Complete with a non-SQL tx succeeded")
				}
				return nil
			},
			check: func(t *testing.T, h *harness) {
				done := h.completedEvents()
				if err := h.q.EnqueueSends(t.Context(), plainTx{}, ports.SendJob{MessageIDs: []string{"x"}, MaxAttempts: 1}); err == nil {
					t.Error("EnqueueSends with a non-SQL tx succeeded")
				}
				h.enqueue(true, ports.SendJob{MessageIDs: []string{"m1"}, MaxAttempts: 1})
				h.next()
				waitCompleted(t, done, 1)
			},
		},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					tt.check(t, newHarness(t, b, tt.dispatch))
				})
			}
		})
	}
}

func TestStop(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Run("drains running jobs", func(t *testing.T) {
				started, release := make(chan struct{}), make(chan struct{})
				var once sync.Once
				var finished atomic.Bool
				h := newHarness(t, b, func(ctx context.Context, h *harness, a ports.DispatchAttempt) error {
					once.Do(func() { close(started) })
					<-release
					if ctx.Err() != nil {
						h.t.Errorf("job cancelled during a graceful stop: %v", ctx.Err())
					}
					err := completeInTx(ctx, h, a)
					finished.Store(true)
					return err
				})
				h.enqueue(true, ports.SendJob{MessageIDs: []string{"m1"}, MaxAttempts: 1})
				<-started
				stopped := make(chan error, 1)
				go func() { stopped <- h.q.Stop(context.Background()) }()
				select {
				case err := <-stopped:
					t.Fatalf("Stop returned (%v) while a job was running", err)
				default:
				}
				close(release)
				if err := <-stopped; err != nil {
					t.Fatalf("stop: %v", err)
				}
				if !finished.Load() {
					t.Error("Stop returned before the running job finished")
				}
				if got := h.states()["m1"]; got != "completed" {
					t.Errorf("state = %q, want completed", got)
				}
			})
			t.Run("cancels running jobs when ctx expires", func(t *testing.T) {
				started := make(chan struct{})
				var once sync.Once
				h := newHarness(t, b, func(ctx context.Context, h *harness, a ports.DispatchAttempt) error {
					once.Do(func() { close(started) })
					<-ctx.Done()
					return ctx.Err()
				})
				h.enqueue(true, ports.SendJob{MessageIDs: []string{"m1"}, MaxAttempts: 1, Backoff: time.Hour})
				<-started
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				if err := h.q.Stop(ctx); !errors.Is(err, context.Canceled) {
					t.Errorf("stop = %v, want context.Canceled", err)
				}
				// Not lost: back in the queue for a later run (River MaxAttempts has headroom).
				if got := h.states()["m1"]; got != "retryable" {
					t.Errorf("state = %q, want retryable", got)
				}
			})
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		base     time.Duration
		attempt  int
		min, max time.Duration
	}{
		{0, 1, 500 * time.Millisecond, time.Second},
		{time.Second, 1, 500 * time.Millisecond, time.Second},
		{time.Second, 3, 2 * time.Second, 4 * time.Second},
		{time.Millisecond, 2, time.Millisecond, 2 * time.Millisecond},
		{time.Second, 11, maxBackoff / 2, maxBackoff},
		{time.Second, 200, maxBackoff / 2, maxBackoff},
		{time.Hour, 1, maxBackoff / 2, maxBackoff},
	}
	for _, tt := range tests {
		for range 50 {
			if d := backoff(tt.base, tt.attempt); d < tt.min || d > tt.max {
				t.Errorf("backoff(%s, %d) = %s, want in [%s, %s]", tt.base, tt.attempt, d, tt.min, tt.max)
			}
		}
	}
}

// BenchmarkSend measures sends through the queue: each enqueued in its own committed
// transaction (as the API does), each completed in a store transaction (as the core does).
func BenchmarkSend(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			var done atomic.Int64
			all := make(chan struct{})
			h := newHarnessWorkers(b, be, defaultWorkers, false, func(ctx context.Context, h *harness, a ports.DispatchAttempt) error {
				if err := completeInTx(ctx, h, a); err != nil {
					return err
				}
				if done.Add(1) == int64(b.N) {
					close(all)
				}
				return nil
			})
			b.ResetTimer()
			var wg sync.WaitGroup
			next := atomic.Int64{}
			for range 16 {
				wg.Go(func() {
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						if err := h.tryEnqueue(true, nil, ports.SendJob{MessageIDs: []string{fmt.Sprint("m", i)}, MaxAttempts: 1}); err != nil {
							b.Errorf("enqueue: %v", err)
							return
						}
					}
				})
			}
			wg.Wait()
			select {
			case <-all:
			case <-time.After(5 * time.Minute):
				b.Fatalf("%d of %d jobs done", done.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestLogHandler(t *testing.T) {
	tests := []struct {
		name  string
		level hclog.Level
		log   func(l *slog.Logger)
		want  []string // substrings of the output, in order; none means no output
	}{
		{
			name:  "warn passes with attributes and groups",
			level: hclog.Info,
			log: func(l *slog.Logger) {
				l.With("client", "c1").WithGroup("job").Warn("Job errored", "id", 7, slog.Group("err", "msg", "boom"))
			},
			want: []string{"[WARN]", "Job errored", "client=c1", "job.id=7", "job.err.msg=boom"},
		},
		{
			name:  "info becomes debug and is filtered at info",
			level: hclog.Info,
			log:   func(l *slog.Logger) { l.Info("River client started") },
		},
		{
			name:  "info shows at debug",
			level: hclog.Debug,
			log:   func(l *slog.Logger) { l.Info("River client started") },
			want:  []string{"[DEBUG]", "River client started"},
		},
		{
			name:  "error stays error",
			level: hclog.Error,
			log:   func(l *slog.Logger) { l.Error("Error completing batch", "err", "x") },
			want:  []string{"[ERROR]", "Error completing batch", "err=x"},
		},
		{
			name:  "a canceled context at stop is not an error",
			level: hclog.Info,
			log: func(l *slog.Logger) {
				l.Error("Error starting transaction", "error", fmt.Errorf("begin: %w", context.Canceled))
				l.Error("Error starting transaction", "error", "context canceled")
			},
		},
		{
			name:  "and shows at debug",
			level: hclog.Debug,
			log:   func(l *slog.Logger) { l.Error("Error starting transaction", "error", context.Canceled) },
			want:  []string{"[DEBUG]", "Error starting transaction"},
		},
		{
			name:  "other errors stay errors",
			level: hclog.Info,
			log:   func(l *slog.Logger) { l.Error("Error starting transaction", "error", errors.New("connection refused")) },
			want:  []string{"[ERROR]", "connection refused"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(slog.New(newLogHandler(hclog.New(&hclog.LoggerOptions{Level: tt.level, Output: &buf}))))
			out := buf.String()
			if len(tt.want) == 0 && out != "" {
				t.Fatalf("logged %q, want nothing", out)
			}
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output %q lacks %q (in order)", out, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
