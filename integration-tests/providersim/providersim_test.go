package providersim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "k3y"

// newServer serves a fresh simulator for the test.
func newServer(t *testing.T, opts Options) (*Sim, *httptest.Server) {
	t.Helper()
	if opts.APIKey == "" {
		opts.APIKey = testKey
	}
	sim := New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	return sim, srv
}

type response struct {
	status int
	body   []byte
}

func do(t *testing.T, ctx context.Context, method, url, key, body string) (response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, body: b}, nil
}

func mustDo(t *testing.T, method, url, key, body string) response {
	t.Helper()
	r, err := do(t, t.Context(), method, url, key, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

func batchBody(ids ...string) string {
	var msgs []wireMessage
	for _, id := range ids {
		number := "+15551230000"
		if n, ok := strings.CutPrefix(id, "to:"); ok {
			number = n
		}
		msgs = append(msgs, wireMessage{ID: id, PhoneNumber: number, Message: "hi " + id})
	}
	b, _ := json.Marshal(map[string]any{"messages": msgs})
	return string(b)
}

func postBatch(t *testing.T, srv *httptest.Server, ids ...string) response {
	t.Helper()
	return mustDo(t, "POST", srv.URL+"/batches", testKey, batchBody(ids...))
}

type updatesPage struct {
	Updates []Update `json:"updates"`
	Cursor  string   `json:"cursor"`
}

func getUpdates(t *testing.T, srv *httptest.Server, after string, limit int) updatesPage {
	t.Helper()
	url := srv.URL + "/updates?after=" + after
	if limit > 0 {
		url += fmt.Sprintf("&limit=%d", limit)
	}
	r := mustDo(t, "GET", url, testKey, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET %s = %d %s", url, r.status, r.body)
	}
	var p updatesPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode updates %s: %v", r.body, err)
	}
	return p
}

func outcomes(sim *Sim) []string {
	var out []string
	for _, b := range sim.Batches() {
		out = append(out, b.Outcome)
	}
	return out
}

func TestPostBatches(t *testing.T) {
	tests := []struct {
		name        string
		key         string
		body        string
		wantStatus  int
		wantOutcome string
	}{
		{"accepted", testKey, batchBody("a", "b"), 200, OutcomeOK},
		{"no key", "", batchBody("a"), 401, OutcomeUnauthorized},
		{"wrong key", "nope", batchBody("a"), 401, OutcomeUnauthorized},
		{"not JSON", testKey, `{"messages": [`, 400, OutcomeBadRequest},
		{"unknown field", testKey, `{"msgs": []}`, 400, OutcomeBadRequest},
		{"empty batch", testKey, `{"messages": []}`, 400, OutcomeBadRequest},
		{"missing id", testKey, `{"messages": [{"phone_number": "+1555", "message": "x"}]}`, 400, OutcomeBadRequest},
		{"missing number", testKey, `{"messages": [{"id": "a", "message": "x"}]}`, 400, OutcomeBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv := newServer(t, Options{})
			r := mustDo(t, "POST", srv.URL+"/batches", tt.key, tt.body)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d (%s), want %d", r.status, r.body, tt.wantStatus)
			}
			if got := outcomes(sim); !slices.Equal(got, []string{tt.wantOutcome}) {
				t.Errorf("outcomes %v, want [%s]", got, tt.wantOutcome)
			}
			if tt.wantStatus != 200 {
				if st := sim.Stats(); st.Messages != 0 || st.Updates != 0 {
					t.Errorf("a refused batch was received: %+v", st)
				}
				return
			}
			var ok struct {
				BatchID string `json:"batch_id"`
			}
			if err := json.Unmarshal(r.body, &ok); err != nil || ok.BatchID == "" {
				t.Errorf("body %s: want a batch_id", r.body)
			}
			if b := sim.Batches()[0]; b.BatchID != ok.BatchID || !slices.Equal(b.IDs, []string{"a", "b"}) {
				t.Errorf("record %+v, want batch %s with ids [a b]", b, ok.BatchID)
			}
		})
	}
}

func TestDedupeAndUpdates(t *testing.T) {
	sim, srv := newServer(t, Options{})
	if err := sim.SetStatusRules([]StatusRule{{Pattern: "+1555666*", Status: StatusFailed}}); err != nil {
		t.Fatal(err)
	}
	postBatch(t, srv, "a", "to:+15556660001")
	r := postBatch(t, srv, "to:+15556660001", "c") // a retry of one id with a new one
	if r.status != 200 {
		t.Fatalf("repeat batch = %d %s, want 200", r.status, r.body)
	}

	wantCounts := map[string]int{"a": 1, "to:+15556660001": 2, "c": 1}
	if got := sim.Counts(); fmt.Sprint(got) != fmt.Sprint(wantCounts) {
		t.Errorf("counts %v, want %v", got, wantCounts)
	}
	st := sim.Stats()
	if st.Messages != 3 || st.Received != 4 || st.Duplicates != 1 || st.DuplicateIDs["to:+15556660001"] != 2 {
		t.Errorf("stats %+v, want 3 messages, 4 received, 1 duplicate", st)
	}
	if b := sim.Batches(); b[1].Duplicates != 1 {
		t.Errorf("second batch duplicates = %d, want 1", b[1].Duplicates)
	}
	want := []Update{
		{"a", StatusConfirmed}, {"a", StatusDelivered},
		{"to:+15556660001", StatusConfirmed}, {"to:+15556660001", StatusFailed},
		{"c", StatusConfirmed}, {"c", StatusDelivered},
	}
	if got := getUpdates(t, srv, "", 0).Updates; !slices.Equal(got, want) {
		t.Errorf("updates %v, want %v", got, want)
	}
}

func TestUpdatesCursor(t *testing.T) {
	sim, srv := newServer(t, Options{})
	postBatch(t, srv, "a", "b", "c")

	// Page one at a time; the cursors must let a restarted reader resume exactly.
	var all []Update
	var cursors []string
	cursor := ""
	for range 10 {
		p := getUpdates(t, srv, cursor, 1)
		if len(p.Updates) == 0 {
			if p.Cursor != cursor {
				t.Errorf("an empty page moved the cursor from %q to %q", cursor, p.Cursor)
			}
			break
		}
		all = append(all, p.Updates...)
		cursor = p.Cursor
		cursors = append(cursors, cursor)
	}
	if len(all) != 6 {
		t.Fatalf("paged %d updates, want 6: %v", len(all), all)
	}
	for i, c := range cursors {
		rest := getUpdates(t, srv, c, 0).Updates
		if !slices.Equal(rest, all[i+1:]) {
			t.Errorf("after cursor %d: %v, want %v", i, rest, all[i+1:])
		}
	}

	// New messages come after the last cursor, and only they.
	postBatch(t, srv, "d")
	if got := getUpdates(t, srv, cursor, 0).Updates; !slices.Equal(got, []Update{{"d", StatusConfirmed}, {"d", StatusDelivered}}) {
		t.Errorf("after the last cursor: %v, want d's two updates", got)
	}

	// A reset keeps cursors monotonic: an old cursor sees what came after the reset.
	last := getUpdates(t, srv, cursor, 0).Cursor
	sim.Reset()
	postBatch(t, srv, "e")
	if got := getUpdates(t, srv, last, 0).Updates; !slices.Equal(got, []Update{{"e", StatusConfirmed}, {"e", StatusDelivered}}) {
		t.Errorf("after reset: %v, want e's two updates", got)
	}

	for _, bad := range []string{"/updates?after=zzz", "/updates?after=" + "Zm9v", "/updates?limit=0"} {
		if r := mustDo(t, "GET", srv.URL+bad, testKey, ""); r.status != 400 {
			t.Errorf("GET %s = %d, want 400", bad, r.status)
		}
	}
	if r := mustDo(t, "GET", srv.URL+"/updates", "", ""); r.status != 401 {
		t.Errorf("GET /updates without a key = %d, want 401", r.status)
	}
}

func TestFailKnobs(t *testing.T) {
	tests := []struct {
		name string
		set  func(*Sim)
		want []string
	}{
		{"next 2", func(s *Sim) { s.FailNext(2) }, []string{"failed", "failed", "ok", "ok"}},
		{"fraction 1", func(s *Sim) { s.FailFraction(1) }, []string{"failed", "failed", "failed", "failed"}},
		{"hang next 1", func(s *Sim) { s.HangNext(1) }, []string{"hung", "ok", "ok", "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, srv := newServer(t, Options{})
			tt.set(sim)
			client := &http.Client{Timeout: 0}
			for i := range len(tt.want) {
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan int, 1)
				go func() {
					req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/batches", strings.NewReader(batchBody(fmt.Sprint(i))))
					req.Header.Set("Authorization", "Bearer "+testKey)
					resp, err := client.Do(req)
					if err != nil {
						done <- -1
						return
					}
					resp.Body.Close()
					done <- resp.StatusCode
				}()
				want := map[string]int{"ok": 200, "failed": 503, "hung": -1}[tt.want[i]]
				if want == -1 {
					if err := sim.WaitHanging(t.Context()); err != nil {
						t.Fatal(err)
					}
					cancel() // the client gives up
				}
				if got := <-done; got != want {
					t.Errorf("call %d = %d, want %d", i, got, want)
				}
				cancel()
			}
			if got := outcomes(sim); !slices.Equal(got, tt.want) {
				t.Errorf("outcomes %v, want %v", got, tt.want)
			}
		})
	}
}

func TestHungBatchIsReceived(t *testing.T) {
	sim, srv := newServer(t, Options{})
	sim.HangNext(1)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := do(t, ctx, "POST", srv.URL+"/batches", testKey, batchBody("a", "b"))
		errc <- err
	}()
	if err := sim.WaitHanging(t.Context()); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("a hung call answered")
	}
	// The client retries the ambiguous batch with the same ids.
	if r := postBatch(t, srv, "a", "b"); r.status != 200 {
		t.Fatalf("retry = %d", r.status)
	}
	st := sim.Stats()
	if st.Messages != 2 || st.Duplicates != 2 || st.ByOutcome[OutcomeHung] != 1 || st.ByOutcome[OutcomeOK] != 1 {
		t.Errorf("stats %+v, want 2 messages, 2 duplicates, one hung and one ok batch", st)
	}
	if got := len(getUpdates(t, srv, "", 0).Updates); got != 4 {
		t.Errorf("%d updates, want 4 (the hung batch was received once)", got)
	}
}

func TestCloseReleasesHang(t *testing.T) {
	sim, srv := newServer(t, Options{})
	sim.HangNext(1)
	errc := make(chan error, 1)
	go func() {
		_, err := do(t, context.Background(), "POST", srv.URL+"/batches", testKey, batchBody("a"))
		errc <- err
	}()
	if err := sim.WaitHanging(t.Context()); err != nil {
		t.Fatal(err)
	}
	sim.Close()
	// Released, the handler returns without writing: net/http answers 200 with no body.
	if err := <-errc; err != nil {
		t.Logf("released call: %v", err)
	}
}

func TestFailFractionIsSeeded(t *testing.T) {
	run := func(seed uint64) []string {
		sim, srv := newServer(t, Options{Seed: seed})
		sim.FailFraction(0.3)
		for i := range 200 {
			postBatch(t, srv, fmt.Sprint(i))
		}
		return outcomes(sim)
	}
	a, b := run(7), run(7)
	if !slices.Equal(a, b) {
		t.Error("the same seed gave different faults")
	}
	failed := 0
	for _, o := range a {
		if o == OutcomeFailed {
			failed++
		}
	}
	if failed < 30 || failed > 90 {
		t.Errorf("%d of 200 batches failed at fraction 0.3", failed)
	}
}

func TestLatency(t *testing.T) {
	sim, srv := newServer(t, Options{})
	sim.SetLatency(30 * time.Millisecond)
	start := time.Now()
	postBatch(t, srv, "a")
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("call took %s, want at least the 30ms latency", d)
	}
}

func TestBalance(t *testing.T) {
	_, srv := newServer(t, Options{Balance: 1000, Currency: "USD", PriceCents: 5})
	postBatch(t, srv, "a", "b", "c")
	postBatch(t, srv, "a") // a duplicate costs nothing
	r := mustDo(t, "GET", srv.URL+"/balance", testKey, "")
	if r.status != 200 || !bytes.Contains(r.body, []byte(`"amount":"9.85"`)) || !bytes.Contains(r.body, []byte(`"currency":"USD"`)) {
		t.Errorf("balance = %d %s, want 9.85 USD", r.status, r.body)
	}
	if r := mustDo(t, "GET", srv.URL+"/balance", "bad", ""); r.status != 401 {
		t.Errorf("balance with a bad key = %d, want 401", r.status)
	}
}

func TestAdminAPI(t *testing.T) {
	sim, srv := newServer(t, Options{})
	steps := []struct {
		method, path, body string
		wantStatus         int
	}{
		{"POST", "/admin/latency", `{"latency": "1ms"}`, 200},
		{"POST", "/admin/latency", `{"latency": "soon"}`, 400},
		{"POST", "/admin/fail", `{"next": 1, "seed": 3}`, 200},
		{"POST", "/admin/fail", `{"fraction": 2}`, 400},
		{"POST", "/admin/hang", `{"next": -1}`, 400},
		{"POST", "/admin/hang", `{"fraction": 0}`, 200},
		{"POST", "/admin/statuses", `{"rules": [{"pattern": "+1999*", "status": "FAILED"}]}`, 200},
		{"POST", "/admin/statuses", `{"rules": [{"pattern": "+1*9", "status": "FAILED"}]}`, 400},
		{"POST", "/admin/statuses", `{"rules": [{"pattern": "+1", "status": "LOST"}]}`, 400},
		{"POST", "/admin/fail", `{`, 400},
	}
	for _, s := range steps {
		if r := mustDo(t, s.method, srv.URL+s.path, "", s.body); r.status != s.wantStatus {
			t.Errorf("%s %s %s = %d %s, want %d", s.method, s.path, s.body, r.status, r.body, s.wantStatus)
		}
	}
	if r := postBatch(t, srv, "a"); r.status != 503 {
		t.Errorf("after /admin/fail next=1: %d, want 503", r.status)
	}
	postBatch(t, srv, "to:+19990000", "b")
	if got := getUpdates(t, srv, "", 0).Updates; !slices.Contains(got, Update{"to:+19990000", StatusFailed}) {
		t.Errorf("updates %v: the status rule set over HTTP did not apply", got)
	}

	var batches []Batch
	if err := json.Unmarshal(mustDo(t, "GET", srv.URL+"/admin/batches", "", "").body, &batches); err != nil {
		t.Fatal(err)
	}
	if len(batches) != 2 || batches[0].Outcome != OutcomeFailed || batches[1].Outcome != OutcomeOK {
		t.Errorf("GET /admin/batches = %+v", batches)
	}
	var st Stats
	if err := json.Unmarshal(mustDo(t, "GET", srv.URL+"/admin/stats", "", "").body, &st); err != nil {
		t.Fatal(err)
	}
	if st.Batches != 2 || st.Messages != 2 || st.ByOutcome[OutcomeFailed] != 1 {
		t.Errorf("GET /admin/stats = %+v", st)
	}

	if r := mustDo(t, "POST", srv.URL+"/admin/reset", "", ""); r.status != 200 {
		t.Fatalf("reset = %d", r.status)
	}
	if st := sim.Stats(); st.Batches != 0 || st.Messages != 0 || st.Updates != 0 {
		t.Errorf("stats after reset %+v, want empty", st)
	}
}

func TestInjectAndUpdatePolls(t *testing.T) {
	sim, srv := newServer(t, Options{})
	postBatch(t, srv, "a")
	first := getUpdates(t, srv, "", 0)

	// A late report for a received id, a repeat, and one for an id never received, after
	// everything so far; over the library and the admin API alike.
	if err := sim.Inject("a", StatusConfirmed); err != nil {
		t.Fatal(err)
	}
	if r := mustDo(t, "POST", srv.URL+"/admin/inject", "", `{"id": "a", "status": "FAILED"}`); r.status != 200 {
		t.Fatalf("POST /admin/inject = %d %s", r.status, r.body)
	}
	if err := sim.Inject("ghost", StatusDelivered); err != nil {
		t.Fatal(err)
	}
	want := []Update{{"a", StatusConfirmed}, {"a", StatusFailed}, {"ghost", StatusDelivered}}
	second := getUpdates(t, srv, first.Cursor, 0)
	if !slices.Equal(second.Updates, want) {
		t.Errorf("updates after the first page: %v, want %v", second.Updates, want)
	}
	if got := getUpdates(t, srv, second.Cursor, 0).Updates; len(got) != 0 {
		t.Errorf("after the last cursor: %v, want none", got)
	}
	// Injected updates are not receipts: no message, batch or duplicate is counted.
	if st := sim.Stats(); st.Messages != 1 || st.Batches != 1 || st.Duplicates != 0 || st.Updates != 5 {
		t.Errorf("stats %+v, want 1 message, 1 batch, 0 duplicates, 5 updates", st)
	}

	for _, bad := range []struct{ id, status string }{{"", StatusDelivered}, {"a", "LOST"}, {"a", ""}} {
		if err := sim.Inject(bad.id, bad.status); err == nil {
			t.Errorf("Inject(%q, %q) succeeded", bad.id, bad.status)
		}
	}
	for _, body := range []string{`{"id": "a", "status": "LOST"}`, `{"id": "", "status": "FAILED"}`, `{"id": "a", "status": "FAILED", "x": 1}`} {
		if r := mustDo(t, "POST", srv.URL+"/admin/inject", "", body); r.status != 400 {
			t.Errorf("POST /admin/inject %s = %d, want 400", body, r.status)
		}
	}

	// Every poll's after cursor, as given, oldest first; a reset forgets them.
	if got, want := sim.UpdatePolls(), []string{"", first.Cursor, second.Cursor}; !slices.Equal(got, want) {
		t.Errorf("UpdatePolls() = %q, want %q", got, want)
	}
	sim.Reset()
	if got := sim.UpdatePolls(); len(got) != 0 {
		t.Errorf("UpdatePolls() after reset = %q, want none", got)
	}
}
