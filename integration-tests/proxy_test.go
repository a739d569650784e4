package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/integration-tests/harness"
	"github.com/smsgw/smsgw/integration-tests/providersim"
)

const (
	flowrouteKey    = "it-flowroute-key"
	flowrouteSecret = "it-flowroute-secret"
	flowrouteToken  = "it-webhook-token-0123456789"
	proxyOrg        = "Acme"
)

// startFlowrouteProxy starts the Flowroute simulator and a gateway on Postgres whose only
// provider is "flowroute", with proxy sessions configured (policy: the proxy block and
// others, appended to the config).
func startFlowrouteProxy(t *testing.T, policy string) (*providersim.Flowroute, *harness.Gateway, *harness.Client) {
	t.Helper()
	sim := providersim.NewFlowroute(providersim.FlowrouteOptions{AccessKey: flowrouteKey, SecretKey: flowrouteSecret, PerSecond: -1})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	dir := t.TempDir()
	addr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := storeSetup(t, "postgres", dir)
	cfg := s.gatewayConfig(addr, flowrouteProvider(srv.URL, fastRetry), noLimits, policy)
	path := filepath.Join(dir, "smsgw-flowroute.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := start(t, dir, path, addr)
	sim.SetInboundURL(g.URL + "/webhooks/flowroute/" + flowrouteToken + "/inbound")
	return sim, g, harness.NewClient(g.URL, user, password)
}

// digits is a +E.164 number as Flowroute writes it.
func digits(e164 string) string { return strings.TrimPrefix(e164, "+") }

// waitSimText waits until the simulator has accepted a message to `to` with exactly this
// text and returns how many it has.
func waitSimText(ctx context.Context, t *testing.T, sim *providersim.Flowroute, to, text string) []providersim.FlowrouteMessage {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var got []providersim.FlowrouteMessage
		for _, m := range sim.Messages() {
			if m.To == digits(to) && m.Body == text {
				got = append(got, m)
			}
		}
		if len(got) > 0 {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no message %q to %s at the simulator; it has %+v", text, to, sim.Messages())
		case <-tick.C:
		}
	}
}

// TestProxyRelayThroughFlowroute: a session between A and B over a pool number relays
// both ways through the flowroute plugin and simulator, one SMS per relay, from the pool
// number; a third party gets the no-session reply; an expired session relays nothing.
func TestProxyRelayThroughFlowroute(t *testing.T) {
	sim, _, c := startFlowrouteProxy(t, fmt.Sprintf(`proxy {
  org_name = %q
}`, proxyOrg))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const pool, a, b, stranger = "+18005550100", "+14155550001", "+14155550002", "+14155550003"
	if code, err := c.Do(ctx, http.MethodPost, "/v1/proxy/numbers", map[string]string{"number": pool, "provider": "flowroute"}, nil); err != nil || code != http.StatusCreated {
		t.Fatalf("add pool number: %d %v", code, err)
	}
	var s map[string]any
	if code, err := c.Do(ctx, http.MethodPost, "/v1/proxy/sessions", map[string]string{"participant_a": a, "participant_b": b}, &s); err != nil || code != http.StatusCreated || s["proxy_number"] != pool || s["status"] != "open" {
		t.Fatalf("create session: %d %v %v", code, err, s)
	}
	start := "[ACME]: Your new session has started, send a message!"
	for _, p := range []string{a, b} {
		waitSimText(ctx, t, sim, p, start)
	}

	inbound := func(from, text string) {
		t.Helper()
		if status, body, err := sim.SendInbound(ctx, digits(from), digits(pool), text); err != nil || status != http.StatusOK {
			t.Fatalf("inbound %s→pool: %d %s %v", from, status, body, err)
		}
	}
	inbound(a, "hello B, from A")
	waitSimText(ctx, t, sim, b, "hello B, from A")
	inbound(b, "hi A, B here")
	waitSimText(ctx, t, sim, a, "hi A, B here")
	noSession := "[ACME]: An active session was not found."
	inbound(stranger, "let me in")
	waitSimText(ctx, t, sim, stranger, noSession)

	// A session that expires: after its expiry D's message is not relayed to E; D gets the
	// no-session reply. (The wait polls the session's status; nothing sleeps.)
	const d, e = "+14155550004", "+14155550005"
	var short map[string]any
	if code, err := c.Do(ctx, http.MethodPost, "/v1/proxy/sessions", map[string]any{"participant_a": d, "participant_b": e, "ttl_seconds": 1}, &short); err != nil || code != http.StatusCreated || short["proxy_number"] != pool {
		t.Fatalf("create a 1 s session: %d %v %v", code, err, short)
	}
	waitSessionClosed(ctx, t, c, short["id"].(string))
	inbound(d, "too late")
	waitSimText(ctx, t, sim, d, noSession)

	// Every relay and system message was sent exactly once, from the pool number; nothing
	// reached E but its start message.
	if err := sim.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		a:        {start, "hi A, B here"},
		b:        {start, "hello B, from A"},
		stranger: {noSession},
		d:        {start, noSession},
		e:        {start},
	}
	got := map[string][]string{}
	for _, m := range sim.Messages() {
		if m.From != digits(pool) {
			t.Errorf("message %+v not from the pool number", m)
		}
		got["+"+m.To] = append(got["+"+m.To], m.Body)
	}
	for to, w := range want {
		if fmt.Sprint(got[to]) != fmt.Sprint(w) {
			t.Errorf("to %s: %q, want %q", to, got[to], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("messages to %d numbers, want %d: %v", len(got), len(want), got)
	}
}

// waitSessionClosed polls a proxy session until its status is closed.
func waitSessionClosed(ctx context.Context, t *testing.T, c *harness.Client, id string) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		var s map[string]any
		if code, err := c.Do(ctx, http.MethodGet, "/v1/proxy/sessions/"+id, nil, &s); err == nil && code == http.StatusOK && s["status"] == "closed" {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("session %s still open: %v", id, ctx.Err())
		case <-tick.C:
		}
	}
}

// TestProxyAllocationAcrossReplicas: 50 concurrent session creations for distinct pairs over
// two gateway processes on one Postgres, with a pool of 5 numbers: shared allocation never
// gives a participant the same number twice, exclusive never puts two sessions on a number.
func TestProxyAllocationAcrossReplicas(t *testing.T) {
	for _, mode := range []string{"shared", "exclusive"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			s := storeSetup(t, "postgres", dir)
			s.policy = noLimits + fmt.Sprintf("proxy {\n  allocation = %q\n}\n", mode)
			cs := startReplicas(t, dir, s, 2)
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			for i := range 5 {
				n := fmt.Sprintf("+1800555%04d", i)
				if code, err := cs[i%2].Do(ctx, http.MethodPost, "/v1/proxy/numbers", map[string]string{"number": n, "provider": "loopback"}, nil); err != nil || code != http.StatusCreated {
					t.Fatalf("add %s: %d %v", n, code, err)
				}
			}
			// 50 distinct pairs of 11 participants, so that participants overlap.
			var pairs [][2]string
			for i := 0; i < 11 && len(pairs) < 50; i++ {
				for j := i + 1; j < 11 && len(pairs) < 50; j++ {
					pairs = append(pairs, [2]string{fmt.Sprintf("+1415555%04d", i), fmt.Sprintf("+1415555%04d", j)})
				}
			}
			var (
				mu       sync.Mutex
				created  = map[string][2]string{} // session id → pair
				numberOf = map[string]string{}    // session id → proxy number
				codes    = map[int]int{}
			)
			concurrently(len(pairs), func(i int) {
				var out map[string]any
				code, err := cs[i%2].Do(ctx, http.MethodPost, "/v1/proxy/sessions", map[string]string{"participant_a": pairs[i][0], "participant_b": pairs[i][1]}, &out)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("create %v: %v", pairs[i], err)
					return
				}
				codes[code]++
				if code == http.StatusCreated {
					id := out["id"].(string)
					created[id], numberOf[id] = pairs[i], out["proxy_number"].(string)
				}
			})
			if codes[http.StatusCreated]+codes[http.StatusConflict] != len(pairs) {
				t.Fatalf("answers %v, want only 201 and 409", codes)
			}
			perNumber := map[string]int{}
			held := map[string]map[string]bool{} // participant → numbers held
			for id, p := range created {
				n := numberOf[id]
				perNumber[n]++
				for _, x := range p {
					if held[x] == nil {
						held[x] = map[string]bool{}
					}
					if held[x][n] {
						t.Errorf("%s holds %s in two open sessions", x, n)
					}
					held[x][n] = true
				}
			}
			switch mode {
			case "exclusive":
				if len(created) != 5 {
					t.Errorf("%d sessions, want 5 (one per number)", len(created))
				}
				for n, k := range perNumber {
					if k > 1 {
						t.Errorf("%s has %d sessions", n, k)
					}
				}
			case "shared":
				if len(created) <= 5 {
					t.Errorf("only %d sessions: shared numbers should serve more than one", len(created))
				}
			}
			// Both replicas list the same open sessions.
			for i, c := range cs {
				var list struct {
					Items []map[string]any `json:"items"`
				}
				if code, err := c.Do(ctx, http.MethodGet, "/v1/proxy/sessions?limit=500", nil, &list); err != nil || code != http.StatusOK || len(list.Items) != len(created) {
					t.Errorf("replica %d lists %d sessions (%d %v), want %d", i, len(list.Items), code, err, len(created))
				}
			}
			t.Logf("%s: %d of %d sessions created, %v", mode, len(created), len(pairs), codes)
		})
	}
}

// TestFlowrouteProxyDialect: the sms-proxy dialect over the real gateway, plugin and
// simulator: the pool and a session through /tn and /session (11-digit numbers), the
// legacy inbound callback POST / relayed through the session, and the end of the session.
func TestFlowrouteProxyDialect(t *testing.T) {
	sim, _, c := startFlowrouteProxy(t, `proxy {
  org_name = "Acme"
}
compat {
  flowroute_proxy {
    provider = "flowroute"
    prefix   = "/proxy"
  }
}`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const pool, a, b = "18005550100", "14155550001", "14155550002"
	call := func(method, path string, body any, want int) map[string]any {
		t.Helper()
		var out map[string]any
		code, err := c.Do(ctx, method, path, body, &out)
		if err != nil || code != want {
			t.Fatalf("%s %s: %d %v %v, want %d", method, path, code, err, out, want)
		}
		return out
	}
	if out := call(http.MethodPost, "/proxy/tn", map[string]string{"value": pool}, http.StatusOK); out["message"] != "successfully added TN to pool" || out["value"] != pool {
		t.Fatalf("POST /tn: %v", out)
	}
	call(http.MethodPost, "/proxy/tn", map[string]string{"value": pool}, http.StatusBadRequest)
	s := call(http.MethodPost, "/proxy/session", map[string]any{"participant_a": a, "participant_b": b, "expiry_window": 60}, http.StatusOK)
	if s["message"] != "created session" || s["virtual_tn"] != pool || s["expiry_date"] == nil {
		t.Fatalf("POST /session: %v", s)
	}
	if tn := call(http.MethodGet, "/proxy/tn", nil, http.StatusOK); tn["in_use"] != float64(1) || tn["available"] != float64(0) {
		t.Fatalf("GET /tn: %v", tn)
	}
	// The same pool through v1.
	if code, err := c.Do(ctx, http.MethodGet, "/v1/proxy/sessions/"+s["session_id"].(string), nil, nil); err != nil || code != http.StatusOK {
		t.Fatalf("the session through v1: %d %v", code, err)
	}
	// Flowroute's legacy inbound callback, at the dialect's POST /.
	call(http.MethodPost, "/proxy/", map[string]string{"to": pool, "from": a, "body": "hello from A"}, http.StatusOK)
	got := waitSimText(ctx, t, sim, "+"+b, "hello from A")
	if len(got) != 1 || got[0].From != pool {
		t.Fatalf("relay: %+v", got)
	}
	if out := call(http.MethodDelete, "/proxy/session", map[string]string{"session_id": s["session_id"].(string)}, http.StatusOK); out["message"] != "successfully ended session" {
		t.Fatalf("DELETE /session: %v", out)
	}
	waitSimText(ctx, t, sim, "+"+a, "[ACME]: This session has ended, talk to you again soon!")
	call(http.MethodDelete, "/proxy/session", map[string]string{"session_id": s["session_id"].(string)}, http.StatusNotFound)
	if out := call(http.MethodDelete, "/proxy/tn", map[string]string{"value": pool}, http.StatusOK); out["message"] != "successfully removed TN from pool" {
		t.Fatalf("DELETE /tn: %v", out)
	}
}
