package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/integration-tests/providersim"
	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/providertest"
)

func TestConformance(t *testing.T) {
	// No per-second cap: the suite's subtests send back to back, and a 429 would fail a
	// deliverable message.
	sim := providersim.NewFlowroute(providersim.FlowrouteOptions{AccessKey: testKey, SecretKey: testSecret, PerSecond: -1})
	// The suite's public URL is not a server: the simulator does not post callbacks, and
	// lookups show the statuses.
	must(t, sim.SetCallbackMode(providersim.CallbackOff, 0))
	must(t, sim.SetRules([]providersim.FlowrouteRule{{Pattern: "1555777*", Refuse: true}}))
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})

	const publicURL, provider = "https://smsgw.example.test", "flowroute"
	hook := func(path string) sdk.WebhookRequest {
		return sdk.WebhookRequest{Method: http.MethodPost, URL: publicURL + "/webhooks/" + provider + path, Path: path,
			Headers: map[string][]string{"Content-Type": {"application/json"}}}
	}
	with := func(r sdk.WebhookRequest, body string) sdk.WebhookRequest {
		r.Body = []byte(body)
		return r
	}
	dlr, inbound := hook(hookPath(dlrPath)), hook(hookPath(inboundPath))
	get := hook(hookPath(dlrPath))
	get.Method = http.MethodGet
	webhooks := []providertest.WebhookCase{
		{Name: "level 1 receipt", Request: with(dlr, dlrBody(1, "smsc submit", "null", "Message has been sent")), WantStatus: 200, WantStatuses: 1},
		{Name: "level 2 receipt", Request: with(dlr, dlrBody(2, "undeliverable", `"1100"`, "Unknown subscriber")), WantStatus: 200, WantStatuses: 1},
		{Name: "receipt of an unknown status", Request: with(dlr, dlrBody(2, "unknown", "null", "")), WantStatus: 200},
		{Name: "inbound", Request: with(inbound, inboundBody), WantStatus: 200, WantInbound: 1},
		{Name: "legacy inbound", Request: with(inbound, `{"to": "15550000000", "from": "15551234567", "body": "hi"}`), WantStatus: 200, WantInbound: 1},
		{Name: "another token", Request: with(hook("/"+testToken[:len(testToken)-1]+"Z"+inboundPath), inboundBody), WantStatus: 404},
		{Name: "no token", Request: with(hook(inboundPath), inboundBody), WantStatus: 404},
		{Name: "bad JSON", Request: with(dlr, `{"data": `), WantStatus: 400},
		{Name: "missing field", Request: with(inbound, `{"from": "15551234567", "body": "hi"}`), WantStatus: 400},
		{Name: "GET", Request: get, WantStatus: 405},
	}

	bad := func(s string) json.RawMessage { return json.RawMessage(s) }
	creds := `"access_key": "` + testKey + `", "secret_key": "s", "webhook_token": "` + testToken + `"`
	cfg, err := json.Marshal(map[string]any{"access_key": testKey, "secret_key": testSecret, "webhook_token": testToken,
		"base_url": srv.URL, "timeout": "5s"})
	must(t, err)
	providertest.Run(t, providertest.Suite{
		New: func() sdk.Provider {
			p := newProvider(hclog.NewNullLogger())
			p.transport = srv.Client().Transport
			return p
		},
		Config: cfg,
		BadConfigs: []json.RawMessage{
			bad(`{}`),
			bad(`{"secret_key": "s", "webhook_token": "` + testToken + `"}`),
			bad(`{"access_key": "k", "webhook_token": "` + testToken + `"}`),
			bad(`{"access_key": "k", "secret_key": "s"}`),
			bad(`{"access_key": "k", "secret_key": "s", "webhook_token": "short"}`),
			bad(`{` + creds + `, "base_url": "api.flowroute.com"}`),
			bad(`{` + creds + `, "timeout": "0s"}`),
			bad(`{` + creds + `, "timeout": 10}`),
			bad(`{` + creds + `, "region": "us-west"}`),
		},
		Deliverable: "+15551234567",
		Failing:     "+15557770001",
		Name:        provider,
		PublicURL:   publicURL,
		Webhooks:    webhooks,
	})
}
