package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/integration-tests/providersim"
	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall/httpcalltest"
)

// newSim serves a Flowroute simulator for the test account, with no per-second cap unless
// perSecond is set, and returns it with its base URL.
func newSim(t *testing.T, inboundURL string, perSecond int) (*providersim.Flowroute, string) {
	t.Helper()
	if perSecond == 0 {
		perSecond = -1
	}
	return newSimWith(t, providersim.FlowrouteOptions{InboundURL: inboundURL, PerSecond: perSecond})
}

// newSimWith serves a Flowroute simulator for the test account with opts.
func newSimWith(t *testing.T, opts providersim.FlowrouteOptions) (*providersim.Flowroute, string) {
	t.Helper()
	opts.AccessKey, opts.SecretKey, opts.Seed, opts.CallbackBackoff = testKey, testSecret, 1, time.Millisecond
	sim := providersim.NewFlowroute(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	return sim, srv.URL
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestSimSend(t *testing.T) {
	sim, base := newSim(t, "", 0)
	must(t, sim.SetCallbackMode(providersim.CallbackOff, 0))
	must(t, sim.SetRules([]providersim.FlowrouteRule{
		{Pattern: "1555777*", Refuse: true},
		{Pattern: "1555888*", Refuse: true, HTTPStatus: 403, Detail: "not allowed from this number"},
	}))
	p := configured(t, base, nil)
	res, err := p.Send(t.Context(), []sdk.OutboundMessage{
		msg("ok", "+15551234567"), msg("refused", "+15557770001"), msg("forbidden", "+15558880001"), msg("bad", "+447700900123"),
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if r := res[0]; r.Err != nil || !strings.HasPrefix(r.ProviderMessageID, "mdr2-") || r.Status != sdk.StatusQueued {
		t.Errorf("deliverable: %+v, want an mdr2- id, queued", r)
	}
	if e := res[1].Err; e == nil || e.Class != sdk.ClassInvalid || e.Code != "422" || !strings.Contains(e.Message, "refused") {
		t.Errorf("refused: %+v, want invalid 422 with Flowroute's detail", res[1])
	}
	if e := res[2].Err; e == nil || e.Class != sdk.ClassAuth || e.Code != "403" || !strings.Contains(e.Message, "not allowed from this number") {
		t.Errorf("forbidden: %+v, want auth 403", res[2])
	}
	if e := res[3].Err; e == nil || e.Class != sdk.ClassInvalid || e.Code != "" {
		t.Errorf("bad number: %+v, want invalid without a call", res[3])
	}
	msgs := sim.Messages()
	if len(msgs) != 1 {
		t.Fatalf("simulator has %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.ID != res[0].ProviderMessageID || m.From != "15550000000" || m.To != "15551234567" || m.Body != "hi ok" ||
		m.DLRCallback != testPublicURL+"/webhooks/fr/"+testToken+"/dlr?message_id=ok" {
		t.Errorf("simulator got %+v", m)
	}
	if st := sim.Stats(); st.Sends != 3 {
		t.Errorf("%d sends reached the simulator, want 3 (the bad number never leaves)", st.Sends)
	}
}

func TestSimFaults(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(sim *providersim.Flowroute)
		perSecond  int
		secret     string
		want       sdk.ErrorClass
		code       string
		retryAfter time.Duration
	}{
		{name: "unavailable", setup: func(sim *providersim.Flowroute) { sim.FailNext(1, providersim.FailUnavailable) },
			want: sdk.ClassUnavailable, code: "503"},
		{name: "rate limit", setup: func(sim *providersim.Flowroute) {
			sim.FailNext(1, providersim.FailRateLimit)
			sim.SetRetryAfter(3 * time.Second)
		}, want: sdk.ClassRateLimited, code: "429", retryAfter: 3 * time.Second},
		{name: "wrong secret", setup: func(*providersim.Flowroute) {}, secret: "not-the-secret", want: sdk.ClassAuth, code: "401"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, base := newSim(t, "", 0)
			must(t, sim.SetCallbackMode(providersim.CallbackOff, 0))
			tc.setup(sim)
			extra := map[string]any{}
			if tc.secret != "" {
				extra["secret_key"] = tc.secret
			}
			p := configured(t, base, extra)
			res, err := p.Send(t.Context(), []sdk.OutboundMessage{msg("m1", "+15551234567")})
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			e := res[0].Err
			if e == nil || e.Class != tc.want || e.Code != tc.code || e.RetryAfter != tc.retryAfter {
				t.Errorf("result %+v (%v); want %s %s, retry after %s", res[0], e, tc.want, tc.code, tc.retryAfter)
			}
			if n := len(sim.Messages()); n != 0 {
				t.Errorf("the simulator accepted %d messages", n)
			}
			// The fault was for one call only: the retry goes through (the wrong secret never does).
			if tc.secret == "" {
				res, err := p.Send(t.Context(), []sdk.OutboundMessage{msg("m1", "+15551234567")})
				if err != nil || res[0].Err != nil {
					t.Errorf("retry: %+v, %v", res, err)
				}
			}
		})
	}
}

// TestSimPerSecond: a batch over Flowroute's cap gets its tail back as rate_limited, with
// the simulator's Retry-After, and nothing of it is accepted.
func TestSimPerSecond(t *testing.T) {
	// The simulator's clock stands still: the whole batch falls in one second however slow
	// the machine.
	now := time.Now()
	sim, base := newSimWith(t, providersim.FlowrouteOptions{PerSecond: 3, Now: func() time.Time { return now }})
	must(t, sim.SetCallbackMode(providersim.CallbackOff, 0))
	p := configured(t, base, nil)
	msgs := make([]sdk.OutboundMessage, maxBatch)
	for i := range msgs {
		msgs[i] = msg(fmt.Sprintf("m%d", i), fmt.Sprintf("+1555123456%d", i))
	}
	res, err := p.Send(t.Context(), msgs)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	sent, limited := 0, 0
	for i, r := range res {
		switch {
		case r.Err == nil:
			sent++
		case r.Err.Class == sdk.ClassRateLimited && r.Err.RetryAfter == time.Second && r.Err.Code == "429":
			limited++
		default:
			t.Errorf("result %d = %+v, want accepted or rate limited for 1s", i, r)
		}
	}
	if sent != 3 || limited != maxBatch-3 || len(sim.Messages()) != 3 {
		t.Errorf("%d sent, %d rate limited, %d at the simulator; want 3, %d, 3", sent, limited, len(sim.Messages()), maxBatch-3)
	}
}

func TestSimPollStatus(t *testing.T) {
	sim, base := newSim(t, "", 0)
	must(t, sim.SetCallbackMode(providersim.CallbackOff, 0))
	must(t, sim.SetRules([]providersim.FlowrouteRule{
		{Pattern: "1555666*", Status: providersim.FlowrouteUndeliverable, StatusCode: "1234"},
		{Pattern: "1555888*", Status: providersim.FlowrouteSMSCReject},
		{Pattern: "1555999*", Status: providersim.FlowrouteExpired},
	}))
	p := configured(t, base, nil)
	res, err := p.Send(t.Context(), []sdk.OutboundMessage{
		msg("a", "+15551234567"), msg("b", "+15556660001"), msg("c", "+15558880001"), msg("d", "+15559990001"),
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	ids := []string{"mdr2-unknown"}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("send %d: %v", i, r.Err)
		}
		ids = append(ids, r.ProviderMessageID)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	must(t, sim.WaitIdle(ctx))
	got, err := p.PollStatus(t.Context(), ids)
	if err != nil {
		t.Fatalf("PollStatus: %v", err)
	}
	want := []struct{ status, code string }{
		{sdk.StatusDelivered, ""}, {sdk.StatusUndelivered, "1234"}, {sdk.StatusFailed, "1104"}, {sdk.StatusUndelivered, "1101"},
	}
	if len(got) != len(want) {
		t.Fatalf("PollStatus = %+v, want %d updates (the unknown id left out)", got, len(want))
	}
	for i, w := range want {
		u := got[i]
		if u.ProviderMessageID != ids[i+1] || u.Status != w.status || u.ErrorCode != w.code || u.At.IsZero() ||
			(w.code != "") != (u.ErrorMessage != "") {
			t.Errorf("update %d = %+v, want %s %s %q with a time", i, u, ids[i+1], w.status, w.code)
		}
	}
	if n := sim.Stats().Fetches; n != len(ids) {
		t.Errorf("%d lookups, want %d", n, len(ids))
	}
}

// TestCallbacksEndToEnd: the simulator posts both receipt levels to the dlr_callback the
// plugin sent, which reaches the plugin's HandleWebhook; every one is accepted and parsed,
// in the order it came, naming the gateway's message.
func TestCallbacksEndToEnd(t *testing.T) {
	tests := []struct {
		mode string
		// the statuses parsed for each message, by its fate
		delivered, undelivered, rejected []string
	}{
		{providersim.CallbackNormal,
			[]string{"sent", "delivered"}, []string{"sent", "undelivered"}, []string{"failed"}},
		{providersim.CallbackTwice,
			[]string{"sent", "sent", "delivered", "delivered"}, []string{"sent", "sent", "undelivered", "undelivered"}, []string{"failed", "failed"}},
		{providersim.CallbackOutOfOrder,
			[]string{"delivered", "sent"}, []string{"undelivered", "sent"}, []string{"failed"}},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			gw := httpcalltest.NewGateway(t, "fr")
			sim, base := newSim(t, "", 0)
			must(t, sim.SetCallbackMode(tc.mode, 0))
			must(t, sim.SetRules([]providersim.FlowrouteRule{
				{Pattern: "1555666*", Status: providersim.FlowrouteUndeliverable, StatusCode: "1100"},
				{Pattern: "1555777*", Status: providersim.FlowrouteSMSCReject, StatusCode: "1104"},
			}))
			p := configuredAt(t, base, gw.URL, nil)
			gw.SetHandler(p)
			res, err := p.Send(t.Context(), []sdk.OutboundMessage{
				msg("ok", "+15551234567"), msg("lost", "+15556660001"), msg("refused", "+15557770001"),
			})
			if err != nil || res[0].Err != nil || res[1].Err != nil || res[2].Err != nil {
				t.Fatalf("Send: %+v, %v", res, err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			must(t, sim.WaitCallbacks(ctx, len(tc.delivered)+len(tc.undelivered)+len(tc.rejected)))
			for _, c := range sim.Callbacks() {
				if !c.OK() || c.Attempt != 1 {
					t.Errorf("callback %+v was not accepted at once", c)
				}
			}
			statuses, _ := gw.Parsed()
			byID := map[string][]string{}
			ids := map[string]string{res[0].ProviderMessageID: "ok", res[1].ProviderMessageID: "lost", res[2].ProviderMessageID: "refused"}
			for _, u := range statuses {
				byID[u.ProviderMessageID] = append(byID[u.ProviderMessageID], u.Status)
				// The callback URL names the gateway's message, so a receipt that beats the
				// stored id still finds it.
				if u.MessageID != ids[u.ProviderMessageID] {
					t.Errorf("update %+v names message %q, want %q", u, u.MessageID, ids[u.ProviderMessageID])
				}
				wantCode := map[string]string{sdk.StatusUndelivered: "1100", sdk.StatusFailed: "1104"}[u.Status]
				if u.ErrorCode != wantCode || u.OptOut || u.At.IsZero() {
					t.Errorf("update %+v, want error code %q", u, wantCode)
				}
			}
			for i, want := range [][]string{tc.delivered, tc.undelivered, tc.rejected} {
				id := res[i].ProviderMessageID
				if got := byID[id]; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("message %s: statuses %v, want %v", id, got, want)
				}
			}
		})
	}
}

// TestInboundEndToEnd: the simulator's inbound callbacks, in both shapes, are accepted and
// parsed with E.164 numbers; one posted with another token is refused with a bare 404.
func TestInboundEndToEnd(t *testing.T) {
	gw := httpcalltest.NewGateway(t, "fr")
	sim, base := newSim(t, gw.URL+"/webhooks/fr/"+testToken+"/inbound", 0)
	gw.SetHandler(configuredAt(t, base, gw.URL, nil))
	status, body, err := sim.SendInbound(t.Context(), "+15551234567", "+15550000000", "STOP")
	if err != nil || status != 200 || body != "" {
		t.Fatalf("SendInbound = %d %q, %v; want 200", status, body, err)
	}
	status, _, err = sim.SendLegacyInbound(t.Context(), "15551234568", "15550000000", "hello")
	if err != nil || status != 200 {
		t.Fatalf("SendLegacyInbound = %d, %v; want 200", status, err)
	}
	sim.SetInboundURL(gw.URL + "/webhooks/fr/" + strings.Repeat("x", len(testToken)) + "/inbound")
	status, body, err = sim.SendInbound(t.Context(), "+15551234567", "+15550000000", "forged")
	if err != nil || status != 404 || body != "not found\n" {
		t.Errorf("SendInbound with another token = %d %q, %v; want a bare 404", status, body, err)
	}
	_, inbound := gw.Parsed()
	if len(inbound) != 2 {
		t.Fatalf("parsed %+v, want two inbound messages", inbound)
	}
	if m := inbound[0]; !strings.HasPrefix(m.ProviderMessageID, "mdr2-") || m.From != "+15551234567" || m.To != "+15550000000" || m.Text != "STOP" || m.At.IsZero() {
		t.Errorf("JSON:API inbound %+v", m)
	}
	if m := inbound[1]; m.ProviderMessageID != "" || m.From != "+15551234568" || m.To != "+15550000000" || m.Text != "hello" {
		t.Errorf("legacy inbound %+v", m)
	}
}

// TestLogsKeepSecrets: whatever happens, the log shows neither the secret key, nor the
// webhook token, nor a message's text.
func TestLogsKeepSecrets(t *testing.T) {
	var buf httpcalltest.LogBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace, JSONFormat: true})
	gw := httpcalltest.NewGateway(t, "fr")
	sim, base := newSim(t, gw.URL+"/webhooks/fr/"+testToken+"/inbound", 0)
	must(t, sim.SetRules([]providersim.FlowrouteRule{
		{Pattern: "1555777*", Refuse: true},
		{Pattern: "1555666*", Status: providersim.FlowrouteUndeliverable},
	}))
	p := newProvider(log)
	configure(t, p, base, gw.URL, nil)
	gw.SetHandler(p)
	const text = "the secret text of a message"
	sim.FailNext(1, providersim.FailUnavailable)
	msgs := []sdk.OutboundMessage{
		{ID: "a", From: "+15550000000", To: "+15551234567", Text: text},
		{ID: "b", From: "+15550000000", To: "+15557770001", Text: text},
		{ID: "c", From: "+15550000000", To: "+15556660001", Text: text},
		{ID: "d", From: "+15550000000", To: "+15551234568", Text: text},
	}
	if _, err := p.Send(t.Context(), msgs); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if _, _, err := sim.SendInbound(t.Context(), "+15551234567", "+15550000000", text); err != nil {
		t.Fatalf("SendInbound: %v", err)
	}
	forged := post("/"+testToken[:len(testToken)-1]+"Z"+inboundPath, "", inboundBody)
	if resp, err := p.HandleWebhook(t.Context(), forged); err != nil || resp.StatusCode != 404 {
		t.Fatalf("forged webhook: %d, %v", resp.StatusCode, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	must(t, sim.WaitIdle(ctx))
	if _, err := p.PollStatus(t.Context(), []string{sim.Messages()[0].ID}); err != nil {
		t.Fatalf("PollStatus: %v", err)
	}
	out := buf.String()
	for _, line := range []string{"send failed", "configured", "delivery receipt", "inbound message", "webhook refused"} {
		if !strings.Contains(out, line) {
			t.Fatalf("the log lacks %q:\n%s", line, out)
		}
	}
	for _, secret := range []string{testSecret, testToken, testToken[:len(testToken)-1], text} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q:\n%s", secret, out)
		}
	}
}
