// Package pluginhost runs the provider plugins named in the config as go-plugin processes and
// offers them to the core as ports.Providers: it verifies and launches each binary, batches
// concurrent sends, streams plugin events to the core, and relaunches plugins that die.
package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/ports"
)

var _ ports.Providers = (*Host)(nil)

// Host owns the provider plugin processes. Start it, Run it with the core's event handler,
// and Close it after the queue has drained (shutdown: readiness off → HTTP Shutdown → River
// Stop → Host.Close → DB Close).
type Host struct {
	providers []*provider // config order
	byName    map[string]*provider

	life     context.Context // ends at Close: batchers and in-flight batches
	stopLife context.CancelFunc
	wg       sync.WaitGroup

	mu      sync.Mutex
	running bool
	closed  bool
	stopRun context.CancelFunc

	closeOnce sync.Once
}

// Start verifies every provider's binary, then launches each plugin and runs Info and
// Configure. Any failure stops the plugins already started and returns an *Error naming the
// provider. ctx bounds start-up, as does Options.StartTimeout per plugin.
func Start(ctx context.Context, opts Options) (*Host, error) {
	opts = opts.withDefaults()
	seen := make(map[string]bool, len(opts.Providers))
	for _, cfg := range opts.Providers {
		if cfg.Name == "" {
			return nil, errors.New("provider with an empty name")
		}
		if seen[cfg.Name] {
			return nil, &Error{Provider: cfg.Name, Err: errors.New("configured twice")}
		}
		seen[cfg.Name] = true
		// All binaries first, so a typo in the last block fails before any process starts.
		if err := Verify(cfg); err != nil {
			return nil, err
		}
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	h := &Host{byName: make(map[string]*provider, len(opts.Providers))}
	h.life, h.stopLife = context.WithCancel(context.Background())
	for _, cfg := range opts.Providers {
		inst, err := launch(ctx, opts, cfg)
		if err != nil {
			h.Close()
			return nil, err
		}
		p := newProvider(cfg, opts, m)
		p.setInstance(inst, false)
		p.log.Info("plugin started", "pid", inst.pid(), "version", inst.info.Version,
			"max_batch", p.batchLimit(), "event_stream", inst.info.Capabilities.EventStream)
		h.providers = append(h.providers, p)
		h.byName[cfg.Name] = p
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			p.batch.run(h.life)
		}()
	}
	return h, nil
}

// Run starts, per provider, the supervisor (relaunch on death, then handler.ProviderRestarted)
// and the event-stream subscriber (each event to handler.HandleProviderEvent), and calls
// handler.ProviderRestarted once at start-up. It returns at once; the goroutines stop when
// ctx ends or at Close.
func (h *Host) Run(ctx context.Context, handler ports.ProviderEventHandler) error {
	if handler == nil {
		return errNoHandler
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("pluginhost: Run after Close")
	}
	if h.running {
		return errors.New("pluginhost: Run called twice")
	}
	h.running = true
	ctx, h.stopRun = context.WithCancel(ctx)
	for _, p := range h.providers {
		// Reconcile once at start-up too: the plugin processes of a previous gateway process
		// (killed, crashed) may have died holding status events they never streamed.
		select {
		case p.reconcile <- struct{}{}:
		default:
		}
		h.wg.Add(3)
		go func() {
			defer h.wg.Done()
			p.supervise(ctx)
		}()
		go func() {
			defer h.wg.Done()
			p.subscribe(ctx, handler)
		}()
		go func() {
			defer h.wg.Done()
			p.reconcileRestarts(ctx, handler)
		}()
	}
	return nil
}

// Close stops supervision and batching, kills every plugin (gracefully where it cooperates,
// in parallel) and waits for all of it. Queued sends answer ClassUnavailable. Idempotent.
func (h *Host) Close() {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		stopRun := h.stopRun
		h.mu.Unlock()
		if stopRun != nil {
			stopRun()
		}
		h.stopLife()
		h.wg.Wait()
		var kills sync.WaitGroup
		for _, p := range h.providers {
			if inst := p.setInstance(nil, false); inst != nil {
				kills.Add(1)
				go func() {
					defer kills.Done()
					inst.close()
				}()
			}
		}
		kills.Wait()
	})
}

func (h *Host) lookup(name string) (*provider, error) {
	p, ok := h.byName[name]
	if !ok {
		return nil, fmt.Errorf("provider %q: %w", name, ports.ErrNotFound)
	}
	return p, nil
}

// live is lookup plus the live instance; a provider that is down answers
// ClassUnavailable (which also matches ports.ErrUnavailable).
func (h *Host) live(name string) (*provider, *instance, error) {
	p, err := h.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	inst := p.current()
	if inst == nil {
		return nil, nil, unavailable(name, errDown)
	}
	return p, inst, nil
}

// Send hands m to the provider through its batching aggregator (see batcher). Failures are
// *ports.ProviderError: ClassUnavailable when the plugin is down or the message never left,
// ClassAmbiguous when the call broke off or the caller gave up mid-flight.
func (h *Host) Send(ctx context.Context, name string, m message.Message) (ports.SendResult, error) {
	p, err := h.lookup(name)
	if err != nil {
		return ports.SendResult{}, err
	}
	if !p.healthy() {
		p.countFailed(1)
		return ports.SendResult{}, unavailable(name, errDown)
	}
	out := toOutbound(m)
	if p.batchLimit() == 1 {
		// Nothing to group: skip the queue and its in-flight limit, and let the caller's ctx
		// bound the call itself.
		o := p.sendBatch(ctx, []sdk.OutboundMessage{out})[0]
		return o.res, o.err
	}
	return p.batch.submit(ctx, out)
}

// PollStatus asks the plugin for current statuses; ErrNotImplemented when it cannot poll.
func (h *Host) PollStatus(ctx context.Context, name string, providerMessageIDs []string) ([]ports.StatusReport, error) {
	p, inst, err := h.live(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	defer cancel()
	ups, err := inst.rpc.PollStatus(ctx, providerMessageIDs)
	if err != nil {
		return nil, p.callError("poll status", err)
	}
	return statusesToPorts(ups), nil
}

// HandleWebhook passes a raw webhook to the plugin to verify and parse.
func (h *Host) HandleWebhook(ctx context.Context, name string, req ports.WebhookRequest) (ports.WebhookResult, error) {
	p, inst, err := h.live(name)
	if err != nil {
		return ports.WebhookResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	defer cancel()
	resp, err := inst.rpc.HandleWebhook(ctx, webhookRequestToSDK(req))
	if err != nil {
		return ports.WebhookResult{}, p.callError("handle webhook", err)
	}
	return webhookResultToPorts(resp), nil
}

// Balance reports the provider account balance; ErrNotImplemented when the plugin has none.
func (h *Host) Balance(ctx context.Context, name string) (ports.Balance, error) {
	p, inst, err := h.live(name)
	if err != nil {
		return ports.Balance{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.CallTimeout)
	defer cancel()
	b, err := inst.rpc.Balance(ctx)
	if err != nil {
		return ports.Balance{}, p.callError("balance", err)
	}
	return ports.Balance{Amount: b.Amount, Currency: b.Currency}, nil
}

// List describes every configured provider, in config order.
func (h *Host) List(context.Context) []ports.ProviderInfo {
	out := make([]ports.ProviderInfo, len(h.providers))
	for i, p := range h.providers {
		out[i] = p.describe()
	}
	return out
}

// Healthy reports whether the provider's plugin is up and configured; false for unknown names.
func (h *Host) Healthy(name string) bool {
	p, ok := h.byName[name]
	return ok && p.healthy()
}
