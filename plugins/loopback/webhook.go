package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/smsgw/smsgw/plugins/sdk"
)

// inboundPath is the simulated inbound webhook: POST /webhooks/<provider>/inbound.
const inboundPath = "/inbound"

// inboundPayload is the body of the simulated inbound webhook.
type inboundPayload struct {
	From string `json:"from"`
	To   string `json:"to"`
	Text string `json:"text"`
}

// decodeInbound parses the simulated inbound webhook body; every field is required.
func decodeInbound(body []byte) (inboundPayload, error) {
	var p inboundPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return inboundPayload{}, fmt.Errorf("invalid JSON: %w", err)
	}
	var missing []string
	for _, f := range []struct{ name, value string }{{"from", p.From}, {"to", p.To}, {"text", p.Text}} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return inboundPayload{}, fmt.Errorf("missing or empty field(s): %s", strings.Join(missing, ", "))
	}
	return p, nil
}

func (l *loopback) HandleWebhook(_ context.Context, req sdk.WebhookRequest) (sdk.WebhookResponse, error) {
	if req.Path != inboundPath {
		return jsonResponse(http.StatusNotFound, map[string]any{"ok": false, "error": "not found"}), nil
	}
	if req.Method != http.MethodPost {
		resp := jsonResponse(http.StatusMethodNotAllowed, map[string]any{"ok": false, "error": "method not allowed"})
		resp.Headers["Allow"] = []string{http.MethodPost}
		return resp, nil
	}
	p, err := decodeInbound(req.Body)
	if err != nil {
		return jsonResponse(http.StatusBadRequest, map[string]any{"ok": false, "error": err.Error()}), nil
	}
	now := l.clock.Now().UTC()
	resp := jsonResponse(http.StatusOK, map[string]any{"ok": true})
	resp.Inbound = []sdk.InboundMessage{{
		ProviderMessageID: newID(inboundIDPrefix, now),
		From:              p.From,
		To:                p.To,
		Text:              p.Text,
		At:                now,
	}}
	return resp, nil
}

func jsonResponse(code int, body map[string]any) sdk.WebhookResponse {
	b, _ := json.Marshal(body) // a map of strings and bools always encodes
	return sdk.WebhookResponse{
		StatusCode: code,
		Headers:    map[string][]string{"Content-Type": {"application/json"}},
		Body:       b,
	}
}
