package webhook_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/smsgw/smsgw/webhook"
)

// receiver is an application's endpoint for smsgw's event webhooks: it verifies each
// delivery and handles each event once, however often it is retried.
type receiver struct {
	secret []byte
	mu     sync.Mutex
	seen   map[string]bool // event ids handled; a real application keeps them in its database
}

func (h *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	// Verify the raw body, before decoding it.
	if err := webhook.Verify(h.secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.DefaultTolerance); err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev webhook.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	// Handle each event once. The id is marked seen only once it is handled, under the same
	// lock (a real application: in the transaction that applies it), so a failure part-way
	// answers non-2xx and smsgw's retry gets another chance, and a concurrent retry waits.
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen[ev.ID] {
		w.WriteHeader(http.StatusOK) // a retry of an event already handled: acknowledge it again
		return
	}
	var m struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		http.Error(w, "bad message", http.StatusBadRequest)
		return
	}
	fmt.Printf("%s: message %s is %s\n", ev.Type, m.ID, m.Status)
	h.seen[ev.ID] = true
	w.WriteHeader(http.StatusOK)
}

// Example shows an http.Handler that verifies smsgw's signature and dedupes events by id.
func Example() {
	secret := []byte("the webhook block's secret")
	h := &receiver{secret: secret, seen: map[string]bool{}}

	deliver := func(sig string, body string) int {
		req := httptest.NewRequest(http.MethodPost, "/sms-events", strings.NewReader(body))
		req.Header.Set(webhook.SignatureHeader, sig)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	body := `{"id":"evt_1","type":"message.status","created_at":"2026-11-20T10:00:00.000Z","data":{"id":"m1","status":"delivered"}}`
	sig := webhook.Sign(secret, time.Now(), []byte(body))
	fmt.Println(deliver(sig, body))
	fmt.Println(deliver(sig, body)) // the same event again: acknowledged, not handled twice
	fmt.Println(deliver(webhook.Sign([]byte("another secret"), time.Now(), []byte(body)), body))
	// Output:
	// message.status: message m1 is delivered
	// 200
	// 200
	// 401
}
