package queue

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/smsgw/smsgw/ports"
)

const (
	sendKind = "smsgw.send"

	defaultBackoff = time.Second
	maxBackoff     = 10 * time.Minute

	// attemptHeadroom is added to the provider's max attempts to get River's. The core ends
	// a send itself (fails it, completing the job) at Attempt >= MaxAttempts, so River's
	// limit is only reached by runs that failed before the core could record anything:
	// store unreachable, process killed mid-run (rescued jobs count an attempt), a commit
	// that failed. River discards a job at its limit, which would leave the message stuck in
	// queued/sending for good; 20 more attempts at the capped backoff ride out an outage of
	// a few hours.
	attemptHeadroom = 20
)

// sendArgs are the JSON args of a send job: the messages accepted together for one provider.
type sendArgs struct {
	Provider   string   `json:"provider,omitempty"`
	MessageIDs []string `json:"message_ids"`
	// MaxAttempts is the provider's retry.max_attempts, what the core decides failure on.
	MaxAttempts int `json:"max_attempts"`
	// Backoff is the base of the retry backoff (nanoseconds in JSON); 0 means 1s.
	Backoff time.Duration `json:"backoff_ns,omitempty"`
}

func (sendArgs) Kind() string { return sendKind }

// sendWorker runs send jobs through the dispatcher.
type sendWorker struct {
	river.WorkerDefaults[sendArgs]
	dispatcher Dispatcher
	// retryAfter holds, per job id, the wait a provider asked for (Retry-After) on the
	// attempt that just failed, for NextRetry, which River calls right after Work returns
	// and which sees the job only.
	retryAfter sync.Map // int64 -> time.Duration
	// complete is river.JobCompleteTx for the client's driver type.
	complete func(ctx context.Context, tx *sql.Tx, job *river.Job[sendArgs]) error
}

// Work hands the job to the dispatcher. When the dispatcher has completed the job inside its
// own transaction (Complete), River's completion after a nil return finds the job no longer
// running and changes nothing.
func (w *sendWorker) Work(ctx context.Context, job *river.Job[sendArgs]) error {
	w.retryAfter.Delete(job.ID)
	err := w.dispatch(ctx, job)
	var pe *ports.ProviderError
	if errors.As(err, &pe) && pe.RetryAfter > 0 {
		w.retryAfter.Store(job.ID, pe.RetryAfter)
	}
	return err
}

func (w *sendWorker) dispatch(ctx context.Context, job *river.Job[sendArgs]) error {
	workCtx := ctx
	return w.dispatcher.Dispatch(ctx, ports.DispatchAttempt{
		Provider:    job.Args.Provider,
		MessageIDs:  job.Args.MessageIDs,
		Attempt:     job.Attempt,
		MaxAttempts: job.Args.MaxAttempts,
		Complete: func(ctx context.Context, tx ports.Tx) error {
			stx, ok := ports.SQLTxOf(tx)
			if !ok {
				return fmt.Errorf("complete send job %d: transaction %T does not implement ports.SQLTx", job.ID, tx)
			}
			// JobCompleteTx finds its client in the context's values: take them from the
			// work context, whatever context the caller derived.
			if err := w.complete(workValues{Context: ctx, values: workCtx}, stx, job); err != nil {
				return fmt.Errorf("complete send job %d: %w", job.ID, err)
			}
			return nil
		},
	})
}

// NextRetry waits base*2^(attempt-1), capped at maxBackoff, with equal jitter: half of it
// fixed, half random, so retries of a burst spread out but never come too early — or the
// provider's Retry-After when that is longer (capped at maxBackoff too).
func (w *sendWorker) NextRetry(job *river.Job[sendArgs]) time.Time {
	d := backoff(job.Args.Backoff, job.Attempt)
	if v, ok := w.retryAfter.LoadAndDelete(job.ID); ok {
		d = max(d, min(v.(time.Duration), maxBackoff))
	}
	return time.Now().Add(d)
}

func backoff(base time.Duration, attempt int) time.Duration {
	d := backoffCap(base, attempt)
	half := d / 2
	return half + rand.N(d-half+1)
}

// backoffCap is the longest wait backoff gives: base*2^(attempt-1), capped at maxBackoff.
func backoffCap(base time.Duration, attempt int) time.Duration {
	if base <= 0 {
		base = defaultBackoff
	}
	d := maxBackoff
	if shift := attempt - 1; shift < 32 && base <= maxBackoff>>max(shift, 0) {
		d = base << max(shift, 0)
	}
	return d
}

// workValues has the deadline and cancellation of Context and the values of values.
type workValues struct {
	context.Context
	values context.Context
}

func (c workValues) Value(key any) any { return c.values.Value(key) }
