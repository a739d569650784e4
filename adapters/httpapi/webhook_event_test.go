package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// TestMessageJSONIsTheAPIMessage: the data of an event webhook (MessageJSON) is byte for
// byte what GET /v1/messages/{id} answers, and an event around it matches the spec's
// WebhookEvent.
func TestMessageJSONIsTheAPIMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sent := e.do(request{method: "POST", path: "/v1/messages", body: `{"from": "ACME", "to": "+14155550101", "text": "hi", "tags": {"k": "v"}}`}).status(202).json()
	id := sent["id"].(string)
	got := e.do(request{method: "GET", path: "/v1/messages/" + id}).status(200)
	m, err := e.store.GetMessage(context.Background(), "alice", id)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(MessageJSON(m))
	if err != nil {
		t.Fatal(err)
	}
	if body := bytes.TrimSpace(got.Body.Bytes()); !bytes.Equal(data, body) {
		t.Fatalf("MessageJSON\n%s\nGET /v1/messages/{id}\n%s", data, body)
	}
	var ev any
	if err := json.Unmarshal([]byte(`{"id": "evt_1", "type": "message.status", "created_at": "2026-11-20T10:00:00.000Z", "data": `+string(data)+`}`), &ev); err != nil {
		t.Fatal(err)
	}
	if err := e.spec.Components.Schemas["WebhookEvent"].Value.VisitJSON(ev); err != nil {
		t.Fatalf("event does not match WebhookEvent: %v", err)
	}
	if err := e.spec.Components.Schemas["WebhookEvent"].Value.VisitJSON(map[string]any{"id": "evt_1", "type": "message.sent", "created_at": "2026-11-20T10:00:00.000Z", "data": ev.(map[string]any)["data"]}); err == nil {
		t.Fatal("WebhookEvent accepts an unknown type")
	}
}
