package integration

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsgw/smsgw/integration-tests/harness"
	"github.com/smsgw/smsgw/integration-tests/providersim"
)

// attempt is one POST /v1/messages of sendLoad.
type attempt struct {
	started time.Time
	code    int    // 0: the request failed (connection refused or reset, timeout)
	id      string // set on a 202
}

// sendLoad posts sends with `workers` concurrent clients until ctx ends or, when max > 0,
// max requests were made, and returns every attempt. onAccept, when non-nil, is called after
// each 202 with the number of 202s so far. Unlike sendMany it keeps the refusals and failed
// requests, so a test can tell what happened to the sends made around a kill or a SIGTERM.
func sendLoad(ctx context.Context, c *harness.Client, max, workers int, onAccept func(accepted int)) []attempt {
	var (
		mu       sync.Mutex
		all      []attempt
		next     atomic.Int64
		accepted atomic.Int64
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []attempt
			defer func() {
				mu.Lock()
				all = append(all, mine...)
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				i := next.Add(1)
				if max > 0 && i > int64(max) {
					return
				}
				a := attempt{started: time.Now()}
				code, m, err := c.Send(ctx, "+14155550100", fmt.Sprintf("+1415556%04d", i%10000), fmt.Sprintf("crash message %d", i))
				if err == nil {
					a.code = code
				}
				if a.code == http.StatusAccepted {
					a.id = m.ID
				}
				mine = append(mine, a)
				if a.id != "" && onAccept != nil {
					onAccept(int(accepted.Add(1)))
				}
			}
		}()
	}
	wg.Wait()
	slices.SortFunc(all, func(a, b attempt) int { return a.started.Compare(b.started) })
	return all
}

// acceptedIDs returns the ids of the attempts that got a 202.
func acceptedIDs(as []attempt) []string {
	var ids []string
	for _, a := range as {
		if a.id != "" {
			ids = append(ids, a.id)
		}
	}
	return ids
}

// outcomes sums up attempts by answer ("202", "503", "failed" for no answer).
func outcomes(as []attempt) map[string]int {
	out := map[string]int{}
	for _, a := range as {
		k := "failed"
		if a.code != 0 {
			k = fmt.Sprint(a.code)
		}
		out[k]++
	}
	return out
}

// newFastSMSSim serves a simulator for the test, in-process; it outlives the gateways.
func newFastSMSSim(t *testing.T, apiKey string) (*providersim.Sim, string) {
	t.Helper()
	sim := providersim.New(providersim.Options{APIKey: apiKey})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	return sim, srv.URL
}

// statusCounts counts the messages of the database by status, read directly (the gateway
// may be down).
func statusCounts(t *testing.T, ctx context.Context, dsn string) map[string]int {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT status, count(*) FROM messages GROUP BY status`)
	if err != nil {
		t.Fatalf("count messages by status: %v", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitGone waits until pid has exited (gone, or a zombie nobody reaped yet).
func waitGone(ctx context.Context, pid int) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		stat, err := os.ReadFile(filepath.Join("/proc", fmt.Sprint(pid), "stat"))
		if err != nil {
			return nil // gone
		}
		if s := string(stat); strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("process %d still running: %w", pid, ctx.Err())
		case <-tick.C:
		}
	}
}

// crashReport is what a crash test checks and prints once every message is final.
type crashReport struct {
	accepted       int            // ids that got a 202
	notFinal       int            // accepted ids still not final at the deadline
	notDelivered   map[string]int // accepted ids that ended otherwise, by status
	unacked        int            // committed without the client seeing a 202
	unackedStatus  map[string]int
	unknownToDB    int // ids the simulator received that the database does not have
	duplicates     int // extra receptions at the simulator
	dupIDs         int // ids received more than once
	dupAccepted    int // of those, ids that got a 202
	batches        int
	distinctAtSim  int
	deliveredAfter time.Duration
}

// checkAllDelivered waits (on c, a restarted gateway) for every accepted id to be final and
// compares the database with what the simulator received.
func checkAllDelivered(t *testing.T, ctx context.Context, c *harness.Client, sim *providersim.Sim, ids []string, since time.Time) crashReport {
	t.Helper()
	r := crashReport{accepted: len(ids), notDelivered: map[string]int{}, unackedStatus: map[string]int{}}
	final, err := c.WaitAllFinal(ctx, ids)
	r.deliveredAfter = time.Since(since)
	if err != nil {
		// Lost: accepted but never final before the deadline.
		r.notFinal = len(ids) - len(final)
		t.Errorf("lost: %d of %d accepted ids not final within the deadline: %v", len(ids)-len(final), len(ids), firstLines(err, 3))
	}
	shown := 0
	for _, id := range ids {
		if m, ok := final[id]; ok && m.Status != "delivered" {
			r.notDelivered[m.Status]++
			if shown++; shown <= 5 {
				t.Errorf("accepted message %s ended %s: %+v", id, m.Status, m.Events)
			}
		}
	}
	accepted := make(map[string]bool, len(ids))
	for _, id := range ids {
		accepted[id] = true
	}
	all, err := c.ListMessages(ctx, "")
	if err != nil {
		t.Fatalf("list messages: %v", err)
	}
	inDB := make(map[string]bool, len(all))
	var unacked []string
	for _, m := range all {
		inDB[m.ID] = true
		if !accepted[m.ID] {
			unacked = append(unacked, m.ID)
		}
	}
	for _, id := range ids {
		if !inDB[id] {
			t.Errorf("accepted id %s is not in the database", id)
		}
	}
	r.unacked = len(unacked)
	if len(unacked) > 0 {
		// Committed, but the client never saw its 202 (in flight at the kill). Not counted
		// as accepted; the gateway delivers them all the same.
		uctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		um, err := c.WaitAllFinal(uctx, unacked)
		cancel()
		for _, m := range um {
			r.unackedStatus[m.Status]++
		}
		if err != nil {
			r.unackedStatus["not final"] = len(unacked) - len(um)
		}
	}
	st := sim.Stats()
	r.batches, r.distinctAtSim = st.Batches, st.Messages
	r.duplicates, r.dupIDs = st.Duplicates, len(st.DuplicateIDs)
	for id := range st.DuplicateIDs {
		if accepted[id] {
			r.dupAccepted++
		}
	}
	for id := range sim.Counts() {
		if !inDB[id] {
			r.unknownToDB++
		}
	}
	if r.unknownToDB > 0 {
		t.Errorf("the simulator received %d ids the database does not have (sent before commit?)", r.unknownToDB)
	}
	for _, id := range ids {
		if sim.Count(id) == 0 && final[id].Status == "delivered" {
			t.Errorf("message %s is delivered but the simulator never received it", id)
			break
		}
	}
	return r
}

func firstLines(err error, n int) string {
	lines := strings.Split(err.Error(), "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("… (%d more)", len(lines)-n))
	}
	return strings.Join(lines, "; ")
}

func (r crashReport) lost() int {
	n := r.notFinal
	for _, v := range r.notDelivered {
		n += v
	}
	return n
}

// TestGatewayKilledUnderLoadFastSMS: kill -9 of the gateway's process group (the gateway
// and its fastsmsing plugin at once, as a machine crash would) while 2,000 sends are being
// accepted by 32 clients; a gateway restarted on the same database and config delivers every
// id that got a 202. It prints lost (must be 0) and duplicates at the simulator (which
// dedupes by message id, so a duplicate costs nothing but is counted).
func TestGatewayKilledUnderLoadFastSMS(t *testing.T) {
	const (
		apiKey = "it-crash-key"
		total  = 2000
		killAt = 1000 // 202s before the kill
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sim, simURL := newFastSMSSim(t, apiKey)
	dir := t.TempDir()
	s := storeSetup(t, "postgres", dir)
	cfg, addr := writeFastSMSConfig(t, dir, s, fastsms{simURL: simURL, apiKey: apiKey, maxBatch: 100, batchSize: 100})
	g := start(t, dir, cfg, addr)
	plugins := harness.ChildPIDs(g.Cmd.Process.Pid, "smsgw-provider")
	if len(plugins) != 1 {
		t.Fatalf("want one plugin process, found %v", plugins)
	}
	c := harness.NewClient(g.URL, user, password)

	var (
		once     sync.Once
		killedAt time.Time
	)
	began := time.Now()
	attempts := sendLoad(ctx, c, total, 32, func(accepted int) {
		if accepted >= killAt {
			once.Do(func() {
				killedAt = time.Now()
				g.KillGroup()
			})
		}
	})
	if killedAt.IsZero() {
		t.Fatalf("only %d of %d sends accepted, never killed: %v", len(acceptedIDs(attempts)), total, outcomes(attempts))
	}
	if err := waitGone(ctx, plugins[0]); err != nil {
		t.Fatalf("plugin outlived the kill of its process group: %v", err)
	}
	ids := acceptedIDs(attempts)
	var before, after []attempt
	for _, a := range attempts {
		if a.started.Before(killedAt) {
			before = append(before, a)
		} else {
			after = append(after, a)
		}
	}
	atKill := statusCounts(t, ctx, s.dsn)
	simAtKill := sim.Stats()
	t.Logf("killed after %s: sends started before the kill %v, after %v; database at the kill %v; simulator had %d distinct messages in %d batches",
		killedAt.Sub(began).Round(time.Millisecond), outcomes(before), outcomes(after), atKill, simAtKill.Messages, simAtKill.Batches)

	restartAt := time.Now()
	g2 := start(t, dir, cfg, addr)
	t.Logf("restarted in %s", time.Since(restartAt).Round(time.Millisecond))
	r := checkAllDelivered(t, ctx, harness.NewClient(g2.URL, user, password), sim, ids, killedAt)

	t.Logf("accepted (202) %d; lost %d (not final %d, not delivered %v); duplicates at the simulator %d (%d ids, %d of them accepted); committed but unacknowledged %d %v; simulator: %d distinct messages, %d batches; all accepted final %s after the kill",
		r.accepted, r.lost(), r.notFinal, r.notDelivered, r.duplicates, r.dupIDs, r.dupAccepted, r.unacked, r.unackedStatus,
		r.distinctAtSim, r.batches, r.deliveredAfter.Round(time.Millisecond))
	if r.lost() > 0 {
		t.Errorf("lost %d accepted messages, want 0", r.lost())
	}
}

// TestSIGTERMDrainsUnderLoadFastSMS: SIGTERM to the gateway while 32 clients keep sending →
// it stops accepting, drains and exits within 30 s; nothing reached the simulator twice; and
// after a restart on the same database every id that got a 202, before or after the signal,
// is delivered (a send after SIGTERM is refused or finds no listener, never accepted and
// dropped).
func TestSIGTERMDrainsUnderLoadFastSMS(t *testing.T) {
	const (
		apiKey   = "it-sigterm-key"
		signalAt = 1000 // 202s before the SIGTERM
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sim, simURL := newFastSMSSim(t, apiKey)
	// Every provider call takes a while, so batches are in the plugin when the signal comes
	// and the drain has to wait for their answers.
	sim.SetLatency(100 * time.Millisecond)
	dir := t.TempDir()
	s := storeSetup(t, "postgres", dir)
	cfg, addr := writeFastSMSConfig(t, dir, s, fastsms{simURL: simURL, apiKey: apiKey, maxBatch: 100, batchSize: 100})
	g := start(t, dir, cfg, addr)
	c := harness.NewClient(g.URL, user, password)

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	signal := make(chan struct{})
	var once sync.Once
	loaded := make(chan []attempt, 1)
	began := time.Now()
	go func() {
		loaded <- sendLoad(loadCtx, c, 0, 32, func(accepted int) {
			if accepted >= signalAt {
				once.Do(func() { close(signal) })
			}
		})
	}()
	select {
	case <-signal:
	case <-ctx.Done():
		t.Fatal("the load never reached its SIGTERM point")
	}
	termAt := time.Now()
	stopErr := g.Stop(30 * time.Second)
	exitIn := time.Since(termAt)
	// The clients kept sending through the drain; stop them, then make a few more sends
	// to the exited gateway.
	stopLoad()
	attempts := <-loaded
	attempts = append(attempts, sendLoad(ctx, c, 64, 8, nil)...)
	if stopErr != nil {
		t.Errorf("gateway after SIGTERM: %v (exit within 30 s with status 0 wanted)", stopErr)
	}
	if exitIn >= 30*time.Second {
		t.Errorf("gateway took %s to exit after SIGTERM, want < 30s", exitIn)
	}
	var before, during, after []attempt
	exitedAt := termAt.Add(exitIn)
	for _, a := range attempts {
		switch {
		case a.started.Before(termAt):
			before = append(before, a)
		case a.started.Before(exitedAt):
			during = append(during, a)
		default:
			after = append(after, a)
		}
	}
	atExit := statusCounts(t, ctx, s.dsn)
	simAtExit := sim.Stats()
	drained := 0 // batches the simulator took after the signal: the drain at work
	for _, b := range sim.Batches() {
		if b.At.After(termAt) {
			drained++
		}
	}
	log := g.Log()
	t.Logf("SIGTERM after %s; exited in %s; sends started before it %v, during the drain %v, after the exit %v; database at the exit %v; simulator: %d distinct messages, %d duplicates, %d batches (%d taken after the signal)",
		termAt.Sub(began).Round(time.Millisecond), exitIn.Round(time.Millisecond), outcomes(before), outcomes(during), outcomes(after),
		atExit, simAtExit.Messages, simAtExit.Duplicates, simAtExit.Batches, drained)
	if strings.Contains(log, "queue drain timed out") {
		t.Errorf("the queue did not drain within the shutdown timeout")
	}
	for _, a := range append(during, after...) {
		if a.code == http.StatusAccepted {
			// Not wrong in itself (the check below delivers it), but a draining gateway
			// should no longer take new sends.
			t.Logf("a send started %s after SIGTERM was accepted", a.started.Sub(termAt).Round(time.Millisecond))
		}
	}
	for _, a := range after {
		if a.code != 0 {
			t.Errorf("a send started after the gateway exited was answered %d", a.code)
			break
		}
	}
	if simAtExit.Duplicates != 0 {
		t.Errorf("simulator received %d duplicates during the drain (%v), want 0", simAtExit.Duplicates, simAtExit.DuplicateIDs)
	}

	g2 := start(t, dir, cfg, addr)
	ids := acceptedIDs(attempts)
	r := checkAllDelivered(t, ctx, harness.NewClient(g2.URL, user, password), sim, ids, termAt)
	t.Logf("accepted (202) %d (%d of them during the drain); lost %d (not final %d, not delivered %v); duplicates at the simulator %d; committed but unacknowledged %d %v; simulator: %d distinct messages, %d batches; all final %s after SIGTERM",
		r.accepted, len(acceptedIDs(during)), r.lost(), r.notFinal, r.notDelivered, r.duplicates, r.unacked, r.unackedStatus,
		r.distinctAtSim, r.batches, r.deliveredAfter.Round(time.Millisecond))
	if r.lost() > 0 {
		t.Errorf("lost %d accepted messages, want 0", r.lost())
	}
	if r.duplicates != 0 {
		t.Errorf("simulator received %d duplicates, want 0", r.duplicates)
	}
}
