package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/integration-tests/providersim"
	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/providertest"
	"github.com/smsgw/smsgw/plugins/twilio/signature"
)

func TestConformance(t *testing.T) {
	sim := providersim.NewTwilio(providersim.TwilioOptions{AccountSID: testSID, AuthToken: testToken})
	// The suite's public URL is not a server: the simulator does not post callbacks, and
	// polling shows the statuses.
	must(t, sim.SetCallbackMode(providersim.CallbackOff, 0))
	must(t, sim.SetRules([]providersim.TwilioRule{{Pattern: "+1555777*", Refuse: true, ErrorCode: 21610}}))
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})

	const publicURL, provider = "https://smsgw.example.test", "twilio"
	hook := func(path string) string { return publicURL + "/webhooks/" + provider + path }
	post := func(path string, params url.Values, sig string) sdk.WebhookRequest {
		return sdk.WebhookRequest{
			Method: http.MethodPost, URL: hook(path), Path: path, Body: []byte(params.Encode()),
			Headers: map[string][]string{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Twilio-Signature": {sig}},
		}
	}
	postSigned := func(path string, params url.Values) sdk.WebhookRequest {
		return post(path, params, signature.Compute(testToken, hook(path), params))
	}
	optOut := statusParams("SM1", "failed")
	optOut.Set("ErrorCode", "21610")
	webhooks := []providertest.WebhookCase{
		{Name: "status", Request: postSigned(statusPath, statusParams("SM1", "delivered")), WantStatus: 200, WantStatuses: 1},
		{Name: "status opt-out", Request: postSigned(statusPath, optOut), WantStatus: 200, WantStatuses: 1},
		{Name: "status of an inbound message", Request: postSigned(statusPath, statusParams("SM1", "received")), WantStatus: 200},
		{Name: "inbound", Request: postSigned(inboundPath, inboundParams()), WantStatus: 200, WantInbound: 1},
		{Name: "unsigned", Request: post(inboundPath, inboundParams(), ""), WantStatus: 403},
		{Name: "signed with another token", Request: post(statusPath, statusParams("SM1", "sent"),
			signature.Compute("another token", hook(statusPath), statusParams("SM1", "sent"))), WantStatus: 403},
		{Name: "missing field", Request: postSigned(inboundPath, url.Values{"MessageSid": {"SM1"}, "Body": {"hi"}}), WantStatus: 400},
		{Name: "unknown path", Request: postSigned("/dlr", statusParams("SM1", "sent")), WantStatus: 404},
		{Name: "GET", Request: sdk.WebhookRequest{Method: http.MethodGet, URL: hook(statusPath), Path: statusPath}, WantStatus: 405},
	}

	bad := func(s string) json.RawMessage { return json.RawMessage(s) }
	creds := `"account_sid": "` + testSID + `", "auth_token": "t"`
	cfg, err := json.Marshal(map[string]any{"account_sid": testSID, "auth_token": testToken, "base_url": srv.URL, "timeout": "5s"})
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
			bad(`{"auth_token": "t"}`),
			bad(`{"account_sid": "` + testSID + `"}`),
			bad(`{"account_sid": "SM123", "auth_token": "t"}`),
			bad(`{` + creds + `, "base_url": "api.twilio.com"}`),
			bad(`{` + creds + `, "timeout": "0s"}`),
			bad(`{` + creds + `, "timeout": 10}`),
			bad(`{` + creds + `, "region": "ie1"}`),
		},
		Deliverable: "+15551234567",
		Failing:     "+15557770001",
		Name:        provider,
		PublicURL:   publicURL,
		Webhooks:    webhooks,
	})
}
