package integration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/integration-tests/harness"
	"github.com/smsgw/smsgw/integration-tests/providersim"
)

// switchableServer serves a simulator on a fixed address that can go down (nothing listens:
// connections are refused, so the plugin knows nothing was sent) and come back.
type switchableServer struct {
	addr    string
	handler http.Handler
	srv     *httptest.Server
}

func (s *switchableServer) up(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatalf("listen on %s again: %v", s.addr, err)
	}
	s.srv = httptest.NewUnstartedServer(s.handler)
	s.srv.Listener.Close()
	s.srv.Listener = l
	s.srv.Start()
}

func (s *switchableServer) down() {
	if s.srv != nil {
		s.srv.CloseClientConnections()
		s.srv.Close()
		s.srv = nil
	}
}

// TestFailoverAndBreaker: with the primary (twilio) simulator down, messages of the route
// are delivered through the secondary (flowroute) after the primary's retries; the
// primary's breaker opens, so the next message skips it at once; once the primary is back
// and the cool-down has passed, the half-open trial goes to it and closes the breaker.
func TestFailoverAndBreaker(t *testing.T) {
	twilioSim := providersim.NewTwilio(providersim.TwilioOptions{AccountSID: twilioSID, AuthToken: twilioToken})
	addr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	primary := &switchableServer{addr: addr, handler: twilioSim}
	flowSim := providersim.NewFlowroute(providersim.FlowrouteOptions{AccessKey: flowrouteKey, SecretKey: flowrouteSecret, PerSecond: -1})
	flowSrv := httptest.NewServer(flowSim)
	t.Cleanup(func() {
		twilioSim.Close()
		primary.down()
		flowSim.Close()
		flowSrv.Close()
	})

	dir := t.TempDir()
	gwAddr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	s := storeSetup(t, "postgres", dir)
	cfg := s.gatewayConfig(gwAddr,
		twilioProvider("http://"+addr, `  retry {
    max_attempts = 2
    backoff      = "50ms"
  }
  breaker {
    failures = 4
    cooldown = "12s"
  }`),
		flowrouteProvider(flowSrv.URL, ""),
		`route "us" {
  providers = ["twilio", "flowroute"]
  match {
    to_prefix = "+1"
  }
}`, noLimits)
	path := filepath.Join(dir, "smsgw-failover.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	g := start(t, dir, path, gwAddr)
	c := harness.NewClient(g.URL, user, password)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	breaker := func() string {
		t.Helper()
		var out struct {
			Items []struct {
				Name    string `json:"name"`
				Breaker string `json:"breaker"`
			} `json:"items"`
		}
		if code, err := c.Do(ctx, http.MethodGet, "/v1/providers", nil, &out); err != nil || code != http.StatusOK {
			t.Fatalf("providers: %d %v", code, err)
		}
		for _, p := range out.Items {
			if p.Name == "twilio" {
				return p.Breaker
			}
		}
		t.Fatal("twilio not listed")
		return ""
	}
	metricShows := func(state string) bool {
		t.Helper()
		r, err := c.DoRaw(ctx, http.MethodGet, "/metrics", nil, nil)
		if err != nil || r.Code != http.StatusOK {
			t.Fatalf("metrics: %v", err)
		}
		return strings.Contains(string(r.Body), fmt.Sprintf(`smsgw_provider_breaker_state{provider="twilio",state=%q} 1`, state))
	}
	details := func(m harness.Message) []string {
		var out []string
		for _, ev := range m.Events {
			if ev.Detail != nil {
				out = append(out, *ev.Detail)
			}
		}
		return out
	}
	send := func(to string) harness.Message {
		t.Helper()
		code, m, err := c.Send(ctx, "+14155550100", to, "failover "+to)
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("send to %s: %d %v", to, code, err)
		}
		final, err := c.WaitFinal(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		return final
	}

	// The primary is down: each message fails twice on twilio, then goes to flowroute. The
	// second message's second failure is the fourth, which opens the breaker.
	if b := breaker(); b != "closed" {
		t.Fatalf("breaker %s at start", b)
	}
	for i, to := range []string{"+14155550201", "+14155550202"} {
		m := send(to)
		if m.Status != "delivered" || m.Provider != "flowroute" {
			t.Fatalf("message %d: %s via %s, want delivered via flowroute; events %v", i, m.Status, m.Provider, details(m))
		}
		// Flowroute acknowledges into its queue ("accepted via"), unless its first
		// delivery report came first and the acknowledgement was a step back ("ignored").
		want := []string{"attempt 1 via twilio failed: unavailable", "attempt 2 via twilio failed: unavailable; failing over to flowroute"}
		for _, w := range want {
			if !slices.Contains(details(m), w) {
				t.Fatalf("message %d: events %v lack %q", i, details(m), w)
			}
		}
	}
	if b := breaker(); b != "open" || !metricShows("open") {
		t.Fatalf("breaker %s (metrics open: %v) after the primary failed 4 times, want open", b, metricShows("open"))
	}

	// Open: the next message is not tried on twilio at all.
	m := send("+14155550203")
	if m.Status != "delivered" || m.Provider != "flowroute" || !slices.Contains(details(m), "twilio skipped (breaker open); failing over to flowroute") ||
		slices.ContainsFunc(details(m), func(d string) bool { return strings.HasPrefix(d, "attempt") }) {
		t.Fatalf("with the breaker open: %s via %s, events %v", m.Status, m.Provider, details(m))
	}
	if n := len(twilioSim.Messages()); n != 0 {
		t.Fatalf("the down primary has %d message(s)", n)
	}

	// The primary returns; after the cool-down the breaker is half-open and the next
	// message is the trial: delivered through twilio, and the breaker closes.
	primary.up(t)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for breaker() != "half_open" {
		select {
		case <-ctx.Done():
			t.Fatalf("breaker still %s after the cool-down", breaker())
		case <-tick.C:
		}
	}
	if !metricShows("half_open") {
		t.Fatal("metrics do not show the breaker half-open")
	}
	m = send("+14155550204")
	if m.Status != "delivered" || m.Provider != "twilio" || slices.ContainsFunc(details(m), func(d string) bool { return strings.Contains(d, "failing over") }) {
		t.Fatalf("trial: %s via %s, events %v; want delivered via twilio", m.Status, m.Provider, details(m))
	}
	if b := breaker(); b != "closed" || !metricShows("closed") {
		t.Fatalf("breaker %s after a successful trial, want closed", b)
	}
	// Balance: Twilio reports its account's (through the plugin, from the simulator);
	// Flowroute has no balance API, so its plugin has none: 501.
	var bal struct{ Amount, Currency string }
	if code, err := c.Do(ctx, http.MethodGet, "/v1/providers/twilio/balance", nil, &bal); err != nil || code != http.StatusOK || bal.Amount == "" || bal.Currency == "" {
		t.Fatalf("twilio balance: %d %v %+v", code, err, bal)
	}
	if code, err := c.Do(ctx, http.MethodGet, "/v1/providers/flowroute/balance", nil, nil); err != nil || code != http.StatusNotImplemented {
		t.Fatalf("flowroute balance: %d %v, want 501", code, err)
	}
	// The operator's log says when the breaker opened and closed.
	for _, want := range []string{"provider breaker open: sends with another provider in their route fail over: provider=twilio", "provider breaker closed: provider=twilio"} {
		if !strings.Contains(g.Log(), want) {
			t.Errorf("gateway log lacks %q", want)
		}
	}
	// Exactly the three failed-over messages went through flowroute, the trial through twilio.
	if n, tn := len(flowSim.Messages()), len(twilioSim.Messages()); n != 3 || tn != 1 {
		t.Fatalf("flowroute took %d message(s), twilio %d; want 3 and 1", n, tn)
	}
}
