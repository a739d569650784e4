package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// RefreshResult is what a status refresh did: how many messages it asked their provider
// about, and how many of them changed status.
type RefreshResult struct{ Checked, Updated int }

// RefreshWindow is how far back a status refresh looks unless told (API.md §1: 7 days).
const RefreshWindow = 7 * 24 * time.Hour

// refreshPage is how many messages one poll asks a provider about.
const refreshPage = 100

// RefreshStatuses asks each provider that can be polled for the current status of every
// outbound message of the account ("" = every account) created at or after since (zero:
// RefreshWindow ago) that the provider took and that has no final status yet, and applies
// the answers as any status report (dedupe, never backwards, an event each). It reports
// what it did. A provider whose refresh fails does not stop the others: the errors are
// joined and returned with the counts of what was done (one from a provider that cannot be
// polled now wraps ErrUnavailable); only the end of ctx stops the loop.
func (g *Gateway) RefreshStatuses(ctx context.Context, accountID string, since time.Time) (RefreshResult, error) {
	if since.IsZero() {
		since = g.now().Add(-RefreshWindow)
	}
	var (
		total RefreshResult
		errs  []error
	)
	for _, p := range g.providers.List(ctx) {
		if !p.Capabilities.StatusPoll {
			continue
		}
		r, _, err := g.refreshProvider(ctx, ports.AwaitingQuery{Provider: p.Name, AccountID: accountID, Since: since})
		total.Checked += r.Checked
		total.Updated += r.Updated
		if err != nil {
			if ctx.Err() != nil {
				return total, err
			}
			errs = append(errs, err)
		}
	}
	return total, errors.Join(errs...)
}

// StatusCounts counts the account's messages (both directions) per UTC day of creation and
// status, for messages created from start to end, both inclusive (API.md §1).
func (g *Gateway) StatusCounts(ctx context.Context, accountID string, start, end time.Time) (map[string]map[message.Status]int, error) {
	if end.Before(start) {
		return nil, message.Invalid("end", "end must not be before start")
	}
	counts, err := g.store.CountStatuses(ctx, accountID, start, end)
	if err != nil {
		return nil, fmt.Errorf("count statuses of %s: %w", accountID, err)
	}
	return counts, nil
}

// ProviderRestarted reconciles after a plugin restart: a dead plugin process may have lost
// status events it had not streamed yet, so every recent message of that provider still
// waiting for a status is polled (when the plugin can be polled).
func (g *Gateway) ProviderRestarted(ctx context.Context, provider string) error {
	_, _, err := g.refreshProvider(ctx, ports.AwaitingQuery{Provider: provider, Since: g.now().Add(-g.cfg.ReconcileWindow)})
	return err
}

// RefreshPeriodic is the periodic refresh (status_refresh_interval): RefreshStatuses of
// every account over RefreshWindow, except that a run cut off by ctx (the job's time
// budget) leaves, per provider, the position it reached, and the next run of this process
// starts there; a run that reaches the end starts the next one from the beginning. With
// more waiting messages than one run can poll, each is reached in turn, instead of the
// oldest again and again while the newest starve. (Each replica keeps its own positions: a
// run on another replica only repeats some polls, which dedupe makes harmless.)
func (g *Gateway) RefreshPeriodic(ctx context.Context) (RefreshResult, error) {
	since := g.now().Add(-RefreshWindow)
	var (
		total  RefreshResult
		errs   []error
		polled []string
	)
	for _, p := range g.providers.List(ctx) {
		if p.Capabilities.StatusPoll {
			polled = append(polled, p.Name)
		}
	}
	// The provider after the one the last run was cut off in goes first (that one comes
	// last, from where it stopped), so one provider with a long backlog cannot take every
	// run's budget from the others.
	g.refreshMu.Lock()
	if i := slices.Index(polled, g.refreshFirst); i > 0 {
		polled = append(polled[i:], polled[:i]...)
	}
	g.refreshMu.Unlock()
	for i, name := range polled {
		g.refreshMu.Lock()
		from := g.refreshFrom[name]
		g.refreshMu.Unlock()
		if from != nil && from.CreatedAt.Before(since) {
			from = nil // the window has moved past it
		}
		r, reached, err := g.refreshProvider(ctx, ports.AwaitingQuery{Provider: name, Since: since, After: from})
		total.Checked += r.Checked
		total.Updated += r.Updated
		cutOff := ctx.Err() != nil
		g.refreshMu.Lock()
		switch {
		case cutOff:
			if reached != nil {
				g.refreshFrom[name] = reached
			}
			g.refreshFirst = polled[(i+1)%len(polled)]
		case err == nil:
			delete(g.refreshFrom, name) // at the end: the next run starts from the beginning
		}
		g.refreshMu.Unlock()
		if err != nil {
			if cutOff {
				return total, err
			}
			errs = append(errs, err)
		}
	}
	g.refreshMu.Lock()
	g.refreshFirst = "" // a whole run: the config order again
	g.refreshMu.Unlock()
	return total, errors.Join(errs...)
}

// refreshProvider polls q.Provider, page by page, for every message q selects and applies
// the answers. A provider without polling is not an error: there is nothing to do. It also
// returns the position after the last page it applied (q.After when none), from which a
// later call can go on.
func (g *Gateway) refreshProvider(ctx context.Context, q ports.AwaitingQuery) (RefreshResult, *ports.Cursor, error) {
	var res RefreshResult
	q.Limit = refreshPage
	for {
		ms, err := g.store.ListAwaitingStatus(ctx, q)
		if err != nil {
			return res, q.After, fmt.Errorf("list messages awaiting a status from %s: %w", q.Provider, err)
		}
		if len(ms) == 0 {
			return res, q.After, nil
		}
		ids := make([]string, len(ms))
		for i, m := range ms {
			ids[i] = m.ProviderMessageID
		}
		reports, err := g.providers.PollStatus(ctx, q.Provider, ids)
		switch {
		case errors.Is(err, ports.ErrNotImplemented):
			return res, q.After, nil
		case err != nil:
			return res, q.After, fmt.Errorf("poll %d status(es) of %s: %w: %w", len(ids), q.Provider, ports.ErrUnavailable, err)
		}
		a := g.applyReports(ctx, q.Provider, reports)
		res.Checked += len(ms)
		res.Updated += a.updated
		for _, err := range a.errs {
			// A message deleted meanwhile, or another system's id: nothing to apply.
			if err != nil && !errors.Is(err, ports.ErrNotFound) {
				return res, q.After, err
			}
		}
		last := ms[len(ms)-1]
		q.After = &ports.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
		if len(ms) < q.Limit {
			return res, q.After, nil
		}
	}
}
