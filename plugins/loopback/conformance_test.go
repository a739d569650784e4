package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/providertest"
)

func TestConformance(t *testing.T) {
	webhooks := []providertest.WebhookCase{
		{
			Name:        "inbound",
			Request:     sdk.WebhookRequest{Method: "POST", Path: "/inbound", Body: []byte(`{"from":"+15550001111","to":"+15550002222","text":"hi"}`)},
			WantStatus:  200,
			WantInbound: 1,
		},
		{
			Name:       "missing field",
			Request:    sdk.WebhookRequest{Method: "POST", Path: "/inbound", Body: []byte(`{"from":"+15550001111","text":"hi"}`)},
			WantStatus: 400,
		},
		{
			Name:       "unknown path",
			Request:    sdk.WebhookRequest{Method: "POST", Path: "/status", Body: []byte(`{}`)},
			WantStatus: 404,
		},
	}
	bad := func(s string) json.RawMessage { return json.RawMessage(s) }
	badConfigs := []json.RawMessage{
		bad(`{"unknown": 1}`),
		bad(`{"delivery_delay": "soon"}`),
		bad(`{"delivery_delay": "-1s"}`),
		bad(`{"timeout": 10}`),
		bad(`{"fail_numbers": "+1555*"}`),
		bad(`{"fail_numbers": ["+1*555"]}`),
		bad(`{"subscribers": {"+15551234567": 5}}`),
		bad(`{"traffic_file": "` + filepath.Join(t.TempDir(), "missing-dir", "traffic.jsonl") + `"}`),
	}
	// The real clock: a delay exercises the timer path, with the suite waiting on channels.
	for _, delay := range []string{"0s", "20ms"} {
		t.Run("delay="+delay, func(t *testing.T) {
			cfg := map[string]any{
				"delivery_delay": delay,
				"fail_numbers":   []string{"+1555666*", "+15557770000"},
				"subscribers":    map[string]string{"+15558880000": "pong"},
				"traffic_file":   filepath.Join(t.TempDir(), "traffic.jsonl"),
				"timeout":        "5s",
			}
			raw, err := json.Marshal(cfg)
			if err != nil {
				t.Fatal(err)
			}
			providertest.Run(t, providertest.Suite{
				New:         func() sdk.Provider { return newLoopback(hclog.NewNullLogger(), systemClock{}) },
				Config:      raw,
				BadConfigs:  badConfigs,
				Deliverable: "+15551234567",
				Failing:     "+15556660123",
				Webhooks:    webhooks,
			})
		})
	}
}
