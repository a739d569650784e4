package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/integration-tests/providersim"
	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/httpcall/httpcalltest"
)

// configured returns a provider configured against baseURL.
func configured(t *testing.T, baseURL string, extra map[string]any) *provider {
	t.Helper()
	p := newProvider(hclog.NewNullLogger())
	if err := p.Configure(t.Context(), sdk.ConfigureRequest{Name: "fast", Config: testConfig(t, baseURL, extra)}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(p.transport.(*http.Transport).CloseIdleConnections)
	return p
}

func msg(id, to string) sdk.OutboundMessage {
	return sdk.OutboundMessage{ID: id, From: "+15550000000", To: to, Text: "hi " + id}
}

func answering(t *testing.T, status int, header, value string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if header != "" {
			w.Header().Set(header, value)
		}
		w.WriteHeader(status)
		body := `{"error": "said no"}`
		if status == 200 {
			body = `<html>not JSON</html>`
		}
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestSendErrorClasses(t *testing.T) {
	tests := []struct {
		name       string
		url        func(t *testing.T) string
		timeout    string
		want       sdk.ErrorClass
		retryAfter time.Duration
	}{
		{name: "503", url: func(t *testing.T) string {
			sim, srv := newSim(t)
			sim.FailNext(1)
			return srv.URL
		}, want: sdk.ClassUnavailable},
		{name: "connection refused", url: httpcalltest.RefusedURL, want: sdk.ClassUnavailable},
		{name: "timeout after write", timeout: "100ms", url: func(t *testing.T) string {
			sim, srv := newSim(t)
			sim.HangNext(1)
			return srv.URL
		}, want: sdk.ClassAmbiguous},
		{name: "401", url: func(t *testing.T) string {
			sim := providersim.New(providersim.Options{APIKey: "another key"})
			srv := httptest.NewServer(sim)
			t.Cleanup(srv.Close)
			return srv.URL
		}, want: sdk.ClassAuth},
		{name: "400", url: func(t *testing.T) string { return answering(t, 400, "", "") }, want: sdk.ClassRejected},
		{name: "403", url: func(t *testing.T) string { return answering(t, 403, "", "") }, want: sdk.ClassAuth},
		{name: "402", url: func(t *testing.T) string { return answering(t, 402, "", "") }, want: sdk.ClassCredit},
		{name: "429", url: func(t *testing.T) string { return answering(t, 429, "Retry-After", "7") },
			want: sdk.ClassRateLimited, retryAfter: 7 * time.Second},
		{name: "500", url: func(t *testing.T) string { return answering(t, 500, "", "") }, want: sdk.ClassAmbiguous},
		{name: "502", url: func(t *testing.T) string { return answering(t, 502, "", "") }, want: sdk.ClassAmbiguous},
		{name: "200 with garbage", url: func(t *testing.T) string { return answering(t, 200, "", "") }, want: sdk.ClassAmbiguous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := map[string]any{}
			if tt.timeout != "" {
				extra["timeout"] = tt.timeout
			}
			p := configured(t, tt.url(t), extra)
			_, err := p.Send(t.Context(), []sdk.OutboundMessage{msg("m1", "+15551234567"), msg("m2", "+15551234568")})
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			if got := sdk.ClassOf(err); got != tt.want {
				t.Errorf("class %q (%v), want %q", got, err, tt.want)
			}
			var e *sdk.Error
			if errors.As(err, &e) && e.RetryAfter != tt.retryAfter {
				t.Errorf("retry after %s, want %s", e.RetryAfter, tt.retryAfter)
			}
		})
	}
}

func TestSendCancelledBeforeWrite(t *testing.T) {
	_, srv := newSim(t)
	p := configured(t, srv.URL, nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := p.Send(ctx, []sdk.OutboundMessage{msg("m1", "+15551234567")})
	if got := sdk.ClassOf(err); got != sdk.ClassUnavailable {
		t.Errorf("class %q (%v), want unavailable: nothing was written", got, err)
	}
}

func TestSendBatches(t *testing.T) {
	sim, srv := newSim(t)
	p := configured(t, srv.URL, map[string]any{"max_batch": 2})
	msgs := []sdk.OutboundMessage{
		msg("a", "+15551230001"), msg("bad", "555"), msg("b", "+15551230002"),
		msg("c", "+15551230003"), msg("d", "15551230004"), // digits only, as the fastsmsing dialect passes them
	}
	sim.FailNext(1) // the first batch of two (a, b) fails; c, d go through
	res, err := p.Send(t.Context(), msgs)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := []struct {
		id    string
		class sdk.ErrorClass
	}{{"", sdk.ClassUnavailable}, {"", sdk.ClassInvalid}, {"", sdk.ClassUnavailable}, {"c", ""}, {"d", ""}}
	for i, w := range want {
		r := res[i]
		switch {
		case w.class == "" && (r.Err != nil || r.ProviderMessageID != w.id || r.Status != sdk.StatusQueued):
			t.Errorf("result %d = %+v, want accepted as %s", i, r, w.id)
		case w.class != "" && (r.Err == nil || r.Err.Class != w.class):
			t.Errorf("result %d = %+v, want class %s", i, r, w.class)
		}
	}
	var sizes []int
	for _, b := range sim.Batches() {
		sizes = append(sizes, len(b.IDs))
	}
	if len(sizes) != 2 || sizes[0] != 2 || sizes[1] != 2 {
		t.Errorf("batch sizes %v, want [2 2] (max_batch 2, the invalid number left out)", sizes)
	}
	// A retry of the same ids is deduped by the provider.
	if _, err := p.Send(t.Context(), msgs[3:]); err != nil {
		t.Fatal(err)
	}
	if st := sim.Stats(); st.Messages != 2 || st.Duplicates != 2 {
		t.Errorf("stats %+v, want 2 messages and 2 duplicates", st)
	}
}

func TestInfoReportsConfiguredMaxBatch(t *testing.T) {
	_, srv := newSim(t)
	p := newProvider(hclog.NewNullLogger())
	if info, _ := p.Info(t.Context()); info.Capabilities.MaxBatch != defaultMaxBatch {
		t.Errorf("max_batch before Configure = %d, want %d", info.Capabilities.MaxBatch, defaultMaxBatch)
	}
	p = configured(t, srv.URL, map[string]any{"max_batch": 80})
	if info, _ := p.Info(t.Context()); info.Capabilities.MaxBatch != 80 {
		t.Errorf("max_batch after Configure = %d, want 80", info.Capabilities.MaxBatch)
	}
}

func TestBalance(t *testing.T) {
	_, srv := newSim(t)
	p := configured(t, srv.URL, nil)
	b, err := p.Balance(t.Context())
	if err != nil || b.Amount != "1000.00" || b.Currency != "EUR" {
		t.Errorf("Balance = %+v, %v; want 1000.00 EUR", b, err)
	}
	if _, err := newProvider(hclog.NewNullLogger()).Balance(t.Context()); err == nil {
		t.Error("Balance before Configure succeeded")
	}
}
