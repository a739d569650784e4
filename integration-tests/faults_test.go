package integration

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smsgw/smsgw/integration-tests/harness"
	"github.com/smsgw/smsgw/integration-tests/providersim"
)

// Fault tests (issue 4 §5): the real gateway and fastsmsing plugin processes on Postgres,
// against an in-process simulator told to fail, hang or be killed under them.

const faultsKey = "it-faults-key"

// newSim serves a simulator for the test; hung requests are freed before the server closes.
func newSim(t *testing.T, opts providersim.Options) (*providersim.Sim, *httptest.Server) {
	t.Helper()
	opts.APIKey = faultsKey
	sim := providersim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	return sim, srv
}

// startFastSMS starts a Postgres gateway whose only provider is fastsms against srv.
func startFastSMS(t *testing.T, srv *httptest.Server, f fastsms) (*harness.Gateway, *harness.Client, string) {
	t.Helper()
	dir := t.TempDir()
	f.simURL, f.apiKey = srv.URL, faultsKey
	cfg, addr := writeFastSMSConfig(t, dir, storeSetup(t, "postgres", dir), f)
	g := start(t, dir, cfg, addr)
	return g, harness.NewClient(g.URL, user, password), dir
}

// providerState is the fastsms item of GET /v1/providers (API.md §4).
type providerState struct {
	Name     string `json:"name"`
	Healthy  bool   `json:"healthy"`
	Restarts int    `json:"restarts"`
	Stats    struct {
		BatchesSent       int64   `json:"batches_sent"`
		BatchesFailed     int64   `json:"batches_failed"`
		MessagesSent      int64   `json:"messages_sent"`
		MessagesFailed    int64   `json:"messages_failed"`
		SuccessPercentage float64 `json:"success_percentage"`
	} `json:"stats"`
}

func fastsmsState(ctx context.Context, t *testing.T, c *harness.Client) providerState {
	t.Helper()
	var list struct {
		Items []providerState `json:"items"`
	}
	if code, err := c.Do(ctx, http.MethodGet, "/v1/providers", nil, &list); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v1/providers: %d %v", code, err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "fastsms" {
		t.Fatalf("GET /v1/providers: %+v, want only fastsms", list.Items)
	}
	return list.Items[0]
}

// waitFastSMSState polls GET /v1/providers until ok holds for the fastsms item or ctx ends.
// The host counts a batch when the plugin's answer is back, which may be a moment after the
// status updates of its messages made them final.
func waitFastSMSState(ctx context.Context, t *testing.T, c *harness.Client, what string, ok func(providerState) bool) providerState {
	t.Helper()
	for {
		p := fastsmsState(ctx, t, c)
		if ok(p) {
			return p
		}
		select {
		case <-ctx.Done():
			t.Fatalf("GET /v1/providers never showed %s: last %+v", what, p)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// metricValue reads one sample of /metrics: the series of name whose labels include labels
// (0 when there is none).
func metricValue(ctx context.Context, t *testing.T, base, name string, labels map[string]string) float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		series, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(series, "#") {
			continue
		}
		metric, rawLabels, _ := strings.Cut(strings.TrimSuffix(series, "}"), "{")
		if metric != name {
			continue
		}
		got := map[string]string{}
		for _, kv := range strings.Split(rawLabels, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				got[k], _ = strconv.Unquote(v)
			}
		}
		match := true
		for k, v := range labels {
			match = match && got[k] == v
		}
		if match {
			f, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("/metrics sample %q: %v", sc.Text(), err)
			}
			return f
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	return 0
}

// ambiguousAttempt is the event the core records for a send attempt that broke off after
// the request may have reached the provider (core/gateway/dispatch.go, attemptNoted).
var (
	ambiguousAttempt   = regexp.MustCompile(`^attempt \d+ via fastsms failed: ambiguous$`)
	unavailableAttempt = regexp.MustCompile(`^attempt \d+ via fastsms failed: unavailable$`)
)

// countEvents counts the events of m whose detail matches re.
func countEvents(m harness.Message, re *regexp.Regexp) int {
	n := 0
	for _, e := range m.Events {
		if e.Detail != nil && re.MatchString(*e.Detail) {
			n++
		}
	}
	return n
}

// history renders m's events as "status" or "status(ignored)".
func history(m harness.Message) []string {
	out := make([]string, len(m.Events))
	for i, e := range m.Events {
		out[i] = e.Status
		if e.Detail != nil && *e.Detail == "ignored" {
			out[i] += "(ignored)"
		}
	}
	return out
}

// notDelivered returns the accepted ids that did not end delivered through fastsms, and
// reports the first few.
// sendAllFinal sends n messages with 32 concurrent clients, all of which must be accepted,
// and waits until every one has a final status; it returns the ids, their final state and
// how long it all took.
func sendAllFinal(ctx context.Context, t *testing.T, c *harness.Client, n int) ([]string, map[string]harness.Message, time.Duration) {
	t.Helper()
	began := time.Now()
	ids := sendMany(ctx, []*harness.Client{c}, n, 32, nil)
	if len(ids) != n {
		t.Fatalf("%d of %d sends accepted", len(ids), n)
	}
	final, err := c.WaitAllFinal(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	return ids, final, time.Since(began)
}

func notDelivered(t *testing.T, ids []string, final map[string]harness.Message) []string {
	t.Helper()
	var bad []string
	for _, id := range ids {
		if m, ok := final[id]; !ok || m.Status != "delivered" || m.Provider != "fastsms" {
			bad = append(bad, id)
			if len(bad) <= 5 {
				t.Errorf("message %s: %+v", id, m)
			}
		}
	}
	return bad
}

// TestFastSMSFailingBatches: the simulator answers 30% of batch calls 503 (seeded). Every
// accepted message still ends delivered, each reached the simulator exactly once (a 503 takes
// nothing, and an accepted message is never sent again), and the provider stats and metrics
// count exactly the failed and the accepted calls the simulator saw.
func TestFastSMSFailingBatches(t *testing.T) {
	const n = 300
	// Seed 7 fails calls 1, 3, 7, 9, 12 and 15 of the first 20: failures from the start.
	sim, srv := newSim(t, providersim.Options{Seed: 7})
	sim.FailFraction(0.3)
	// Batches of 20, so 300 messages make enough calls for the fraction to mean something.
	g, c, _ := startFastSMS(t, srv, fastsms{maxBatch: 20})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ids, final, elapsed := sendAllFinal(ctx, t, c, n)
	bad := notDelivered(t, ids, final)
	if len(bad) > 0 {
		t.Errorf("%d of %d accepted messages not delivered", len(bad), n)
	}

	st := sim.Stats()
	var failedIDs int
	for _, b := range sim.Batches() {
		if b.Outcome == providersim.OutcomeFailed {
			failedIDs += len(b.IDs)
		}
	}
	failed, ok := st.ByOutcome[providersim.OutcomeFailed], st.ByOutcome[providersim.OutcomeOK]
	p := waitFastSMSState(ctx, t, c, "every simulator call counted", func(p providerState) bool {
		return p.Stats.BatchesSent+p.Stats.BatchesFailed >= int64(st.Batches)
	})
	metricFailed := metricValue(ctx, t, g.URL, "smsgw_provider_batches_total", map[string]string{"provider": "fastsms", "outcome": "failed"})
	metricSent := metricValue(ctx, t, g.URL, "smsgw_provider_batches_total", map[string]string{"provider": "fastsms", "outcome": "sent"})
	unavailableEvents := 0
	for _, m := range final {
		unavailableEvents += countEvents(m, unavailableAttempt)
	}
	t.Logf("%d accepted, %d delivered in %s; simulator: %d batch calls %v, %d distinct messages, %d duplicates, %d ids in 503 calls; "+
		"/v1/providers: batches_sent %d, batches_failed %d, messages_sent %d, messages_failed %d, success %.1f%%; "+
		"/metrics batches sent %v, failed %v; %d \"failed: unavailable\" attempt events",
		n, n-len(bad), elapsed.Round(time.Millisecond), st.Batches, st.ByOutcome, st.Messages, st.Duplicates, failedIDs,
		p.Stats.BatchesSent, p.Stats.BatchesFailed, p.Stats.MessagesSent, p.Stats.MessagesFailed, p.Stats.SuccessPercentage,
		metricSent, metricFailed, unavailableEvents)

	// The simulator: some calls failed, the rest were taken; a 503 records nothing as
	// received, and a message the simulator took is never sent again.
	if failed == 0 || ok == 0 || failed+ok != st.Batches {
		t.Errorf("simulator outcomes %v: want both failed and ok calls, and nothing else", st.ByOutcome)
	}
	if st.Messages != n || st.Duplicates != 0 || st.Received != n {
		t.Errorf("simulator received %d distinct messages, %d in all (%d duplicates), want exactly %d once each", st.Messages, st.Received, st.Duplicates, n)
	}
	// The host: one plugin call per simulator call (the host's batch limit is the plugin's
	// max_batch), counted by outcome.
	if p.Stats.BatchesFailed == 0 || p.Stats.BatchesSent == 0 || p.Stats.MessagesSent < n {
		t.Errorf("provider stats %+v: want batches_failed > 0, batches_sent > 0, messages_sent >= %d", p.Stats, n)
	}
	if p.Stats.BatchesFailed != int64(failed) || p.Stats.BatchesSent != int64(ok) {
		t.Errorf("provider stats count %d sent and %d failed batches; the simulator answered %d and failed %d", p.Stats.BatchesSent, p.Stats.BatchesFailed, ok, failed)
	}
	if p.Stats.MessagesSent != n || p.Stats.MessagesFailed != int64(failedIDs) {
		t.Errorf("provider stats count %d sent and %d failed messages, want %d and %d", p.Stats.MessagesSent, p.Stats.MessagesFailed, n, failedIDs)
	}
	if metricFailed <= 0 || metricFailed != float64(p.Stats.BatchesFailed) || metricSent != float64(p.Stats.BatchesSent) {
		t.Errorf(`smsgw_provider_batches_total{provider="fastsms"}: sent %v, failed %v; want > 0 failed and the figures of /v1/providers`, metricSent, metricFailed)
	}
	// The core: each message's failed attempts are in its history, one per 503 it was in.
	if unavailableEvents != failedIDs {
		t.Errorf("%d attempt events \"failed: unavailable\" in the histories, want one per id in a 503 call (%d)", unavailableEvents, failedIDs)
	}
}

// TestFastSMSHangingBatches: the simulator takes some batch calls and never answers them, past
// the plugin's 1s timeout. Nothing is lost; the only messages the simulator gets twice are
// ones from a hung call (the retry of an ambiguous failure re-sends the same ids, which the
// simulator dedupes), and every message of a hung call has that ambiguous attempt in its
// event history, once per hung call it was in.
func TestFastSMSHangingBatches(t *testing.T) {
	const n = 150
	tests := []struct {
		name     string
		seed     uint64
		next     int     // HangNext
		fraction float64 // HangFraction
		maxBatch int
		poll     string // the plugin's poll_interval
	}{
		{name: "next 2 calls", next: 2, maxBatch: 20},
		// Seed 10 hangs calls 2, 10, 12 and 14 of the first 20; batches of 10 make 15+ calls.
		{name: "fraction 0.15", seed: 10, fraction: 0.15, maxBatch: 10},
		// Updates polled every 2s: the retry of a hung call (1s timeout, then ~100ms backoff)
		// usually comes before its messages are reported delivered, so the same ids go to the
		// simulator again and it dedupes them.
		{name: "next 2 calls, slow updates", next: 2, maxBatch: 20, poll: "2s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv := newSim(t, providersim.Options{Seed: tc.seed})
			sim.HangNext(tc.next)
			sim.HangFraction(tc.fraction)
			_, c, _ := startFastSMS(t, srv, fastsms{maxBatch: tc.maxBatch, timeout: "1s", pollInterval: tc.poll})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			ids, final, elapsed := sendAllFinal(ctx, t, c, n)
			bad := notDelivered(t, ids, final)

			// A hung call's messages are usually delivered (the simulator reports them) before
			// the plugin's timeout ends the call: wait until the host has counted every call the
			// simulator saw, then until each message of a hung call has its ambiguous attempt
			// recorded (the dispatcher stores it just after the host's answer), and read the
			// histories afresh.
			p := waitFastSMSState(ctx, t, c, "every simulator call counted", func(p providerState) bool {
				return p.Stats.BatchesSent+p.Stats.BatchesFailed >= int64(sim.Stats().Batches)
			})
			st := sim.Stats()
			inHung := map[string]int{} // id -> hung calls it was in
			var hung, hungIDs int
			for _, b := range sim.Batches() {
				if b.Outcome == providersim.OutcomeHung {
					hung++
					hungIDs += len(b.IDs)
					for _, id := range b.IDs {
						inHung[id]++
					}
				}
			}
			for id, want := range inHung {
				waitMessage(ctx, t, c, id, fmt.Sprintf("%d ambiguous attempt event(s)", want), func(m harness.Message) bool {
					return countEvents(m, ambiguousAttempt) >= want
				})
			}
			final, err := c.WaitAllFinal(ctx, ids)
			if err != nil {
				t.Fatal(err)
			}
			ambiguous := 0
			for _, m := range final {
				ambiguous += countEvents(m, ambiguousAttempt)
			}
			t.Logf("%d accepted, %d delivered, %d lost in %s; simulator: %d batch calls %v, %d ids in hung calls, %d distinct messages, %d duplicates (%d ids); "+
				"%d ambiguous attempt events; /v1/providers: batches_sent %d, batches_failed %d, restarts %d",
				n, n-len(bad), len(bad), elapsed.Round(time.Millisecond), st.Batches, st.ByOutcome, hungIDs, st.Messages, st.Duplicates, len(st.DuplicateIDs),
				ambiguous, p.Stats.BatchesSent, p.Stats.BatchesFailed, p.Restarts)

			if len(bad) > 0 {
				t.Errorf("%d of %d accepted messages not delivered", len(bad), n)
			}
			if st.Messages != n {
				t.Errorf("simulator received %d distinct messages, want %d", st.Messages, n)
			}
			switch {
			case hung == 0 || hung+st.ByOutcome[providersim.OutcomeOK] != st.Batches:
				t.Errorf("simulator outcomes %v: want hung and ok calls, and nothing else", st.ByOutcome)
			case tc.next > 0 && hung != tc.next:
				t.Errorf("%d hung calls, want %d", hung, tc.next)
			}
			// Duplicates: at most one per hung call an id was in, and only for such ids.
			if st.Duplicates > hungIDs {
				t.Errorf("%d duplicates at the simulator, more than the %d ids of the hung calls", st.Duplicates, hungIDs)
			}
			for id, count := range st.DuplicateIDs {
				if count-1 > inHung[id] {
					t.Errorf("message %s received %d times but in %d hung call(s)", id, count, inHung[id])
				}
			}
			// Every ambiguous attempt is recorded, on exactly the messages it concerned.
			for _, id := range ids {
				if got, want := countEvents(final[id], ambiguousAttempt), inHung[id]; got != want {
					t.Errorf("message %s: %d ambiguous attempt events, want %d (hung calls it was in); history %v", id, got, want, final[id].Events)
				}
			}
			// The host counts each hung call as a failed batch; the plugin stays up.
			if p.Stats.BatchesFailed != int64(hung) || p.Restarts != 0 || !p.Healthy {
				t.Errorf("provider %+v: want batches_failed %d, no restart, healthy", p, hung)
			}
		})
	}
}

// cursorFile reads the fastsmsing plugin's saved /updates cursor ("" while none is saved).
func cursorFile(t *testing.T, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "fastsms-cursor.json"))
	if err != nil {
		if os.IsNotExist(err) {
			return ""
		}
		t.Fatal(err)
	}
	var cf struct {
		Cursor string `json:"cursor"`
	}
	if err := json.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("cursor file %q: %v", raw, err)
	}
	return cf.Cursor
}

// cursorText shows a simulator cursor as its position ("fs1:N"), "" as "start".
func cursorText(c string) string {
	if c == "" {
		return "start"
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return c
	}
	return string(raw)
}

// cursorPos is the position of a simulator cursor ("" is 0).
func cursorPos(t *testing.T, c string) int {
	t.Helper()
	if c == "" {
		return 0
	}
	n, ok := strings.CutPrefix(cursorText(c), "fs1:")
	pos, err := strconv.Atoi(n)
	if !ok || err != nil {
		t.Fatalf("cursor %q is not a simulator cursor", c)
	}
	return pos
}

func cursorTexts(cs []string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = cursorText(c)
	}
	return out
}

// waitExited waits until pid is gone or a zombie (its last write is behind it).
func waitExited(ctx context.Context, t *testing.T, pid int) {
	t.Helper()
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if s := string(stat); strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z") {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("process %d still running after SIGKILL", pid)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestFastSMSPluginKilled: kill -9 of the fastsmsing plugin while a batch is in flight (held
// by the simulator) and more are coming. The host restarts it once, the new process resumes
// the update stream from the saved cursor file (not from the beginning), and every accepted
// message is delivered; duplicates at the simulator are reported.
func TestFastSMSPluginKilled(t *testing.T) {
	const nFirst, nSecond = 40, 200
	sim, srv := newSim(t, providersim.Options{})
	g, c, dir := startFastSMS(t, srv, fastsms{maxBatch: 20})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// A first wave, delivered, then kept until the plugin has saved a cursor past it (the
	// saved cursor trails the stream by the plugin's 5s replay window).
	ids := sendMany(ctx, []*harness.Client{c}, nFirst, 8, nil)
	if len(ids) != nFirst {
		t.Fatalf("%d of %d sends accepted", len(ids), nFirst)
	}
	if _, err := c.WaitAllFinal(ctx, ids); err != nil {
		t.Fatal(err)
	}
	firstUpdates := sim.Stats().Updates // CONFIRMED and DELIVERED of each
	for cursorPos(t, cursorFile(t, dir)) < firstUpdates {
		select {
		case <-ctx.Done():
			t.Fatalf("the plugin never saved an /updates cursor past the first wave's %d updates (saved: %s)", firstUpdates, cursorText(cursorFile(t, dir)))
		case <-time.After(100 * time.Millisecond):
		}
	}

	// The second wave: the next batch call hangs at the simulator (received, unanswered), the
	// others take 50ms each; the plugin is killed once the simulator holds the hung call.
	sim.SetLatency(50 * time.Millisecond)
	sim.HangNext(1)
	var (
		wg     sync.WaitGroup
		second []string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		second = sendMany(ctx, []*harness.Client{c}, nSecond, 16, nil)
	}()
	if err := sim.WaitHanging(ctx); err != nil {
		t.Fatalf("no batch call hung: %v", err)
	}
	pids := harness.ChildPIDs(g.Cmd.Process.Pid, "smsgw-provider-fastsmsing")
	if len(pids) != 1 {
		t.Fatalf("want one fastsmsing plugin process, found %v", pids)
	}
	killed := pids[0]
	if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
		t.Fatalf("kill plugin: %v", err)
	}
	waitExited(ctx, t, killed)
	killedAt := time.Now()
	saved := cursorFile(t, dir) // what the next process starts from
	pollsBefore := len(sim.UpdatePolls())
	atKill := sim.Stats()
	var heldIDs []string // the ids of the call the simulator held at the kill
	for _, b := range sim.Batches() {
		if b.Outcome == providersim.OutcomeHung {
			heldIDs = append(heldIDs, b.IDs...)
		}
	}
	wg.Wait()
	if len(second) != nSecond {
		t.Fatalf("%d of %d sends of the second wave accepted (a send is accepted while the provider is down)", len(second), nSecond)
	}
	ids = append(ids, second...)

	final, err := c.WaitAllFinal(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	bad := notDelivered(t, ids, final)
	p := waitFastSMSState(ctx, t, c, "the plugin back up", func(p providerState) bool { return p.Healthy && p.Restarts > 0 })
	st := sim.Stats()
	pids = harness.ChildPIDs(g.Cmd.Process.Pid, "smsgw-provider-fastsmsing")
	after := sim.UpdatePolls()[pollsBefore:]
	resumed := slices.Index(after, saved)
	heldDups := 0
	for _, id := range heldIDs {
		heldDups += max(st.DuplicateIDs[id]-1, 0)
	}
	lowest := -1 // the earliest position polled from after the kill
	for _, c := range after {
		if pos := cursorPos(t, c); lowest < 0 || pos < lowest {
			lowest = pos
		}
	}
	t.Logf("%d accepted (%d in the first wave), %d delivered, %d lost; killed pid %d with the simulator holding %d batch calls %v; "+
		"restarts %d, new pid %v, all final %s after the kill; saved cursor %s, first polls after the kill from %v (resumed at poll %d); "+
		"simulator: %d batch calls %v, %d distinct messages, %d duplicates (%d of them from the held call)",
		len(ids), nFirst, len(ids)-len(bad), len(bad), killed, atKill.Batches, atKill.ByOutcome,
		p.Restarts, pids, time.Since(killedAt).Round(time.Millisecond), cursorText(saved), cursorTexts(after[:min(len(after), 4)]), resumed,
		st.Batches, st.ByOutcome, st.Messages, st.Duplicates, heldDups)

	if len(bad) > 0 {
		t.Errorf("lost: %d of %d accepted messages not delivered", len(bad), len(ids))
	}
	if st.Messages != len(ids) {
		t.Errorf("simulator received %d distinct messages, want %d", st.Messages, len(ids))
	}
	if p.Restarts != 1 || !p.Healthy || len(pids) != 1 {
		t.Errorf("after the kill: restarts %d, healthy %v, plugin pids %v; want 1 restart, healthy, one process", p.Restarts, p.Healthy, pids)
	}
	// Resumed from the cursor file: a poll after the kill starts from the saved cursor (past
	// the first wave), and none from any earlier position.
	if resumed < 0 || lowest != cursorPos(t, saved) {
		t.Errorf("polls after the kill from %v: want one from the saved cursor %s and none from before it", cursorTexts(after), cursorText(saved))
	}
}

// TestStatusNeverMovesBackwards: after a message's final status, the provider reports other
// statuses for it (a late CONFIRMED, a contradicting final one): the message keeps its
// status and each such report is recorded once, as "ignored" (API.md §1); exact repeats of
// the current status, or of a report already recorded as ignored, add no event. Each case
// ends with a report that adds an event, so once that event is there the ones before it
// have been handled (one message's updates are applied in order).
func TestStatusNeverMovesBackwards(t *testing.T) {
	sim, srv := newSim(t, providersim.Options{})
	if err := sim.SetStatusRules([]providersim.StatusRule{{Pattern: "+1415666*", Status: providersim.StatusFailed}}); err != nil {
		t.Fatal(err)
	}
	_, c, _ := startFastSMS(t, srv, fastsms{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	tests := []struct {
		name   string
		to     string
		final  string
		inject []string // updates appended after the message is final
		want   []string // events appended to its history
	}{
		{
			name: "delivered", to: "+14155550123", final: "delivered",
			inject: []string{
				providersim.StatusDelivered, // exact repeat: dropped
				providersim.StatusConfirmed, // backwards: recorded, ignored
				providersim.StatusConfirmed, // repeat of an ignored report: dropped
				providersim.StatusDelivered, // dropped
				providersim.StatusFailed,    // another final status: recorded, ignored
			},
			want: []string{"sent(ignored)", "undelivered(ignored)"},
		},
		{
			name: "undelivered", to: "+14156660123", final: "undelivered",
			inject: []string{
				providersim.StatusFailed,
				providersim.StatusDelivered,
				providersim.StatusFailed,
				providersim.StatusDelivered,
				providersim.StatusConfirmed,
			},
			want: []string{"delivered(ignored)", "sent(ignored)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, m, err := c.Send(ctx, "+14155550100", tc.to, "final is final")
			if err != nil || code != http.StatusAccepted {
				t.Fatalf("send: %d %v", code, err)
			}
			// Final, and the send result stored too (it adds an event of its own, which may
			// come after the final status: the update stream can overtake it).
			before := waitMessage(ctx, t, c, m.ID, "final with its send result stored", func(m harness.Message) bool {
				return m.Status == tc.final && sendResultStored(m)
			})
			for _, s := range tc.inject {
				if err := sim.Inject(m.ID, s); err != nil {
					t.Fatal(err)
				}
			}
			want := append(history(before), tc.want...)
			after := waitMessage(ctx, t, c, m.ID, fmt.Sprintf("history %v", want), func(m harness.Message) bool {
				return len(m.Events) >= len(want)
			})
			t.Logf("%s: history before %v; injected %v; after %v", tc.name, history(before), tc.inject, history(after))
			if got := history(after); !slices.Equal(got, want) {
				t.Errorf("history %v, want %v", got, want)
			}
			if after.Status != tc.final {
				t.Errorf("status %s after the late updates, want %s", after.Status, tc.final)
			}
		})
	}
}

// sendResultStored reports whether m's history has the event of its send result: the
// fastsmsing plugin answers an accepted message "queued" (in the provider's queue), which the
// core records as the event "accepted via fastsms", the message staying sending — or, when
// the update stream overtook the send result and the message is already sent, as a step back
// ("queued", ignored).
func sendResultStored(m harness.Message) bool {
	for _, e := range m.Events {
		if e.Detail != nil && (*e.Detail == "accepted via fastsms" || e.Status == "queued" && *e.Detail == "ignored") {
			return true
		}
	}
	return false
}

// waitMessage polls GET /v1/messages/{id} until ok holds or ctx ends.
func waitMessage(ctx context.Context, t *testing.T, c *harness.Client, id, what string, ok func(harness.Message) bool) harness.Message {
	t.Helper()
	for {
		var m harness.Message
		code, err := c.Do(ctx, http.MethodGet, "/v1/messages/"+id, nil, &m)
		if err == nil && code == http.StatusOK && ok(m) {
			return m
		}
		select {
		case <-ctx.Done():
			t.Fatalf("message %s never showed %s: last %d %v %+v", id, what, code, err, m)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
