package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/ports"
)

// errDown is the cause given for calls to a provider whose plugin is not running.
var errDown = errors.New("plugin is not running (restarting)")

// provider is the host's state for one configured provider.
type provider struct {
	cfg     ProviderConfig
	opts    Options
	log     hclog.Logger
	metrics providerMetrics
	batch   *batcher

	// wake asks the supervisor to check the plugin now (a call failed, a stream broke).
	wake chan struct{}
	// reconcile asks for handler.ProviderRestarted; coalesced, so none is lost or doubled.
	reconcile chan struct{}

	mu       sync.Mutex
	inst     *instance     // nil while the plugin is down
	info     sdk.Info      // the last Info, kept while down for List
	restarts int           // successful relaunches
	changed  chan struct{} // closed and replaced on every change of inst

	batchesSent, batchesFailed   atomic.Int64
	messagesSent, messagesFailed atomic.Int64
}

func newProvider(cfg ProviderConfig, opts Options, m *metrics) *provider {
	p := &provider{
		cfg:       cfg,
		opts:      opts,
		log:       opts.Logger.Named("pluginhost").With("provider", cfg.Name),
		metrics:   m.forProvider(cfg.Name),
		wake:      make(chan struct{}, 1),
		reconcile: make(chan struct{}, 1),
		changed:   make(chan struct{}),
	}
	p.batch = newBatcher(cfg.Name, p.batchLimit, cfg.Batch.Linger, p.sendBatch)
	p.metrics.healthy.Set(0)
	return p
}

// current is the running instance, nil while down.
func (p *provider) current() *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inst
}

// watch is current plus a channel closed at the next change of instance.
func (p *provider) watch() (*instance, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inst, p.changed
}

// setInstance switches to inst (nil: down) and returns the previous one.
func (p *provider) setInstance(inst *instance, restarted bool) *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.inst
	p.inst = inst
	if inst != nil {
		p.info = inst.info
		p.metrics.healthy.Set(1)
	} else {
		p.metrics.healthy.Set(0)
	}
	if restarted {
		p.restarts++
		p.metrics.restarts.Inc()
	}
	close(p.changed)
	p.changed = make(chan struct{})
	return old
}

func (p *provider) healthy() bool { return p.current() != nil }

// suspect wakes the supervisor after a failure that may mean the plugin died.
func (p *provider) suspect() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// batchLimit is min(plugin max_batch, batch.max_size), at least 1.
func (p *provider) batchLimit() int {
	p.mu.Lock()
	limit := p.info.Capabilities.MaxBatch
	p.mu.Unlock()
	limit = max(limit, 1)
	if p.cfg.Batch.MaxSize > 0 {
		limit = min(limit, p.cfg.Batch.MaxSize)
	}
	return limit
}

// sendBatch makes one plugin Send call and classifies its results. Every message gets an
// outcome; counters and metrics are updated here, once per call.
func (p *provider) sendBatch(ctx context.Context, msgs []sdk.OutboundMessage) []outcome {
	outs := make([]outcome, len(msgs))
	inst := p.current()
	if inst == nil {
		err := unavailable(p.cfg.Name, errDown)
		for i := range outs {
			outs[i].err = err
		}
		p.countFailed(len(msgs))
		return outs
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	defer cancel()
	p.metrics.batchSize.Observe(float64(len(msgs)))
	results, err := inst.rpc.Send(ctx, msgs)
	if err == nil && len(results) != len(msgs) {
		err = &sdk.Error{Class: sdk.ClassAmbiguous, Message: fmt.Sprintf("plugin send: %d results for %d messages", len(results), len(msgs))}
	}
	if err != nil {
		perr := sendError(p.cfg.Name, err)
		if perr.Class == ports.ClassAmbiguous || perr.Class == ports.ClassUnavailable {
			p.suspect()
		}
		for i := range outs {
			outs[i].err = perr
		}
		p.batchesFailed.Add(1)
		p.metrics.batchesFailed.Inc()
		p.countFailed(len(msgs))
		return outs
	}
	p.batchesSent.Add(1)
	p.metrics.batchesSent.Inc()
	var sent int
	for i, r := range results {
		if r.Err != nil {
			outs[i].err = providerError(p.cfg.Name, r.Err)
			continue
		}
		outs[i].res = sendResultToPorts(r)
		sent++
	}
	p.messagesSent.Add(int64(sent))
	p.metrics.messagesSent.Add(float64(sent))
	p.countFailed(len(msgs) - sent)
	return outs
}

func (p *provider) countFailed(n int) {
	p.messagesFailed.Add(int64(n))
	p.metrics.messagesFailed.Add(float64(n))
}

// callError converts the failure of a non-Send call.
func (p *provider) callError(op string, err error) error {
	var se *sdk.Error
	switch {
	case errors.Is(err, sdk.ErrUnimplemented):
		return fmt.Errorf("provider %s: %s: %w", p.cfg.Name, op, ports.ErrNotImplemented)
	case errors.As(err, &se):
		return fmt.Errorf("%s: %w", op, providerError(p.cfg.Name, se))
	default:
		// Transport trouble or an unclassified plugin failure: worth a retry, and worth a look
		// by the supervisor in case the process is gone.
		p.suspect()
		return fmt.Errorf("provider %s: %s: %w: %w", p.cfg.Name, op, ports.ErrUnavailable, err)
	}
}

func (p *provider) describe() ports.ProviderInfo {
	p.mu.Lock()
	info, healthy, restarts := p.info, p.inst != nil, p.restarts
	p.mu.Unlock()
	return ports.ProviderInfo{
		Name:     p.cfg.Name,
		Plugin:   filepath.Base(p.cfg.Plugin),
		Version:  info.Version,
		Healthy:  healthy,
		Restarts: restarts,
		// Breaker: the gateway's, which sees every send outcome (core/routing.Breaker).
		Capabilities: ports.ProviderCapabilities{
			// What the gateway actually does, i.e. after batch.max_size.
			MaxBatch:   p.batchLimit(),
			StatusPoll: info.Capabilities.StatusPoll,
			Balance:    info.Capabilities.Balance,
			Inbound:    info.Capabilities.Inbound,
		},
		Stats: ports.ProviderStats{
			BatchesSent:    p.batchesSent.Load(),
			BatchesFailed:  p.batchesFailed.Load(),
			MessagesSent:   p.messagesSent.Load(),
			MessagesFailed: p.messagesFailed.Load(),
		},
	}
}
