package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/integration-tests/providersim"
	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall/httpcalltest"
)

// newSim serves a Twilio simulator for the test account and returns it with its base URL.
func newSim(t *testing.T, inboundURL string) (*providersim.Twilio, string) {
	t.Helper()
	sim := providersim.NewTwilio(providersim.TwilioOptions{AccountSID: testSID, AuthToken: testToken, InboundURL: inboundURL, Seed: 1})
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
	sim, base := newSim(t, "")
	must(t, sim.SetCallbackMode(providersim.CallbackOff, 0))
	must(t, sim.SetRules([]providersim.TwilioRule{{Pattern: "+1555777*", Refuse: true, ErrorCode: 21610}}))
	p := configured(t, base, nil)
	res, err := p.Send(t.Context(), []sdk.OutboundMessage{
		msg("ok", "+15551234567"), msg("stop", "+15557770001"), msg("bad", "555"),
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if r := res[0]; r.Err != nil || !strings.HasPrefix(r.ProviderMessageID, "SM") || r.Status != sdk.StatusQueued {
		t.Errorf("deliverable: %+v, want an SM sid, queued", r)
	}
	if e := res[1].Err; e == nil || e.Class != sdk.ClassRejected || e.Code != "21610" || !e.OptOut {
		t.Errorf("unsubscribed: %+v, want rejected 21610 with opt-out", res[1])
	}
	if e := res[2].Err; e == nil || e.Class != sdk.ClassInvalid || e.Code != "21211" || e.OptOut {
		t.Errorf("bad number: %+v, want invalid 21211", res[2])
	}
	msgs := sim.Messages()
	if len(msgs) != 1 {
		t.Fatalf("simulator has %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.SID != res[0].ProviderMessageID || m.From != "+15550000000" || m.To != "+15551234567" || m.Body != "hi ok" ||
		m.StatusCallback != testPublicURL+"/webhooks/tw/status?message_id=ok" {
		t.Errorf("simulator got %+v", m)
	}
}

func TestSimFaults(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(sim *providersim.Twilio)
		token      string
		want       sdk.ErrorClass
		code       string
		retryAfter time.Duration
	}{
		{name: "unavailable", setup: func(sim *providersim.Twilio) { sim.FailNext(1, providersim.FailUnavailable) },
			want: sdk.ClassUnavailable, code: "20503"},
		{name: "rate limit", setup: func(sim *providersim.Twilio) {
			sim.FailNext(1, providersim.FailRateLimit)
			sim.SetRetryAfter(3 * time.Second)
		}, want: sdk.ClassRateLimited, code: "20429", retryAfter: 3 * time.Second},
		{name: "wrong token", setup: func(*providersim.Twilio) {}, token: "not-the-token", want: sdk.ClassAuth, code: "20003"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, base := newSim(t, "")
			must(t, sim.SetCallbackMode(providersim.CallbackOff, 0))
			tc.setup(sim)
			extra := map[string]any{}
			if tc.token != "" {
				extra["auth_token"] = tc.token
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
				t.Errorf("the simulator created %d messages", n)
			}
			// The fault was for one call only: the retry goes through (the wrong token never does).
			if tc.token == "" {
				res, err := p.Send(t.Context(), []sdk.OutboundMessage{msg("m1", "+15551234567")})
				if err != nil || res[0].Err != nil {
					t.Errorf("retry: %+v, %v", res, err)
				}
			}
		})
	}
}

func TestSimPollStatus(t *testing.T) {
	sim, base := newSim(t, "")
	must(t, sim.SetCallbackMode(providersim.CallbackOff, 0))
	must(t, sim.SetRules([]providersim.TwilioRule{
		{Pattern: "+1555666*", Status: "undelivered", ErrorCode: 30003},
		{Pattern: "+1555888*", Status: "failed"},
	}))
	p := configured(t, base, nil)
	res, err := p.Send(t.Context(), []sdk.OutboundMessage{
		msg("a", "+15551234567"), msg("b", "+15556660001"), msg("c", "+15558880001"),
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	ids := []string{"SMunknown"}
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
		{sdk.StatusDelivered, ""}, {sdk.StatusUndelivered, "30003"}, {sdk.StatusFailed, "30008"},
	}
	if len(got) != len(want) {
		t.Fatalf("PollStatus = %+v, want %d updates (the unknown sid left out)", got, len(want))
	}
	for i, w := range want {
		u := got[i]
		if u.ProviderMessageID != ids[i+1] || u.Status != w.status || u.ErrorCode != w.code || u.At.IsZero() {
			t.Errorf("update %d = %+v, want %s %s %q with a time", i, u, ids[i+1], w.status, w.code)
		}
	}
	if n := sim.Stats().Fetches; n != len(ids) {
		t.Errorf("%d fetches, want %d", n, len(ids))
	}
}

func TestSimBalance(t *testing.T) {
	sim, base := newSim(t, "")
	must(t, sim.SetCallbackMode(providersim.CallbackOff, 0))
	p := configured(t, base, nil)
	b, err := p.Balance(t.Context())
	if err != nil || b != (sdk.Balance{Amount: "20.00", Currency: "USD"}) {
		t.Fatalf("Balance = %+v, %v; want 20.00 USD", b, err)
	}
	if res, err := p.Send(t.Context(), []sdk.OutboundMessage{msg("m1", "+15551234567")}); err != nil || res[0].Err != nil {
		t.Fatalf("Send: %+v, %v", res, err)
	}
	if b, err := p.Balance(t.Context()); err != nil || b.Amount != "19.99" {
		t.Errorf("Balance after a send = %+v, %v; want 19.99", b, err)
	}
}

// TestCallbacksEndToEnd: the simulator posts its signed status callbacks to the
// StatusCallback URL the plugin sent, which reaches the plugin's HandleWebhook; every one is
// accepted and parsed, in the order it came.
func TestCallbacksEndToEnd(t *testing.T) {
	tests := []struct {
		mode string
		// want is the statuses parsed for each message, by its fate.
		delivered, undelivered []string
	}{
		{providersim.CallbackNormal,
			[]string{"queued", "sent", "delivered"}, []string{"queued", "sent", "undelivered"}},
		{providersim.CallbackTwice,
			[]string{"queued", "queued", "sent", "sent", "delivered", "delivered"},
			[]string{"queued", "queued", "sent", "sent", "undelivered", "undelivered"}},
		{providersim.CallbackOutOfOrder,
			[]string{"delivered", "sent", "queued"}, []string{"undelivered", "sent", "queued"}},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			gw := httpcalltest.NewGateway(t, "tw")
			sim, base := newSim(t, "")
			must(t, sim.SetCallbackMode(tc.mode, 0))
			must(t, sim.SetRules([]providersim.TwilioRule{{Pattern: "+1555666*", Status: "undelivered", ErrorCode: 30003}}))
			p := configuredAt(t, base, gw.URL, nil)
			gw.SetHandler(p)
			res, err := p.Send(t.Context(), []sdk.OutboundMessage{msg("ok", "+15551234567"), msg("lost", "+15556660001")})
			if err != nil || res[0].Err != nil || res[1].Err != nil {
				t.Fatalf("Send: %+v, %v", res, err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			must(t, sim.WaitCallbacks(ctx, len(tc.delivered)+len(tc.undelivered)))
			for _, c := range sim.Callbacks() {
				if !c.OK() || c.Attempt != 1 {
					t.Errorf("callback %+v was not accepted at once", c)
				}
			}
			statuses, _ := gw.Parsed()
			bySID := map[string][]string{}
			ids := map[string]string{res[0].ProviderMessageID: "ok", res[1].ProviderMessageID: "lost"}
			for _, u := range statuses {
				bySID[u.ProviderMessageID] = append(bySID[u.ProviderMessageID], u.Status)
				// The callback URL names the gateway's message, so a callback that beats
				// the stored sid still finds it.
				if u.MessageID != ids[u.ProviderMessageID] {
					t.Errorf("update %+v names message %q, want %q", u, u.MessageID, ids[u.ProviderMessageID])
				}
				wantCode := ""
				if u.ProviderMessageID == res[1].ProviderMessageID && u.Status == sdk.StatusUndelivered {
					wantCode = "30003"
				}
				if u.ErrorCode != wantCode || u.OptOut {
					t.Errorf("update %+v, want error code %q and no opt-out", u, wantCode)
				}
			}
			for i, want := range [][]string{tc.delivered, tc.undelivered} {
				sid := res[i].ProviderMessageID
				if got := bySID[sid]; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("message %s: statuses %v, want %v", sid, got, want)
				}
			}
		})
	}
}

// TestInboundEndToEnd: the simulator's signed inbound webhook is accepted, answered with
// empty TwiML, and parsed.
func TestInboundEndToEnd(t *testing.T) {
	gw := httpcalltest.NewGateway(t, "tw")
	sim, base := newSim(t, gw.URL+"/webhooks/tw/inbound")
	gw.SetHandler(configuredAt(t, base, gw.URL, nil))
	status, body, err := sim.SendInbound(t.Context(), "+15551234567", "+15550000000", "STOP")
	if err != nil || status != 200 || body != emptyTwiML {
		t.Fatalf("SendInbound = %d %q, %v; want 200 and empty TwiML", status, body, err)
	}
	_, inbound := gw.Parsed()
	if len(inbound) != 1 {
		t.Fatalf("parsed %+v, want one inbound message", inbound)
	}
	m := inbound[0]
	if !strings.HasPrefix(m.ProviderMessageID, "SM") || m.From != "+15551234567" || m.To != "+15550000000" || m.Text != "STOP" {
		t.Errorf("inbound %+v", m)
	}
}

// TestLogsKeepSecrets: whatever happens, the log shows neither the auth token nor a
// message's text.
func TestLogsKeepSecrets(t *testing.T) {
	var buf httpcalltest.LogBuffer
	log := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace, JSONFormat: true})
	gw := httpcalltest.NewGateway(t, "tw")
	sim, base := newSim(t, gw.URL+"/webhooks/tw/inbound")
	must(t, sim.SetRules([]providersim.TwilioRule{{Pattern: "+1555777*", Refuse: true, ErrorCode: 21610}}))
	p := newProvider(log)
	t.Cleanup(p.transport.(*http.Transport).CloseIdleConnections)
	cfg := `{"account_sid": "` + testSID + `", "auth_token": "` + testToken + `", "base_url": "` + base + `"}`
	must(t, p.Configure(t.Context(), sdk.ConfigureRequest{Name: "tw", PublicURL: gw.URL, Config: []byte(cfg)}))
	gw.SetHandler(p)
	const text = "the secret text of a message"
	sim.FailNext(1, providersim.FailUnavailable)
	msgs := []sdk.OutboundMessage{
		{ID: "a", From: "+15550000000", To: "+15551234567", Text: text},
		{ID: "b", From: "+15550000000", To: "+15557770001", Text: text},
		{ID: "c", From: "+15550000000", To: "+15551234568", Text: text},
	}
	if _, err := p.Send(t.Context(), msgs); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if _, _, err := sim.SendInbound(t.Context(), "+15551234567", "+15550000000", text); err != nil {
		t.Fatalf("SendInbound: %v", err)
	}
	forged := signed(inboundPath, gw.URL+"/webhooks/tw/inbound", inboundParams())
	forged.Headers["X-Twilio-Signature"] = []string{"forged"}
	if resp, err := p.HandleWebhook(t.Context(), forged); err != nil || resp.StatusCode != 403 {
		t.Fatalf("forged webhook: %d, %v", resp.StatusCode, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	must(t, sim.WaitIdle(ctx))
	out := buf.String()
	if !strings.Contains(out, "send failed") || !strings.Contains(out, "configured") {
		t.Fatalf("the log lacks the expected lines:\n%s", out)
	}
	for _, secret := range []string{testToken, text} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q:\n%s", secret, out)
		}
	}
}
