package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/providertest"
)

// providertest and the SDK's gRPC plumbing start goroutines; none may outlive the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestConformance is the suite every provider plugin must pass: it drives the echo through
// the SDK's real gRPC server and client, as the gateway will.
func TestConformance(t *testing.T) {
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	providertest.Run(t, providertest.Suite{
		New:    func() sdk.Provider { return newEcho(hclog.NewNullLogger()) },
		Config: raw(`{"credits": 100, "reply": true, "reply_prefix": "echo: ", "max_batch": 10}`),
		BadConfigs: []json.RawMessage{
			raw(`{"colour": "blue"}`),
			raw(`{"credits": -5}`),
			raw(`{"credits": "lots"}`),
			raw(`{"reply": "yes"}`),
			raw(`{"max_batch": 0}`),
			raw(`"credits"`),
		},
		Deliverable: "+15551230000",
	})
}

// configured returns an echo that accepted cfg.
func configured(t *testing.T, cfg string) *echo {
	t.Helper()
	e := newEcho(hclog.NewNullLogger())
	if err := e.Configure(t.Context(), sdk.ConfigureRequest{Name: "echo", Config: json.RawMessage(cfg)}); err != nil {
		t.Fatalf("Configure(%s): %v", cfg, err)
	}
	return e
}

func msg(id, to string) sdk.OutboundMessage {
	return sdk.OutboundMessage{ID: id, From: "+15550000001", To: to, Text: "hello " + id}
}

// drain returns the events queued so far, without waiting.
func drain(e *echo) []sdk.Event {
	var out []sdk.Event
	for {
		select {
		case ev := <-e.events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func TestSendSpendsCredits(t *testing.T) {
	e := configured(t, `{"credits": 2}`)
	ctx := t.Context()
	res, err := e.Send(ctx, []sdk.OutboundMessage{msg("a", "+15551230001"), msg("b", ""), msg("c", "+15551230003"), msg("d", "+15551230004")})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	wantClass := []sdk.ErrorClass{"", sdk.ClassInvalid, "", sdk.ClassCredit}
	for i, r := range res {
		switch {
		case wantClass[i] == "" && (r.Err != nil || r.Status != sdk.StatusSent || !isOutboundID(r.ProviderMessageID)):
			t.Errorf("result %d = %+v, want sent with an echo id", i, r)
		case wantClass[i] != "" && (r.Err == nil || r.Err.Class != wantClass[i] || r.ProviderMessageID != ""):
			t.Errorf("result %d = %+v, want a %s error", i, r, wantClass[i])
		}
	}
	if len(res) != 4 || res[0].ProviderMessageID == res[2].ProviderMessageID {
		t.Fatalf("results %+v: want 4 with distinct ids", res)
	}
	if b, err := e.Balance(ctx); err != nil || b.Amount != "0" || b.Currency != balanceCurrency {
		t.Errorf("Balance = %+v, %v; want 0 %s", b, err, balanceCurrency)
	}

	// A new Configure (after a plugin restart) refills the credits.
	if err := e.Configure(ctx, sdk.ConfigureRequest{Config: json.RawMessage(`{"credits": 5}`)}); err != nil {
		t.Fatal(err)
	}
	if b, _ := e.Balance(ctx); b.Amount != "5" {
		t.Errorf("Balance after Configure = %+v, want 5", b)
	}
}

func TestSendRejectsABatchOverMaxBatch(t *testing.T) {
	e := configured(t, `{"max_batch": 2, "credits": 9}`)
	_, err := e.Send(t.Context(), []sdk.OutboundMessage{msg("a", "+1"), msg("b", "+1"), msg("c", "+1")})
	if sdk.ClassOf(err) != sdk.ClassInvalid {
		t.Errorf("Send of 3 with max_batch 2 = %v, want a %s error", err, sdk.ClassInvalid)
	}
	if info, _ := e.Info(t.Context()); info.Capabilities.MaxBatch != 2 {
		t.Errorf("Info MaxBatch = %d, want the configured 2", info.Capabilities.MaxBatch)
	}
	if b, _ := e.Balance(t.Context()); b.Amount != "9" {
		t.Errorf("a refused batch spent credits: balance %s", b.Amount)
	}
}

func TestDeliveryEvents(t *testing.T) {
	tests := []struct {
		name      string
		cfg       string
		wantReply string // "" = no inbound reply
	}{
		{name: "default: no reply", cfg: `{}`},
		{name: "reply", cfg: `{"reply": true}`, wantReply: "echo: hello m1"},
		{name: "own prefix", cfg: `{"reply": true, "reply_prefix": "you said: "}`, wantReply: "you said: hello m1"},
		{name: "no reply", cfg: `{"reply": false}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := configured(t, tc.cfg)
			at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			e.now = func() time.Time { return at }
			m := msg("m1", "+15551230001")
			res, err := e.Send(t.Context(), []sdk.OutboundMessage{m})
			if err != nil || res[0].Err != nil {
				t.Fatalf("Send = %+v, %v", res, err)
			}
			evs := drain(e)
			want := 1
			if tc.wantReply != "" {
				want = 2
			}
			if len(evs) != want {
				t.Fatalf("%d events %+v, want %d", len(evs), evs, want)
			}
			st := evs[0].Status
			if st == nil || st.ProviderMessageID != res[0].ProviderMessageID || st.MessageID != "m1" ||
				st.Status != sdk.StatusDelivered || !st.At.Equal(at) {
				t.Errorf("first event %+v, want the delivery of %s at %s", evs[0], res[0].ProviderMessageID, at)
			}
			if tc.wantReply == "" {
				return
			}
			in := evs[1].Inbound
			if in == nil || in.From != m.To || in.To != m.From || in.Text != tc.wantReply || isOutboundID(in.ProviderMessageID) {
				t.Errorf("second event %+v, want the reply %q from %s to %s", evs[1], tc.wantReply, m.To, m.From)
			}
		})
	}
}

func TestEventsKeepsAnEventTheStreamFailedToTake(t *testing.T) {
	e := configured(t, `{"reply": false}`)
	res, err := e.Send(t.Context(), []sdk.OutboundMessage{msg("m1", "+15551230001")})
	if err != nil {
		t.Fatal(err)
	}
	broken := errors.New("stream broken")
	if err := e.Events(t.Context(), func(sdk.Event) error { return broken }); !errors.Is(err, broken) {
		t.Fatalf("Events = %v, want the emit error", err)
	}
	// The next subscriber still gets it.
	ctx, cancel := context.WithCancel(t.Context())
	var got []sdk.Event
	err = e.Events(ctx, func(ev sdk.Event) error {
		got = append(got, ev)
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || len(got) != 1 || got[0].Status.ProviderMessageID != res[0].ProviderMessageID {
		t.Errorf("second subscription: %v, events %+v", err, got)
	}
}

func TestPollStatus(t *testing.T) {
	e := configured(t, `{"reply": true}`)
	res, err := e.Send(t.Context(), []sdk.OutboundMessage{msg("m1", "+15551230001")})
	if err != nil {
		t.Fatal(err)
	}
	replyID := drain(e)[1].Inbound.ProviderMessageID
	ids := []string{res[0].ProviderMessageID, "echo-nothex!!!!!!!!", "twilio-SM123", replyID, "echo-00112233445566778899"}
	got, err := e.PollStatus(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ProviderMessageID != ids[0] || got[0].Status != sdk.StatusDelivered {
		t.Errorf("PollStatus(%q) = %+v, want only %s delivered", ids, got, ids[0])
	}
}

func TestNoConfigDeliversEverythingAndHasNoBalance(t *testing.T) {
	// API.md §9: the echo needs no config, and every message it is given ends delivered —
	// however many: without credits nothing is counted, so there is no balance either.
	e := configured(t, `{}`)
	for i := range 3 {
		res, err := e.Send(t.Context(), []sdk.OutboundMessage{msg(fmt.Sprint("m", i), "+15550000000")})
		if err != nil || res[0].Err != nil || res[0].Status != sdk.StatusSent {
			t.Fatalf("send %d: %+v, %v", i, res, err)
		}
	}
	if info, _ := e.Info(t.Context()); info.Capabilities.Balance {
		t.Error("Info claims a balance without config.credits")
	}
	if _, err := e.Balance(t.Context()); !errors.Is(err, sdk.ErrUnimplemented) {
		t.Errorf("Balance without credits = %v, want ErrUnimplemented", err)
	}
}
