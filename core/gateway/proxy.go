package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/optout"
	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/core/routing"
	"github.com/smsgw/smsgw/ports"
)

// ErrNoProxyNumber: no pool number is free for a new session under the allocation mode
// (409 no_proxy_number_available).
var ErrNoProxyNumber = fmt.Errorf("no proxy number available: %w", ports.ErrConflict)

// ProxyConfig is the proxy block: how sessions get their number and what the gateway
// itself says in them.
type ProxyConfig struct {
	Allocation       proxy.Allocation // zero: Shared
	OrgName          string           // prefixes the system messages, in capitals
	StartMessage     string           // to both participants when a session opens ("" = none)
	EndMessage       string           // to both when it is closed through the API ("" = none)
	NoSessionMessage string           // to a sender without an open session ("" = none)
}

// ProxyPool is an account's pool with its use (GET /v1/proxy/numbers).
type ProxyPool struct {
	Numbers   []proxy.Usage
	PoolSize  int
	InUse     int // numbers with at least one open session
	Available int // PoolSize − InUse
}

// AddProxyNumber adds a number, reached through provider, to the account's pool. The number
// must be E.164 and the provider configured (field errors); a number already in a pool is
// ErrConflict.
func (g *Gateway) AddProxyNumber(ctx context.Context, accountID, number, provider string) (proxy.Number, error) {
	n, err := e164Field("number", number)
	if err != nil {
		return proxy.Number{}, err
	}
	if provider == "" {
		return proxy.Number{}, message.Missing("provider")
	}
	if !g.router.Known(provider) {
		return proxy.Number{}, message.Invalid("provider", "provider %q is not configured", provider)
	}
	pn := proxy.Number{Number: n, Provider: provider, AccountID: accountID, CreatedAt: g.now()}
	err = g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		return tx.AddProxyNumber(ctx, pn)
	})
	if err != nil {
		return proxy.Number{}, fmt.Errorf("add proxy number %s: %w", n, err)
	}
	return pn, nil
}

// ProxyNumbers describes the account's pool.
func (g *Gateway) ProxyNumbers(ctx context.Context, accountID string) (ProxyPool, error) {
	us, err := g.store.ListProxyNumbers(ctx, accountID, g.now())
	if err != nil {
		return ProxyPool{}, fmt.Errorf("list proxy numbers of %s: %w", accountID, err)
	}
	p := ProxyPool{Numbers: us, PoolSize: len(us)}
	for _, u := range us {
		if u.Sessions() > 0 {
			p.InUse++
		}
	}
	p.Available = p.PoolSize - p.InUse
	return p, nil
}

// RemoveProxyNumber takes a number out of the account's pool: ErrConflict while an open
// session uses it, ErrNotFound when the account has no such number.
func (g *Gateway) RemoveProxyNumber(ctx context.Context, accountID, number string) error {
	return g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		pool, err := tx.LockProxyPool(ctx, accountID, g.now())
		if err != nil {
			return fmt.Errorf("lock the proxy pool of %s: %w", accountID, err)
		}
		for _, u := range pool {
			if u.Number.Number == number && u.Sessions() > 0 {
				return fmt.Errorf("remove proxy number %s: %d open session(s) use it: %w", number, u.Sessions(), ports.ErrConflict)
			}
		}
		if err := tx.RemoveProxyNumber(ctx, accountID, number); err != nil {
			return fmt.Errorf("remove proxy number %s: %w", number, err)
		}
		return nil
	})
}

// ProxySessionCommand opens a session.
type ProxySessionCommand struct {
	AccountID    string
	ParticipantA string
	ParticipantB string
	TTL          time.Duration // 0: no expiry
}

// CreateProxySession opens a session between two numbers over a pool number picked by the
// allocation mode, and sends the start message to both, in one transaction: the pool is
// locked meanwhile, so concurrent creations (on any replica) never share a number they may
// not share. ErrNoProxyNumber when none is free.
func (g *Gateway) CreateProxySession(ctx context.Context, cmd ProxySessionCommand) (proxy.Session, error) {
	a, err := e164Field("participant_a", cmd.ParticipantA)
	if err != nil {
		return proxy.Session{}, err
	}
	b, err := e164Field("participant_b", cmd.ParticipantB)
	if err != nil {
		return proxy.Session{}, err
	}
	if a == b {
		return proxy.Session{}, message.Invalid("participant_b", "participant_b must differ from participant_a")
	}
	if cmd.TTL < 0 {
		return proxy.Session{}, message.Invalid("ttl_seconds", "ttl_seconds must be positive")
	}
	now := g.now()
	s := proxy.Session{ID: g.ids.NewID(), AccountID: cmd.AccountID, ParticipantA: a, ParticipantB: b, CreatedAt: now}
	if cmd.TTL > 0 {
		exp := now.Add(cmd.TTL)
		s.ExpiresAt = &exp
	}
	err = g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		pool, err := tx.LockProxyPool(ctx, cmd.AccountID, now)
		if err != nil {
			return fmt.Errorf("lock the proxy pool of %s: %w", cmd.AccountID, err)
		}
		n, ok := proxy.Allocate(g.cfg.Proxy.mode(), pool, a, b)
		if !ok {
			return ErrNoProxyNumber
		}
		s.ProxyNumber = n.Number
		if err := tx.InsertProxySession(ctx, s); err != nil {
			return fmt.Errorf("insert proxy session %s: %w", s.ID, err)
		}
		return g.sendSystem(ctx, tx, n, g.cfg.Proxy.StartMessage, a, b)
	})
	if err != nil {
		return proxy.Session{}, err
	}
	return s, nil
}

// GetProxySession returns one of the account's sessions, or ErrNotFound.
func (g *Gateway) GetProxySession(ctx context.Context, accountID, id string) (proxy.Session, error) {
	s, err := g.store.GetProxySession(ctx, accountID, id)
	if err != nil {
		return proxy.Session{}, fmt.Errorf("proxy session %s: %w", id, err)
	}
	return s.At(g.now()), nil
}

// ListProxySessions lists the account's open (or closed) sessions, newest first.
func (g *Gateway) ListProxySessions(ctx context.Context, accountID string, q ports.ProxySessionQuery) (ports.ProxySessionPage, error) {
	now := g.now()
	page, err := g.store.ListProxySessions(ctx, accountID, q, now)
	if err != nil {
		return ports.ProxySessionPage{}, fmt.Errorf("list proxy sessions of %s: %w", accountID, err)
	}
	for i, s := range page.Items {
		page.Items[i] = s.At(now)
	}
	return page, nil
}

// CloseProxySession closes the account's session and sends the end message to both
// participants, once: closing a closed (or expired) session changes nothing and sends
// nothing. closed reports whether this call closed it (of two racing closes, one does).
// ErrNotFound when the account has no such session.
func (g *Gateway) CloseProxySession(ctx context.Context, accountID, id string) (s proxy.Session, closed bool, err error) {
	err = g.inTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		var err error
		s, closed, err = tx.CloseProxySession(ctx, accountID, id, g.now())
		if err != nil || !closed {
			return err
		}
		n, err := tx.GetProxyNumber(ctx, s.ProxyNumber)
		if errors.Is(err, ports.ErrNotFound) {
			return nil // the number left the pool: there is nothing to send from
		}
		if err != nil {
			return fmt.Errorf("proxy number %s of session %s: %w", s.ProxyNumber, s.ID, err)
		}
		return g.sendSystem(ctx, tx, n, g.cfg.Proxy.EndMessage, s.ParticipantA, s.ParticipantB)
	})
	if err != nil {
		return proxy.Session{}, false, fmt.Errorf("close proxy session %s: %w", id, err)
	}
	return s.At(g.now()), closed, nil
}

// relayInbound applies the proxy rules to an inbound message m to the pool number n, inside
// the transaction that stored it: relayed verbatim to the other participant of the sender's
// open session, or answered with the no-session message. Keywords are neither (their own
// rules have answered them).
func (g *Gateway) relayInbound(ctx context.Context, tx ports.Tx, m message.Message, n proxy.Number) error {
	now := g.now()
	var open *proxy.Session
	s, err := tx.FindOpenProxySession(ctx, n.Number, m.From, now)
	switch {
	case err == nil:
		open = &s
	case !errors.Is(err, ports.ErrNotFound):
		return fmt.Errorf("find the proxy session of %s on %s: %w", m.From, n.Number, err)
	}
	d := proxy.Decide(open, m.From, optout.Classify(m.Text) != optout.None, g.cfg.Proxy.NoSessionMessage)
	switch d.Action {
	case proxy.Relay:
		return g.sendAs(ctx, tx, n, d.To, m.Text)
	case proxy.NoSession:
		return g.sendAs(ctx, tx, n, d.To, proxy.SystemText(g.cfg.Proxy.OrgName, g.cfg.Proxy.NoSessionMessage))
	}
	return nil
}

// sendSystem sends a system message (start, end) from the pool number n to each of to;
// nothing when text is empty.
func (g *Gateway) sendSystem(ctx context.Context, tx ports.Tx, n proxy.Number, text string, to ...string) error {
	if text == "" {
		return nil
	}
	for _, t := range to {
		if err := g.sendAs(ctx, tx, n, t, proxy.SystemText(g.cfg.Proxy.OrgName, text)); err != nil {
			return err
		}
	}
	return nil
}

// sendAs queues a message the gateway sends on its own from the pool number n through n's
// provider: an ordinary outbound message of the number's account, not rate limited, that
// honours opt-outs (a refused one is simply not sent: the person said STOP).
func (g *Gateway) sendAs(ctx context.Context, tx ports.Tx, n proxy.Number, to, text string) error {
	route, err := g.router.Route(routing.Request{From: n.Number, To: to, Provider: g.via(n)})
	if err != nil {
		return fmt.Errorf("route a proxy message from %s to %s: %w", n.Number, to, err)
	}
	m := g.newOutbound(n.AccountID, n.Number, to, text, route, map[string]string{}, nil, g.now())
	if _, err := g.admit(ctx, tx, []admission{{m: m, checkOptOut: true}}); err != nil {
		return fmt.Errorf("queue a proxy message from %s to %s: %w", n.Number, to, err)
	}
	return nil
}

// via is the provider messages from the pool number n leave through: its own, or the
// ordinary route when that provider is no longer configured (the config changed after the
// number was pooled). Failing instead would fail every inbound to the number, a STOP's
// block included, and the provider would retry it forever.
func (g *Gateway) via(n proxy.Number) string {
	if g.router.Known(n.Provider) {
		return n.Provider
	}
	return ""
}

// mode is the configured allocation, Shared by default.
func (c ProxyConfig) mode() proxy.Allocation {
	if c.Allocation.Valid() {
		return c.Allocation
	}
	return proxy.Shared
}

// e164Field normalises an E.164 number of a request field; a *message.FieldError names the
// field otherwise.
func e164Field(field, v string) (string, error) {
	if v == "" {
		return "", message.Missing(field)
	}
	n, ok := message.NormalizeE164(v)
	if !ok {
		return "", message.Invalid(field, "%s must be an E.164 number (+ and 6 to 15 digits)", field)
	}
	return n, nil
}
