package integration

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/integration-tests/harness"
)

// The default opt_out.stop_reply and start_reply (README, configs/example.hcl).
const (
	defaultStopReply  = "You have been unsubscribed. Reply START to resubscribe."
	defaultStartReply = "You have been resubscribed. Reply STOP to unsubscribe."
)

// apiError is the v1 error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// smsappAnswer is the smsapp dialect's body (API.md §8.1).
type smsappAnswer struct {
	Message string `json:"message"`
	Error   string `json:"error"`
}

// optOut is an opt-out record (API.md §2).
type optOut struct {
	Sender    string  `json:"sender"`
	Recipient string  `json:"recipient"`
	Source    string  `json:"source"`
	CreatedAt string  `json:"created_at"`
	ExpiresAt *string `json:"expires_at"`
}

func listOptOuts(ctx context.Context, t *testing.T, c *harness.Client, sender, recipient string) []optOut {
	t.Helper()
	var list struct {
		Items []optOut `json:"items"`
	}
	q := url.Values{"sender": {sender}, "recipient": {recipient}}
	if code, err := c.Do(ctx, http.MethodGet, "/v1/opt-outs?"+q.Encode(), nil, &list); err != nil || code != http.StatusOK {
		t.Fatalf("list opt-outs: %d %v", code, err)
	}
	return list.Items
}

// startReplicas starts n gateways on one database with the same config.
func startReplicas(t *testing.T, dir string, s setup, n int) []*harness.Client {
	t.Helper()
	var clients []*harness.Client
	for range n {
		cfg, addr := writeConfig(t, dir, s)
		g := start(t, dir, cfg, addr)
		clients = append(clients, harness.NewClient(g.URL, user, password))
	}
	return clients
}

// concurrently runs f(i) for i in [0, n) on n goroutines released at once.
func concurrently(n int, f func(i int)) {
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-gate
			f(i)
		}()
	}
	ready.Wait()
	close(gate)
	done.Wait()
}

// checkRetryAfter reports a Retry-After that is not whole seconds in [1, 3600] (the window).
func checkRetryAfter(t *testing.T, r *harness.Response) {
	t.Helper()
	v := r.Header.Get("Retry-After")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 3600 {
		t.Errorf("Retry-After %q: want integer seconds in [1, 3600] (request %s, body %s)", v, r.Header.Get("X-Request-Id"), r.Body)
	}
}

// TestRateLimitExactAcrossReplicas: two gateways on one Postgres, limits 50 per hour: 200
// concurrent sends for one `from` spread over both are exactly 50 accepted (50 distinct ids,
// 50 stored messages) and 150 refused 429 rate_limited with a Retry-After — through v1 and,
// for another `from`, through the smsapp dialect, which shares the limiter.
func TestRateLimitExactAcrossReplicas(t *testing.T) {
	const (
		n     = 200
		limit = 50
	)
	dir := t.TempDir()
	s := storeSetup(t, "postgres", dir)
	s.policy = "limits {\n  per_sender = 50\n  window = \"1h\"\n}\ncompat {\n  smsapp {}\n}\n"
	clients := startReplicas(t, dir, s, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	type answer struct {
		code int
		resp *harness.Response
		err  error
	}
	run := func(path string, body func(i int) map[string]string) []answer {
		answers := make([]answer, n)
		concurrently(n, func(i int) {
			r, err := clients[i%len(clients)].DoRaw(ctx, http.MethodPost, path, nil, body(i))
			answers[i] = answer{resp: r, err: err}
			if err == nil {
				answers[i].code = r.Code
			}
		})
		return answers
	}

	t.Run("v1", func(t *testing.T) {
		from := "+14155550100"
		answers := run("/v1/messages", func(i int) map[string]string {
			return map[string]string{"from": from, "to": fmt.Sprintf("+1415556%04d", i), "text": fmt.Sprintf("burst %d", i)}
		})
		ids := map[string]bool{}
		codes := map[int]int{}
		for i, a := range answers {
			if a.err != nil {
				t.Fatalf("request %d: %v", i, a.err)
			}
			codes[a.code]++
			switch a.code {
			case http.StatusAccepted:
				var m harness.Message
				if err := a.resp.Decode(&m); err != nil {
					t.Fatal(err)
				}
				if m.ID == "" || m.From != from {
					t.Errorf("accepted message %+v", m)
				}
				ids[m.ID] = true
			case http.StatusTooManyRequests:
				var e apiError
				if err := a.resp.Decode(&e); err != nil {
					t.Fatal(err)
				}
				if e.Error.Code != "rate_limited" {
					t.Errorf("429 body %s", a.resp.Body)
				}
				checkRetryAfter(t, a.resp)
			default:
				t.Errorf("request %d: unexpected %d %s", i, a.code, a.resp.Body)
			}
		}
		if codes[http.StatusAccepted] != limit || codes[http.StatusTooManyRequests] != n-limit {
			t.Fatalf("answers %v: want %d×202 and %d×429", codes, limit, n-limit)
		}
		if len(ids) != limit {
			t.Fatalf("%d distinct ids among %d accepted", len(ids), limit)
		}
		stored, err := clients[0].ListMessages(ctx, "from="+url.QueryEscape(from))
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != limit {
			t.Fatalf("%d messages stored for %s, want %d", len(stored), from, limit)
		}
		for _, m := range stored {
			if !ids[m.ID] {
				t.Errorf("stored message %s was not among the accepted ids", m.ID)
			}
		}
		// A 51st from either replica, after the burst, is refused too.
		for _, c := range clients {
			if code, _, err := c.Send(ctx, from, "+14155569999", "late"); err != nil || code != http.StatusTooManyRequests {
				t.Errorf("send after the burst: %d %v, want 429", code, err)
			}
		}
	})

	t.Run("smsapp", func(t *testing.T) {
		// Valid in both dialects (a v1 alphanumeric sender id), so v1 can check the count.
		from := "LegacyApp1"
		answers := run("/outbound/sms", func(i int) map[string]string {
			return map[string]string{"from": from, "to": fmt.Sprintf("user-%04d", i), "text": fmt.Sprintf("burst %d", i)}
		})
		codes := map[int]int{}
		for i, a := range answers {
			if a.err != nil {
				t.Fatalf("request %d: %v", i, a.err)
			}
			codes[a.code]++
			var body smsappAnswer
			if err := a.resp.Decode(&body); err != nil {
				t.Fatal(err)
			}
			switch a.code {
			case http.StatusOK:
				if body != (smsappAnswer{Message: "outbound sms is ok"}) {
					t.Errorf("200 body %s", a.resp.Body)
				}
			case http.StatusTooManyRequests:
				if body != (smsappAnswer{Error: "limit reached for from " + from}) {
					t.Errorf("429 body %s", a.resp.Body)
				}
				checkRetryAfter(t, a.resp)
			default:
				t.Errorf("request %d: unexpected %d %s", i, a.code, a.resp.Body)
			}
		}
		if codes[http.StatusOK] != limit || codes[http.StatusTooManyRequests] != n-limit {
			t.Fatalf("answers %v: want %d×200 and %d×429", codes, limit, n-limit)
		}
		stored, err := clients[1].ListMessages(ctx, "direction=outbound&from="+url.QueryEscape(from))
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != limit {
			t.Fatalf("%d messages stored for %q, want %d", len(stored), from, limit)
		}
		// The same limiter: a v1 send from this sender is refused too.
		r, err := clients[0].DoRaw(ctx, http.MethodPost, "/v1/messages", nil, map[string]string{"from": from, "to": "+14155569998", "text": "v1 after smsapp"})
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		if r.Code != http.StatusTooManyRequests || r.Decode(&e) != nil || e.Error.Code != "rate_limited" {
			t.Errorf("v1 send from %s after its smsapp burst: %d %s, want 429 rate_limited", from, r.Code, r.Body)
		}
		checkRetryAfter(t, r)
	})
}

// waitTraffic polls the loopback traffic file until match holds for want lines or ctx ends,
// then returns the matching lines.
func waitTraffic(ctx context.Context, t *testing.T, path string, want int, match func(harness.TrafficLine) bool) []harness.TrafficLine {
	t.Helper()
	for {
		lines, err := harness.ReadTraffic(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []harness.TrafficLine
		for _, l := range lines {
			if match(l) {
				got = append(got, l)
			}
		}
		if len(got) >= want {
			return got
		}
		select {
		case <-ctx.Done():
			t.Fatalf("traffic file: %d matching lines, want %d (%v); all lines: %+v", len(got), want, ctx.Err(), lines)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestSMSAppStopTTL: the smsapp STOP blocks the same direction for compat.smsapp.stop_ttl:
// outbound A→B is 403 with the legacy text while the block lasts, v1 lists it as an
// `smsapp` opt-out with its expires_at, and once the wall clock is past expires_at the
// outbound is 200 and the message is delivered through the loopback plugin, exactly once.
func TestSMSAppStopTTL(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			const ttl = 2 * time.Second
			dir := t.TempDir()
			s := storeSetup(t, driver, dir)
			s.policy = noLimits + "compat {\n  smsapp {\n    stop_ttl = \"2s\"\n  }\n}\n"
			cfg, addr := writeConfig(t, dir, s)
			g := start(t, dir, cfg, addr)
			c := harness.NewClient(g.URL, user, password)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// Verbatim smsapp numbers: 6–16 characters of any kind.
			a, b := "Shop A #1", "+44 (0)7700-b"
			pair := map[string]string{"from": a, "to": b}
			outbound := func(text string) (*harness.Response, smsappAnswer) {
				t.Helper()
				r, err := c.DoRaw(ctx, http.MethodPost, "/outbound/sms", nil, map[string]string{"from": a, "to": b, "text": text})
				if err != nil {
					t.Fatal(err)
				}
				var body smsappAnswer
				if err := r.Decode(&body); err != nil {
					t.Fatal(err)
				}
				return r, body
			}
			blocked := smsappAnswer{Error: fmt.Sprintf("sms from %s and to %s blocked by STOP request", a, b)}

			stopAt := time.Now()
			pair["text"] = " STOP \n"
			r, err := c.DoRaw(ctx, http.MethodPost, "/inbound/sms", nil, pair)
			if err != nil {
				t.Fatal(err)
			}
			if r.Code != http.StatusOK || string(r.Body) != `{"message":"inbound sms is ok","error":""}` {
				t.Fatalf("inbound STOP: %d %s", r.Code, r.Body)
			}
			if r, body := outbound("blocked"); r.Code != http.StatusForbidden || body != blocked {
				t.Fatalf("outbound after STOP: %d %s, want 403 %+v", r.Code, r.Body, blocked)
			}
			items := listOptOuts(ctx, t, c, a, b)
			if len(items) != 1 || items[0].Source != "smsapp" || items[0].ExpiresAt == nil {
				t.Fatalf("opt-outs for the pair: %+v", items)
			}
			expiresAt, err := time.Parse(time.RFC3339Nano, *items[0].ExpiresAt)
			if err != nil {
				t.Fatal(err)
			}
			if d := expiresAt.Sub(stopAt); d < ttl-time.Second || d > ttl+5*time.Second {
				t.Fatalf("expires_at %s is %s after the STOP was sent, want ~%s", expiresAt, d, ttl)
			}
			// The reverse direction is not blocked (same-direction block only).
			if rev := listOptOuts(ctx, t, c, b, a); len(rev) != 0 {
				t.Fatalf("reverse-direction opt-outs: %+v", rev)
			}

			// Poll until the block has expired. expires_at has millisecond precision, so
			// keep a few milliseconds either side of it where both answers are fair.
			const slack = 5 * time.Millisecond
			deadline := time.Now().Add(15 * time.Second)
			polls := 0
			for {
				if time.Now().After(deadline) {
					t.Fatalf("still blocked 15s after the STOP (expires_at %s, %d polls)", expiresAt, polls)
				}
				t0 := time.Now()
				r, body := outbound("after the ttl")
				t1 := time.Now()
				polls++
				if r.Code == http.StatusOK {
					if body != (smsappAnswer{Message: "outbound sms is ok"}) {
						t.Fatalf("200 body %s", r.Body)
					}
					if t1.Before(expiresAt.Add(-slack)) {
						t.Fatalf("accepted at %s, before expires_at %s", t1, expiresAt)
					}
					break
				}
				if r.Code != http.StatusForbidden || body != blocked {
					t.Fatalf("outbound while polling: %d %s", r.Code, r.Body)
				}
				if t0.After(expiresAt.Add(slack)) {
					t.Fatalf("still 403 for a request sent at %s, after expires_at %s", t0, expiresAt)
				}
				time.Sleep(100 * time.Millisecond) // poll interval, not synchronisation
			}
			if items := listOptOuts(ctx, t, c, a, b); len(items) != 0 {
				t.Errorf("expired opt-out still listed: %+v", items)
			}
			sent, err := c.ListMessages(ctx, "direction=outbound&from="+url.QueryEscape(a))
			if err != nil {
				t.Fatal(err)
			}
			if len(sent) != 1 || sent[0].Text != "after the ttl" || sent[0].To != b {
				t.Fatalf("outbound messages stored: %+v (refusals must store nothing)", sent)
			}
			final, err := c.WaitFinal(ctx, sent[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if final.Status != "delivered" {
				t.Fatalf("final %+v", final)
			}
			lines := waitTraffic(ctx, t, s.trafficFile, 1, func(l harness.TrafficLine) bool { return true })
			if len(lines) != 1 || lines[0].ID != final.ID || lines[0].From != a || lines[0].To != b {
				t.Fatalf("traffic: %+v", lines)
			}
			t.Logf("blocked until %s; %d polls; delivered %s", expiresAt.Format(time.RFC3339Nano), polls, final.ID)
		})
	}
}

// TestInboundStopThroughLoopback: on each store, an inbound STOP through the loopback
// webhook from B to A blocks v1 sends A→B (403 recipient_opted_out, nothing stored), the
// stop_reply goes from A to B through the loopback plugin (one traffic line), and START
// lifts the block (start_reply sent, and a v1 send A→B is 202 and delivered).
func TestInboundStopThroughLoopback(t *testing.T) {
	for _, driver := range []string{"sqlite", "postgres"} {
		t.Run(driver, func(t *testing.T) {
			dir := t.TempDir()
			s := storeSetup(t, driver, dir)
			s.policy = defaultPolicy
			cfg, addr := writeConfig(t, dir, s)
			g := start(t, dir, cfg, addr)
			c := harness.NewClient(g.URL, user, password)
			anon := harness.NewClient(g.URL, "", "")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			a, b := "+14155550100", "+14155550199"
			inbound := func(text string) {
				t.Helper()
				var ok map[string]any
				code, err := anon.Do(ctx, http.MethodPost, "/webhooks/loopback/inbound", map[string]string{"from": b, "to": a, "text": text}, &ok)
				if err != nil || code != http.StatusOK || ok["ok"] != true {
					t.Fatalf("inbound %q: %d %v %v", text, code, ok, err)
				}
			}
			fromAToB := func(text string) func(harness.TrafficLine) bool {
				return func(l harness.TrafficLine) bool { return l.From == a && l.To == b && l.Text == text }
			}

			inbound("STOP")
			r, err := c.DoRaw(ctx, http.MethodPost, "/v1/messages", nil, map[string]string{"from": a, "to": b, "text": "after stop"})
			if err != nil {
				t.Fatal(err)
			}
			var e apiError
			if r.Code != http.StatusForbidden || r.Decode(&e) != nil || e.Error.Code != "recipient_opted_out" || e.Error.Field != "to" {
				t.Fatalf("send after STOP: %d %s, want 403 recipient_opted_out", r.Code, r.Body)
			}
			items := listOptOuts(ctx, t, c, a, b)
			if len(items) != 1 || items[0].Source != "keyword" || items[0].ExpiresAt != nil {
				t.Fatalf("opt-outs after STOP: %+v", items)
			}
			stopReply := waitTraffic(ctx, t, s.trafficFile, 1, fromAToB(defaultStopReply))
			final, err := c.WaitFinal(ctx, stopReply[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if final.Status != "delivered" || final.Direction != "outbound" {
				t.Fatalf("stop reply message: %+v", final)
			}

			inbound("start")
			if items := listOptOuts(ctx, t, c, a, b); len(items) != 0 {
				t.Fatalf("opt-outs after START: %+v", items)
			}
			code, m, err := c.Send(ctx, a, b, "welcome back")
			if err != nil || code != http.StatusAccepted {
				t.Fatalf("send after START: %d %v", code, err)
			}
			if final, err := c.WaitFinal(ctx, m.ID); err != nil || final.Status != "delivered" {
				t.Fatalf("send after START: %+v %v", final, err)
			}
			waitTraffic(ctx, t, s.trafficFile, 1, fromAToB(defaultStartReply))
			lines, err := harness.ReadTraffic(s.trafficFile)
			if err != nil {
				t.Fatal(err)
			}
			counts := harness.Counts(lines)
			if len(lines) != 3 || counts[stopReply[0].ID] != 1 || counts[m.ID] != 1 {
				t.Fatalf("traffic: want the stop reply, the start reply and the send once each, got %+v", lines)
			}
			// Nothing was stored for the refused send.
			sent, err := c.ListMessages(ctx, "direction=outbound&from="+url.QueryEscape(a))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range sent {
				if m.Text == "after stop" {
					t.Errorf("refused send stored: %+v", m)
				}
			}
			if len(sent) != 3 {
				t.Errorf("%d outbound messages from A, want 3 (two replies, one send)", len(sent))
			}
		})
	}
}

// TestIdempotencyKeyAcrossReplicas: the same Idempotency-Key and body sent concurrently to
// two gateways on one Postgres: every answer is 202 with one and the same id or 409
// idempotency_key_in_use; one message exists and the provider sends it once. A later retry
// replays the 202; the same key with another body is 422.
func TestIdempotencyKeyAcrossReplicas(t *testing.T) {
	const n = 40
	dir := t.TempDir()
	s := storeSetup(t, "postgres", dir)
	s.policy = defaultPolicy
	clients := startReplicas(t, dir, s, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	from := "+14155550142"
	body := map[string]string{"from": from, "to": "+14155550143", "text": "exactly once"}
	key := http.Header{"Idempotency-Key": {"it-key-" + strconv.FormatInt(time.Now().UnixNano(), 36)}}

	answers := make([]*harness.Response, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		answers[i], errs[i] = clients[i%2].DoRaw(ctx, http.MethodPost, "/v1/messages", key, body)
	})
	ids := map[string]int{}
	codes := map[int]int{}
	for i, r := range answers {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		codes[r.Code]++
		switch r.Code {
		case http.StatusAccepted:
			var m harness.Message
			if err := r.Decode(&m); err != nil {
				t.Fatal(err)
			}
			ids[m.ID]++
		case http.StatusConflict:
			var e apiError
			if err := r.Decode(&e); err != nil || e.Error.Code != "idempotency_key_in_use" {
				t.Errorf("409 body %s", r.Body)
			}
		default:
			t.Errorf("request %d: unexpected %d %s", i, r.Code, r.Body)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("202 ids %v (answers %v): want exactly one id", ids, codes)
	}
	var id string
	for k := range ids {
		id = k
	}
	for i, c := range clients {
		r, err := c.DoRaw(ctx, http.MethodPost, "/v1/messages", key, body)
		if err != nil {
			t.Fatal(err)
		}
		var m harness.Message
		if r.Code != http.StatusAccepted || r.Decode(&m) != nil || m.ID != id {
			t.Errorf("retry on gateway %d: %d %s, want 202 with id %s", i, r.Code, r.Body, id)
		}
		other := map[string]string{"from": from, "to": "+14155550143", "text": "another body"}
		r, err = c.DoRaw(ctx, http.MethodPost, "/v1/messages", key, other)
		if err != nil {
			t.Fatal(err)
		}
		var e apiError
		if r.Code != http.StatusUnprocessableEntity || r.Decode(&e) != nil || e.Error.Code != "idempotency_key_reused" {
			t.Errorf("other body on gateway %d: %d %s, want 422 idempotency_key_reused", i, r.Code, r.Body)
		}
	}
	stored, err := clients[1].ListMessages(ctx, "from="+url.QueryEscape(from))
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != 1 || stored[0].ID != id {
		t.Fatalf("stored for %s: %+v, want only %s", from, stored, id)
	}
	if final, err := clients[0].WaitFinal(ctx, id); err != nil || final.Status != "delivered" {
		t.Fatalf("final: %+v %v", final, err)
	}
	lines, err := harness.ReadTraffic(s.trafficFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0].ID != id {
		t.Fatalf("traffic: %+v, want one line for %s", lines, id)
	}
	t.Logf("%d concurrent requests over 2 replicas: %v", n, codes)
}
