package gateway

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

const (
	pA, pB, pC = "+14155550001", "+14155550002", "+14155550003"
	pool1      = "+18005550100"
	pool2      = "+18005550101"
)

func proxyEnv(t *testing.T, mode proxy.Allocation) *env {
	t.Helper()
	return newEnvWith(t, func(c *Config) {
		c.OptOut = testPolicy
		c.Proxy = ProxyConfig{Allocation: mode, OrgName: "Acme", StartMessage: "start", EndMessage: "end", NoSessionMessage: "no session"}
	})
}

func (e *env) addNumber(t *testing.T, account, number string) {
	t.Helper()
	if _, err := e.g.AddProxyNumber(context.Background(), account, number, "loop"); err != nil {
		t.Fatalf("add %s: %v", number, err)
	}
}

func (e *env) openSession(t *testing.T, a, b string) proxy.Session {
	t.Helper()
	s, err := e.g.CreateProxySession(context.Background(), ProxySessionCommand{AccountID: "acc", ParticipantA: a, ParticipantB: b})
	if err != nil {
		t.Fatalf("session %s-%s: %v", a, b, err)
	}
	return s
}

// texts renders the outbound messages to a number as "from:text" in order.
func (e *env) texts(t *testing.T, to string) []string {
	t.Helper()
	var out []string
	for _, m := range e.outboundTo(t, to) {
		out = append(out, m.From+":"+m.Text)
	}
	return out
}

func TestAddProxyNumber(t *testing.T) {
	ctx := context.Background()
	e := proxyEnv(t, proxy.Shared)
	tests := []struct {
		name, account, number, provider string
		field                           string // the field error expected
		err                             error
	}{
		{"added", "acc", "+1 800 555 0100", "loop", "", nil},
		{"again", "acc", pool1, "loop", "", ports.ErrConflict},
		{"in another account's pool", "acc2", pool1, "loop", "", ports.ErrConflict},
		{"not E.164", "acc", "800-FLOWERS", "loop", "number", nil},
		{"no provider", "acc", pool2, "", "provider", nil},
		{"unknown provider", "acc", pool2, "nope", "provider", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := e.g.AddProxyNumber(ctx, tt.account, tt.number, tt.provider)
			var fe *message.FieldError
			switch {
			case tt.field != "":
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Fatalf("err %v, want a field error on %s", err, tt.field)
				}
			case tt.err != nil:
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
			case err != nil || n.Number != pool1 || n.AccountID != "acc":
				t.Fatalf("added %+v, %v", n, err)
			}
		})
	}
	pool, err := e.g.ProxyNumbers(ctx, "acc")
	if err != nil || pool.PoolSize != 1 || pool.Available != 1 || pool.InUse != 0 {
		t.Fatalf("pool %+v %v", pool, err)
	}
}

// TestProxySessionRelay: a session relays each participant's messages verbatim to the other
// from the proxy number; a stranger gets the no-session message; a STOP is not relayed,
// blocks the number → that participant and leaves the session open; closing sends the end
// message once.
func TestProxySessionRelay(t *testing.T) {
	ctx := context.Background()
	e := proxyEnv(t, proxy.Shared)
	e.addNumber(t, "acc", pool1)
	s := e.openSession(t, pA, pB)
	if s.ProxyNumber != pool1 || s.Status(e.clock.t) != proxy.StatusOpen || s.ExpiresAt != nil {
		t.Fatalf("session %+v", s)
	}
	in := func(from, text string) {
		t.Helper()
		e.receive(t, ReceiveCommand{Provider: "loop", From: from, To: pool1, Text: text})
	}
	in(pA, "hello B")
	in(pB, "hi A")
	in(pC, "who is this")
	in(pA, "STOP")
	in(pB, "still there?") // A said STOP: not sent to A
	want := map[string][]string{
		pA: {pool1 + ":[ACME]: start", pool1 + ":hi A", pool1 + ":bye"},
		pB: {pool1 + ":[ACME]: start", pool1 + ":hello B"},
		pC: {pool1 + ":[ACME]: no session"},
	}
	for to, w := range want {
		if got := e.texts(t, to); fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("to %s: %q, want %q", to, got, w)
		}
	}
	for _, m := range e.outboundTo(t, pA) {
		if m.Provider != "loop" || m.AccountID != "acc" {
			t.Errorf("relay %+v: want provider loop, account acc", m)
		}
	}
	if !e.optedOut(t, pool1, pA) {
		t.Error("STOP from A did not block the proxy number → A")
	}
	if got, err := e.g.GetProxySession(ctx, "acc", s.ID); err != nil || got.Status(e.clock.t) != proxy.StatusOpen {
		t.Fatalf("after STOP the session is %+v, %v; want open", got, err)
	}
	if _, closed, err := e.g.CloseProxySession(ctx, "acc", s.ID); err != nil || !closed {
		t.Fatalf("close: %v, closed %v", err, closed)
	}
	if _, closed, err := e.g.CloseProxySession(ctx, "acc", s.ID); err != nil || closed {
		t.Fatalf("second close: %v, closed %v; want no error, not closed again", err, closed)
	}
	if got := e.texts(t, pB); got[len(got)-1] != pool1+":[ACME]: end" || len(got) != 3 {
		t.Errorf("B after close: %q, want one end message", got)
	}
	// A is opted out of the number: no end message for A.
	if got := e.texts(t, pA); len(got) != 3 {
		t.Errorf("A after close: %q", got)
	}
	in(pB, "after close")
	if got := e.texts(t, pB); got[len(got)-1] != pool1+":[ACME]: no session" {
		t.Errorf("B after close: %q, want the no-session message", got)
	}
	if _, _, err := e.g.CloseProxySession(ctx, "other", s.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("close of another account's session: %v", err)
	}
}

// TestProxyAllocation: shared gives a participant a number they do not hold yet; exclusive
// one session per number; none free is ErrNoProxyNumber.
func TestProxyAllocation(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		mode  proxy.Allocation
		pairs [][2]string
		want  []string // the proxy number of each session, "" = ErrNoProxyNumber
	}{
		{proxy.Shared, [][2]string{{pA, pB}, {pA, pC}, {pB, pC}, {pA, "+14155550009"}}, []string{pool1, pool2, "", ""}},
		{proxy.Shared, [][2]string{{pA, pB}, {pC, "+14155550009"}}, []string{pool1, pool2}},
		{proxy.Exclusive, [][2]string{{pA, pB}, {pC, "+14155550009"}, {"+14155550010", "+14155550011"}}, []string{pool1, pool2, ""}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.mode, i), func(t *testing.T) {
			e := proxyEnv(t, tt.mode)
			e.addNumber(t, "acc", pool1)
			e.addNumber(t, "acc", pool2)
			for j, p := range tt.pairs {
				s, err := e.g.CreateProxySession(ctx, ProxySessionCommand{AccountID: "acc", ParticipantA: p[0], ParticipantB: p[1]})
				switch {
				case tt.want[j] == "":
					if !errors.Is(err, ErrNoProxyNumber) {
						t.Fatalf("session %d: %+v %v, want ErrNoProxyNumber", j, s, err)
					}
				case err != nil || s.ProxyNumber != tt.want[j]:
					t.Fatalf("session %d: %+v %v, want on %s", j, s, err, tt.want[j])
				}
			}
		})
	}
	e := proxyEnv(t, proxy.Shared)
	e.addNumber(t, "acc", pool1)
	for _, cmd := range []struct {
		c     ProxySessionCommand
		field string
	}{
		{ProxySessionCommand{AccountID: "acc", ParticipantA: "nope", ParticipantB: pB}, "participant_a"},
		{ProxySessionCommand{AccountID: "acc", ParticipantA: pA, ParticipantB: ""}, "participant_b"},
		{ProxySessionCommand{AccountID: "acc", ParticipantA: pA, ParticipantB: "+1 415 555 0001"}, "participant_b"},
		{ProxySessionCommand{AccountID: "acc", ParticipantA: pA, ParticipantB: pB, TTL: -time.Second}, "ttl_seconds"},
	} {
		var fe *message.FieldError
		if _, err := e.g.CreateProxySession(ctx, cmd.c); !errors.As(err, &fe) || fe.Field != cmd.field {
			t.Errorf("%+v: %v, want a field error on %s", cmd.c, err, cmd.field)
		}
	}
	if got := e.texts(t, pA); len(got) != 0 {
		t.Errorf("refused sessions sent %q", got)
	}
}

// TestProxySessionExpiry: an expired session relays nothing (the sender gets the no-session
// message), is listed as closed before any sweep, frees its number, and the sweep records
// it closed without an end message.
func TestProxySessionExpiry(t *testing.T) {
	ctx := context.Background()
	e := proxyEnv(t, proxy.Exclusive)
	e.addNumber(t, "acc", pool1)
	s, err := e.g.CreateProxySession(ctx, ProxySessionCommand{AccountID: "acc", ParticipantA: pA, ParticipantB: pB, TTL: time.Minute})
	if err != nil || s.ExpiresAt == nil || !s.ExpiresAt.Equal(s.CreatedAt.Add(time.Minute)) {
		t.Fatalf("session %+v %v", s, err)
	}
	if err := e.g.RemoveProxyNumber(ctx, "acc", pool1); !errors.Is(err, ports.ErrConflict) {
		t.Fatalf("remove while in use: %v, want ErrConflict", err)
	}
	e.clock.t = e.clock.t.Add(time.Minute)
	e.receive(t, ReceiveCommand{Provider: "loop", From: pA, To: pool1, Text: "late"})
	if got := e.texts(t, pB); len(got) != 1 {
		t.Errorf("B got %q after the expiry, want only the start message", got)
	}
	if got := e.texts(t, pA); got[len(got)-1] != pool1+":[ACME]: no session" {
		t.Errorf("A got %q, want the no-session message", got)
	}
	page, err := e.g.ListProxySessions(ctx, "acc", ports.ProxySessionQuery{Closed: true, Limit: 10})
	if err != nil || len(page.Items) != 1 || page.Items[0].ClosedAt == nil {
		t.Fatalf("closed sessions: %+v %v", page.Items, err)
	}
	if _, err := e.g.CreateProxySession(ctx, ProxySessionCommand{AccountID: "acc", ParticipantA: pA, ParticipantB: pC}); err != nil {
		t.Fatalf("the expired session's number is free again (exclusive): %v", err)
	}
	r, err := e.g.Sweep(ctx)
	if err != nil || r.ProxySessions != 1 {
		t.Fatalf("sweep: %+v %v, want one session closed", r, err)
	}
	if got := e.texts(t, pB); len(got) != 1 {
		t.Errorf("the expiry sent B %q, want nothing", got)
	}
}

// TestInboundToPoolNumberBelongsToItsAccount: the number's account owns its inbound
// traffic, whatever the provider's account.
func TestInboundToPoolNumberBelongsToItsAccount(t *testing.T) {
	e := proxyEnv(t, proxy.Shared)
	e.addNumber(t, "acc2", pool1)
	m := e.receive(t, ReceiveCommand{Provider: "loop", From: pA, To: pool1, Text: "hi"})
	if m.AccountID != "acc2" {
		t.Fatalf("inbound to acc2's pool number stored for %s", m.AccountID)
	}
	if other := e.receive(t, ReceiveCommand{Provider: "loop", From: pA, To: "+14155559999", Text: "hi"}); other.AccountID != "acc" {
		t.Fatalf("inbound to another number stored for %s, want the default account", other.AccountID)
	}
}

// TestInboundFromAnotherAccountIsNotRelayed: an account reporting an inbound message to
// another account's pool number (POST /v1/inbound, a dialect) stores it as its own, but the
// number's sessions relay nothing and answer nothing: they are the other account's.
func TestInboundFromAnotherAccountIsNotRelayed(t *testing.T) {
	ctx := context.Background()
	e := proxyEnv(t, proxy.Shared)
	e.addNumber(t, "acc2", pool1)
	if _, err := e.g.CreateProxySession(ctx, ProxySessionCommand{AccountID: "acc2", ParticipantA: pA, ParticipantB: pB}); err != nil {
		t.Fatal(err)
	}
	for _, from := range []string{pA, pC} {
		m := e.receive(t, ReceiveCommand{AccountID: "acc", Provider: "loop", From: from, To: pool1, Text: "injected"})
		if m.AccountID != "acc" {
			t.Fatalf("inbound reported by acc stored for %s", m.AccountID)
		}
	}
	want := map[string]int{pA: 1, pB: 1, pC: 0} // the start messages only
	for to, n := range want {
		if got := e.texts(t, to); len(got) != n {
			t.Errorf("to %s: %q, want %d message(s)", to, got, n)
		}
	}
	e.receive(t, ReceiveCommand{AccountID: "acc2", Provider: "loop", From: pA, To: pool1, Text: "own"})
	if got := e.texts(t, pB); len(got) != 2 || got[1] != pool1+":own" {
		t.Errorf("the owner's report to B: %q, want it relayed", got)
	}
}

// TestPoolNumberOfAProviderNoLongerConfigured: a pool number whose provider left the config
// still takes its inbound traffic: a STOP blocks and is confirmed, a message is relayed,
// both through the ordinary route.
func TestPoolNumberOfAProviderNoLongerConfigured(t *testing.T) {
	ctx := context.Background()
	e := proxyEnv(t, proxy.Shared)
	if err := e.store.InTx(ctx, func(ctx context.Context, tx ports.Tx) error {
		if err := tx.AddProxyNumber(ctx, proxy.Number{Number: pool1, Provider: "gone", AccountID: "acc", CreatedAt: t0}); err != nil {
			return err
		}
		return tx.InsertProxySession(ctx, proxy.Session{ID: "s1", AccountID: "acc", ProxyNumber: pool1, ParticipantA: pA, ParticipantB: pB, CreatedAt: t0})
	}); err != nil {
		t.Fatal(err)
	}
	e.receive(t, ReceiveCommand{Provider: "loop", From: pA, To: pool1, Text: "hello B"})
	e.receive(t, ReceiveCommand{Provider: "loop", From: pB, To: pool1, Text: "STOP"})
	if got := e.texts(t, pB); len(got) != 2 || got[0] != pool1+":hello B" {
		t.Errorf("to B: %q, want the relay and the STOP confirmation", got)
	}
	if !e.optedOut(t, pool1, pB) {
		t.Error("STOP from B did not block the proxy number → B")
	}
	for _, m := range e.outboundTo(t, pB) {
		if m.Provider != "loop" {
			t.Errorf("%+v: want the ordinary route (loop)", m)
		}
	}
}
