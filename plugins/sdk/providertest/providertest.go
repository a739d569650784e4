// Package providertest is the conformance suite every provider plugin must pass. It drives
// the provider through the SDK's real gRPC server and client (go-plugin's
// TestPluginGRPCConn), so it checks what the host will actually see:
//
//	func TestConformance(t *testing.T) {
//		vendor := httptest.NewServer(fakeVendorAPI())
//		t.Cleanup(vendor.Close)
//		providertest.Run(t, providertest.Suite{
//			New:         func() sdk.Provider { return newProvider(hclog.NewNullLogger()) },
//			Config:      json.RawMessage(`{"base_url": "` + vendor.URL + `"}`),
//			BadConfigs:  []json.RawMessage{json.RawMessage(`{"base_url": 1}`)},
//			Deliverable: "+15551230000",
//		})
//	}
//
// Every subtest gets a fresh provider and connection. Waits are bounded by Suite.Timeout and
// done on channels, never by sleeping.
package providertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/smsgw/smsgw/plugins/sdk"
)

// Suite describes the provider under test.
type Suite struct {
	// New returns a fresh, unconfigured provider.
	New func() sdk.Provider
	// Config is a valid config object (may be empty for a provider that needs none).
	Config json.RawMessage
	// BadConfigs must each fail Configure with a *sdk.ConfigError that names a field.
	BadConfigs []json.RawMessage
	// Deliverable is a `to` number the configured provider accepts.
	Deliverable string
	// Failing, when set, is a `to` number that gets a permanent per-message error.
	Failing string
	// From is the sender used for test messages; default "+15550000000".
	From string
	// Name and PublicURL go into the ConfigureRequest; defaults "test" and
	// "https://smsgw.example.test".
	Name      string
	PublicURL string
	// Webhooks are requests the configured provider must answer as described.
	Webhooks []WebhookCase
	// Timeout bounds every call and every wait for an event; default 10s.
	Timeout time.Duration
}

// WebhookCase is one webhook request and what the answer must contain.
type WebhookCase struct {
	Name    string
	Request sdk.WebhookRequest
	// WantStatus is the HTTP status the provider must answer.
	WantStatus int
	// WantInbound and WantStatuses are the numbers of parsed inbound messages and status
	// updates.
	WantInbound  int
	WantStatuses int
	// WantErr expects HandleWebhook to fail instead of answering (e.g. a bad signature a
	// provider reports as an error rather than a 403).
	WantErr bool
}

// maxTestBatch keeps batches small enough for a fast suite while still exercising batching.
const maxTestBatch = 5

// Run runs the conformance suite against s.
func Run(t *testing.T, s Suite) {
	t.Helper()
	s = s.withDefaults()
	if s.New == nil {
		t.Fatal("providertest: Suite.New is required")
	}
	if s.Deliverable == "" {
		t.Fatal("providertest: Suite.Deliverable is required")
	}

	t.Run("Info", s.testInfo)
	t.Run("Configure", s.testConfigure)
	t.Run("Send", s.testSend)
	t.Run("Capabilities", s.testCapabilities)
	if len(s.Webhooks) > 0 {
		t.Run("Webhooks", s.testWebhooks)
	}
}

func (s Suite) withDefaults() Suite {
	if s.From == "" {
		s.From = "+15550000000"
	}
	if s.Name == "" {
		s.Name = "test"
	}
	if s.PublicURL == "" {
		s.PublicURL = "https://smsgw.example.test"
	}
	if s.Timeout <= 0 {
		s.Timeout = 10 * time.Second
	}
	return s
}

// connect serves a fresh provider over real gRPC and returns the host-side client.
func (s Suite) connect(t *testing.T) *sdk.Client {
	t.Helper()
	ps := map[string]plugin.Plugin{sdk.PluginName: &sdk.GRPCPlugin{Provider: s.New()}}
	client, _ := plugin.TestPluginGRPCConn(t, false, ps)
	// Close also stops the server, through go-plugin's controller service.
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		t.Fatalf("dispense %s: %v", sdk.PluginName, err)
	}
	c, ok := raw.(*sdk.Client)
	if !ok {
		t.Fatalf("dispensed %T, want *sdk.Client", raw)
	}
	return c
}

// configured returns a client whose provider accepted s.Config, and its Info.
func (s Suite) configured(t *testing.T) (*sdk.Client, sdk.Info) {
	t.Helper()
	c := s.connect(t)
	ctx := s.ctx(t)
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if err := c.Configure(ctx, s.configureRequest(s.Config)); err != nil {
		t.Fatalf("Configure(%s): %v", s.Config, err)
	}
	// Like the gateway, judge the capabilities by what Info says once configured: they may
	// depend on the config (a max_batch setting, a balance only with an account to count).
	if info, err = c.Info(ctx); err != nil {
		t.Fatalf("Info after Configure: %v", err)
	}
	return c, info
}

func (s Suite) configureRequest(cfg json.RawMessage) sdk.ConfigureRequest {
	return sdk.ConfigureRequest{Name: s.Name, PublicURL: s.PublicURL, Config: cfg}
}

func (s Suite) ctx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), s.Timeout)
	t.Cleanup(cancel)
	return ctx
}

func (s Suite) message(id, to string) sdk.OutboundMessage {
	return sdk.OutboundMessage{ID: id, From: s.From, To: to, Text: "providertest " + id}
}

// sendOne sends one deliverable message and returns its accepted result.
func (s Suite) sendOne(t *testing.T, c *sdk.Client, id string) sdk.SendResult {
	t.Helper()
	res, err := c.Send(s.ctx(t), []sdk.OutboundMessage{s.message(id, s.Deliverable)})
	if err != nil {
		t.Fatalf("Send to %s: %v", s.Deliverable, err)
	}
	if len(res) != 1 {
		t.Fatalf("Send of 1 message returned %d results", len(res))
	}
	checkAccepted(t, 0, res[0])
	return res[0]
}

func (s Suite) testInfo(t *testing.T) {
	c := s.connect(t)
	// Info must not need config, so it is asked before Configure.
	info, err := c.Info(s.ctx(t))
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"name is set", info.Name != ""},
		{"version is set", info.Version != ""},
		{fmt.Sprintf("protocol version is %d", sdk.ProtocolVersion), info.ProtocolVersion == sdk.ProtocolVersion},
		{"max batch is at least 1", info.Capabilities.MaxBatch >= 1},
	}
	for _, ck := range checks {
		if !ck.ok {
			t.Errorf("Info %+v: want %s", info, ck.name)
		}
	}
}

func (s Suite) testConfigure(t *testing.T) {
	t.Run("valid", func(t *testing.T) {
		c := s.connect(t)
		if err := c.Configure(s.ctx(t), s.configureRequest(s.Config)); err != nil {
			t.Fatalf("Configure(%s): %v", s.Config, err)
		}
	})
	for i, bad := range s.BadConfigs {
		t.Run(fmt.Sprintf("bad/%d", i), func(t *testing.T) {
			c := s.connect(t)
			err := c.Configure(s.ctx(t), s.configureRequest(bad))
			var ce *sdk.ConfigError
			switch {
			case err == nil:
				t.Errorf("Configure(%s) succeeded, want a *sdk.ConfigError", bad)
			case !errors.As(err, &ce):
				t.Errorf("Configure(%s) = %T %v, want a *sdk.ConfigError", bad, err, err)
			case ce.Field == "":
				t.Errorf("Configure(%s) = %v: the ConfigError names no field", bad, err)
			}
		})
	}
}

func (s Suite) testSend(t *testing.T) {
	t.Run("batch", func(t *testing.T) {
		c, info := s.configured(t)
		n := min(info.Capabilities.MaxBatch, maxTestBatch)
		msgs := make([]sdk.OutboundMessage, n)
		for i := range msgs {
			msgs[i] = s.message(fmt.Sprintf("batch-%d", i), s.Deliverable)
		}
		res, err := c.Send(s.ctx(t), msgs)
		if err != nil {
			t.Fatalf("Send of %d messages: %v", n, err)
		}
		if len(res) != n {
			t.Fatalf("Send of %d messages returned %d results", n, len(res))
		}
		seen := map[string]bool{}
		for i, r := range res {
			checkAccepted(t, i, r)
			if seen[r.ProviderMessageID] {
				t.Errorf("result %d repeats provider message id %q", i, r.ProviderMessageID)
			}
			seen[r.ProviderMessageID] = true
		}
	})

	t.Run("empty batch", func(t *testing.T) {
		c, _ := s.configured(t)
		res, err := c.Send(s.ctx(t), nil)
		if err != nil || len(res) != 0 {
			t.Errorf("Send of no messages = %d results, %v; want none and no error", len(res), err)
		}
	})

	if s.Failing == "" {
		return
	}
	t.Run("failing number", func(t *testing.T) {
		c, info := s.configured(t)
		msgs := []sdk.OutboundMessage{s.message("fail-0", s.Failing)}
		if info.Capabilities.MaxBatch >= 3 {
			// A failure between two successes shows the results keep the request order.
			msgs = []sdk.OutboundMessage{
				s.message("ok-0", s.Deliverable), s.message("fail-0", s.Failing), s.message("ok-1", s.Deliverable),
			}
		}
		res, err := c.Send(s.ctx(t), msgs)
		if err != nil {
			t.Fatalf("Send: %v (a bad number must fail per message, not the whole call)", err)
		}
		if len(res) != len(msgs) {
			t.Fatalf("Send of %d messages returned %d results", len(msgs), len(res))
		}
		for i, m := range msgs {
			if m.To == s.Deliverable {
				checkAccepted(t, i, res[i])
				continue
			}
			switch e := res[i].Err; {
			case e == nil:
				t.Errorf("result %d (to %s) = %+v, want a per-message error", i, m.To, res[i])
			case e.Class.Transient():
				t.Errorf("result %d (to %s) has transient class %q, want a permanent one", i, m.To, e.Class)
			case !knownClass(e.Class):
				t.Errorf("result %d (to %s) has unknown class %q", i, m.To, e.Class)
			}
		}
	})
}

func (s Suite) testCapabilities(t *testing.T) {
	t.Run("status poll", func(t *testing.T) {
		c, info := s.configured(t)
		sent := s.sendOne(t, c, "poll-0")
		updates, err := c.PollStatus(s.ctx(t), []string{sent.ProviderMessageID})
		if !info.Capabilities.StatusPoll {
			if !errors.Is(err, sdk.ErrUnimplemented) {
				t.Errorf("StatusPoll is false but PollStatus returned %v, want sdk.ErrUnimplemented", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("StatusPoll is true but PollStatus failed: %v", err)
		}
		found := false
		for _, u := range updates {
			if u.ProviderMessageID == sent.ProviderMessageID {
				found = true
				if !knownStatus(u.Status) {
					t.Errorf("PollStatus gave unknown status %q", u.Status)
				}
			}
		}
		if !found {
			t.Errorf("PollStatus(%q) = %+v: no status for the message", sent.ProviderMessageID, updates)
		}
	})

	t.Run("balance", func(t *testing.T) {
		c, info := s.configured(t)
		b, err := c.Balance(s.ctx(t))
		if !info.Capabilities.Balance {
			if !errors.Is(err, sdk.ErrUnimplemented) {
				t.Errorf("Balance capability is false but Balance returned %v, want sdk.ErrUnimplemented", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Balance capability is true but Balance failed: %v", err)
		}
		if b.Amount == "" || b.Currency == "" {
			t.Errorf("Balance = %+v, want an amount and a currency", b)
		}
	})

	t.Run("event stream", func(t *testing.T) {
		c, info := s.configured(t)
		if !info.Capabilities.EventStream {
			// An unimplemented stream fails at once; an implemented one would block until
			// the deadline and then report it.
			err := c.Events(s.ctx(t), func(sdk.Event) error { return nil })
			if !errors.Is(err, sdk.ErrUnimplemented) {
				t.Errorf("EventStream is false but Events returned %v, want sdk.ErrUnimplemented", err)
			}
			return
		}
		s.checkStatusEvent(t, c)
	})

	t.Run("inbound", func(t *testing.T) {
		c, info := s.configured(t)
		// A harmless probe: any answer or error other than ErrUnimplemented shows the
		// provider handles webhooks.
		_, err := c.HandleWebhook(s.ctx(t), sdk.WebhookRequest{
			Method: "GET", URL: s.PublicURL + "/webhooks/" + s.Name + "/providertest-probe", Path: "/providertest-probe",
		})
		webhooks := !errors.Is(err, sdk.ErrUnimplemented)
		if info.Capabilities.Inbound && !webhooks && !info.Capabilities.EventStream {
			t.Errorf("Inbound is true but the provider has neither webhooks nor an event stream")
		}
	})
}

// checkStatusEvent sends a message and waits for a sent or later status event about it.
func (s Suite) checkStatusEvent(t *testing.T, c *sdk.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), s.Timeout)
	defer cancel()
	events := make(chan sdk.Event)
	streamDone := make(chan error, 1)
	go func() {
		streamDone <- c.Events(ctx, func(e sdk.Event) error {
			select {
			case events <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	// The stream must end before the test does, whatever happens below.
	defer func() {
		cancel()
		<-streamDone
	}()

	sent := s.sendOne(t, c, "event-0")
	for {
		select {
		case e := <-events:
			if err := checkEvent(e); err != nil {
				t.Errorf("bad event %+v: %v", e, err)
				continue
			}
			if e.Status != nil && e.Status.ProviderMessageID == sent.ProviderMessageID {
				if !reached(e.Status.Status) {
					continue // e.g. queued: keep waiting
				}
				return
			}
		case err := <-streamDone:
			streamDone <- err // for the deferred wait
			t.Fatalf("Events ended before a status for %s arrived: %v", sent.ProviderMessageID, err)
		case <-ctx.Done():
			t.Fatalf("no sent/delivered status event for %s within %s", sent.ProviderMessageID, s.Timeout)
		}
	}
}

func (s Suite) testWebhooks(t *testing.T) {
	for i, wc := range s.Webhooks {
		name := wc.Name
		if name == "" {
			name = fmt.Sprintf("%d", i)
		}
		t.Run(name, func(t *testing.T) {
			c, _ := s.configured(t)
			resp, err := c.HandleWebhook(s.ctx(t), wc.Request)
			if wc.WantErr {
				if err == nil {
					t.Errorf("HandleWebhook answered %d, want an error", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("HandleWebhook: %v", err)
			}
			if resp.StatusCode != wc.WantStatus {
				t.Errorf("status %d, want %d (body %q)", resp.StatusCode, wc.WantStatus, resp.Body)
			}
			if len(resp.Inbound) != wc.WantInbound {
				t.Errorf("%d inbound messages, want %d", len(resp.Inbound), wc.WantInbound)
			}
			if len(resp.Statuses) != wc.WantStatuses {
				t.Errorf("%d status updates, want %d", len(resp.Statuses), wc.WantStatuses)
			}
			for _, m := range resp.Inbound {
				if m.From == "" || m.To == "" {
					t.Errorf("inbound message %+v lacks from or to", m)
				}
			}
			for _, u := range resp.Statuses {
				if u.ProviderMessageID == "" || !knownStatus(u.Status) {
					t.Errorf("status update %+v lacks a provider id or a known status", u)
				}
			}
		})
	}
}

// checkAccepted reports a result of a deliverable message that was not accepted.
func checkAccepted(t *testing.T, i int, r sdk.SendResult) {
	t.Helper()
	switch {
	case r.Err != nil:
		t.Errorf("result %d: deliverable message failed: %v", i, r.Err)
	case r.ProviderMessageID == "":
		t.Errorf("result %d: accepted without a provider message id", i)
	case !knownStatus(r.Status):
		t.Errorf("result %d: unknown initial status %q", i, r.Status)
	}
}

func checkEvent(e sdk.Event) error {
	switch {
	case (e.Status == nil) == (e.Inbound == nil):
		return errors.New("exactly one of Status and Inbound must be set")
	case e.Status != nil && !knownStatus(e.Status.Status):
		return fmt.Errorf("unknown status %q", e.Status.Status)
	case e.Inbound != nil && (e.Inbound.From == "" || e.Inbound.To == ""):
		return errors.New("inbound message lacks from or to")
	}
	return nil
}

func knownStatus(s string) bool {
	switch s {
	case sdk.StatusQueued, sdk.StatusSent, sdk.StatusDelivered, sdk.StatusUndelivered, sdk.StatusFailed:
		return true
	}
	return false
}

// reached reports whether a status says the message left the provider (or finally failed).
func reached(s string) bool {
	return s != sdk.StatusQueued
}

func knownClass(c sdk.ErrorClass) bool {
	switch c {
	case sdk.ClassInvalid, sdk.ClassRejected, sdk.ClassUnavailable, sdk.ClassAmbiguous,
		sdk.ClassRateLimited, sdk.ClassAuth, sdk.ClassCredit:
		return true
	}
	return false
}
