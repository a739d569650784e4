package pluginhost

import (
	"context"
	"errors"
	"time"

	"github.com/smsgw/smsgw/ports"
)

// supervise relaunches the plugin when it dies. It looks on every tick (Exited is a cheap
// flag) and, woken by a failed call or a broken event stream, also asks the plugin's gRPC
// health service, which catches a live process whose connection is gone.
func (p *provider) supervise(ctx context.Context) {
	tick := time.NewTicker(p.opts.CheckInterval)
	defer tick.Stop()
	for {
		woken := false
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-p.wake:
			woken = true
		}
		inst := p.current()
		if inst == nil {
			continue // Close took it
		}
		if !inst.client.Exited() && (!woken || inst.alive(ctx)) {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		p.restart(ctx, inst)
	}
}

// restart replaces a dead instance. The provider is unhealthy (sends answer ClassUnavailable)
// from the first moment until the new process is configured.
func (p *provider) restart(ctx context.Context, dead *instance) {
	p.log.Warn("plugin died; restarting", "pid", dead.pid())
	p.setInstance(nil, false)
	dead.close()
	b := newBackoff(p.opts.RestartBackoff)
	for attempt := 1; ; attempt++ {
		if !sleep(ctx, b.delay()) {
			return
		}
		inst, err := launch(ctx, p.opts, p.cfg)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.log.Error("plugin restart failed", "attempt", attempt, "error", err)
			continue
		}
		p.setInstance(inst, true)
		p.log.Info("plugin restarted", "attempt", attempt, "pid", inst.pid(), "version", inst.info.Version)
		select {
		case p.reconcile <- struct{}{}:
		default: // one is pending already, and it runs after this restart
		}
		return
	}
}

// reconcileRestarts tells the core about each restart, so it can poll for statuses the
// dead process never streamed. Retried until it succeeds: a lost call would leave messages
// waiting for a status that never comes.
func (p *provider) reconcileRestarts(ctx context.Context, h ports.ProviderEventHandler) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.reconcile:
		}
		b := newBackoff(Backoff{Min: handlerRetryMin, Max: handlerRetryMax})
		for {
			err := h.ProviderRestarted(ctx, p.cfg.Name)
			if err == nil || ctx.Err() != nil {
				break
			}
			p.log.Warn("reconcile after restart failed; retrying", "error", err)
			if !sleep(ctx, b.delay()) {
				return
			}
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

var errNoHandler = errors.New("pluginhost: Run needs a ProviderEventHandler")
