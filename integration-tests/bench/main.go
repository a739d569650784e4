// Command bench is `make bench`: it measures POST /v1/messages of a real smsgw process on
// PostgreSQL (64 concurrent clients) and, in the same run against the same Postgres server, a
// floor: a bare Gin handler that decodes the same JSON and does one INSERT of a comparable
// row. In each round (-rounds, default 2) the gateway runs twice, each time on a fresh
// database: with the product defaults (rate limit 50 per sender per hour, opt-outs
// enforced, 10,000 opt-out rows preloaded for pairs the load never uses) and with both
// switched off. The load spreads its senders over
// 10,000 numbers, so no sender comes near its limit. It prints accepted/s, p50, p99, the
// ratios of the default gateway against the floor and against the gateway with the checks
// off, end-to-end delivered/s through the loopback plugin, and the gateway's RSS. A last
// section (fastsms.go; -skip-fastsms leaves it out, -fastsms-only runs it alone) measures
// end-to-end delivered/s through the fastsmsing plugin and an in-process providersim with the
// host's batch.max_size at 100 and at 1, and the provider calls per message.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	_ "github.com/lib/pq" // the Postgres driver for the floor and the bookkeeping queries
	"golang.org/x/crypto/bcrypt"

	"github.com/smsgw/smsgw/integration-tests/harness"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	dsn      string
	clients  int
	warmup   time.Duration
	duration time.Duration
	rounds   int
	// skipFastSMS leaves out the fastsmsing section; fastsmsOnly runs nothing else.
	skipFastSMS, fastsmsOnly bool
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := options{}
	fs.StringVar(&o.dsn, "dsn", envOr("SMSGW_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "Postgres server (a fresh database is created on it)")
	fs.IntVar(&o.clients, "clients", 64, "concurrent HTTP clients")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each phase")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured load duration per phase")
	fs.IntVar(&o.rounds, "rounds", 2, "rounds of floor, off and on phases, pooled")
	fs.BoolVar(&o.skipFastSMS, "skip-fastsms", false, "leave out the fastsmsing section (batch.max_size 100 vs 1)")
	fs.BoolVar(&o.fastsmsOnly, "fastsms-only", false, "run only the fastsmsing section")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "smsgw-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(out, "building binaries …")
	bins, err := harness.Build(ctx, dir)
	if err != nil {
		return err
	}
	// Every phase gets a database of its own, dropped when the phase ends: delivered/s
	// counts only that phase's messages, no phase reads another's rows, and no autovacuum
	// of an earlier phase's tables runs during a later one.
	inFreshDB := func(label string, f func(dbURL string) (*result, error)) (*result, error) {
		u, drop, err := freshDatabase(ctx, o.dsn, label)
		if err != nil {
			return nil, err
		}
		defer drop()
		return f(u)
	}
	if o.fastsmsOnly {
		return runFastSMS(ctx, bins, dir, o, out, inFreshDB)
	}
	// Each round measures the floor, then the gateway with limits+opt-outs off and on, the
	// two in alternating order (off first in odd rounds), so neither configuration is
	// always the one that runs while the machine is still busy with the previous phase; the
	// figures below pool the rounds. Shared machines drift by ±20% within minutes, which
	// a single pair of phases cannot tell apart from a cost.
	var floor, gw, off result
	for round := range o.rounds {
		fl, err := inFreshDB("floor", func(u string) (*result, error) { return benchFloor(ctx, u, o) })
		if err != nil {
			return fmt.Errorf("floor: %w", err)
		}
		floor.add(fl)
		phases := []phase{phaseOff, phaseOn}
		if round%2 == 1 {
			slices.Reverse(phases)
		}
		for _, ph := range phases {
			r, err := inFreshDB(ph.name, func(u string) (*result, error) { return benchGateway(ctx, bins, dir, u, o, ph) })
			if err != nil {
				return fmt.Errorf("gateway, limits+opt-outs %s: %w", ph.name, err)
			}
			fmt.Fprintf(os.Stderr, "round %d, %s: %.0f accepted/s (floor %.0f)\n", round+1, ph.name, r.rate(), fl.rate())
			if ph.name == phaseOn.name {
				gw.add(r)
			} else {
				off.add(r)
			}
		}
	}
	slices.Sort(floor.latencies)
	slices.Sort(gw.latencies)
	slices.Sort(off.latencies)

	fmt.Fprintf(out, "\n%d clients, %s measured per phase after %s of warm-up, same Postgres (a fresh database per phase)\n", o.clients, o.duration, o.warmup)
	fmt.Fprintf(out, "%d round(s) of floor, off, on (on before off in even rounds), pooled; senders spread over %d numbers; %d opt-outs preloaded for \"on\"\n", o.rounds, senders, preloadOptOuts)
	fmt.Fprintf(out, "%-44s %10s %9s %9s\n", "", "req/s", "p50", "p99")
	fmt.Fprintf(out, "%-44s %10.0f %9s %9s\n", "floor (gin + 1 INSERT)", floor.rate(), ms(floor.p(50)), ms(floor.p(99)))
	fmt.Fprintf(out, "%-44s %10.0f %9s %9s\n", "smsgw POST /v1/messages, limits+opt-outs on", gw.rate(), ms(gw.p(50)), ms(gw.p(99)))
	fmt.Fprintf(out, "%-44s %10.0f %9s %9s\n", "smsgw POST /v1/messages, limits+opt-outs off", off.rate(), ms(off.p(50)), ms(off.p(99)))
	fmt.Fprintf(out, "(accepted; \"on\" = the product defaults, which the ratios below use)\n")
	fmt.Fprintf(out, "\naccepted/s vs floor:   %.2fx  (target >= 0.50)\n", gw.rate()/floor.rate())
	fmt.Fprintf(out, "p99 vs floor p99:      %.2fx  (target <= 2.00)\n", float64(gw.p(99))/float64(floor.p(99)))
	fmt.Fprintf(out, "delivered/s end to end: %.0f = %.2fx accepted/s  (target >= 0.80; %d delivered in %s)\n",
		gw.deliveredRate(), gw.deliveredRate()/gw.rate(), gw.delivered, gw.deliveredIn.Round(time.Millisecond))
	fmt.Fprintf(out, "gateway RSS:           %.1f MB now, %.1f MB peak  (target <= 150)\n", float64(gw.rssKiB)/1024, float64(gw.peakKiB)/1024)
	fmt.Fprintf(out, "limits+opt-outs on vs off: %.2fx (target >= 0.85)\n", gw.rate()/off.rate())
	fmt.Fprintf(out, "  (off: delivered/s %.0f = %.2fx its accepted/s; p99 on vs off %.2fx)\n",
		off.deliveredRate(), off.deliveredRate()/off.rate(), float64(gw.p(99))/float64(off.p(99)))
	fmt.Fprintf(out, "requests per sender in the \"on\" phase: %.1f on average (limit %d per hour)\n",
		float64(gw.sent+gw.errors)/float64(senders*o.rounds), defaultPerSender)
	fmt.Fprintf(out, "non-2xx answers: floor %d%s, gateway on %d%s, gateway off %d%s\n",
		floor.errors, floor.codeList(), gw.errors, gw.codeList(), off.errors, off.codeList())
	if gw.codes[http.StatusTooManyRequests] > 0 {
		fmt.Fprintf(out, "WARNING: the \"on\" phase hit the rate limit %d times: its figures measure refusals too\n", gw.codes[http.StatusTooManyRequests])
	}
	if !o.skipFastSMS {
		// After every other phase, so none of the figures above changes.
		return runFastSMS(ctx, bins, dir, o, out, inFreshDB)
	}
	return nil
}

// The load's senders and the "on" phase's preloaded opt-outs.
const (
	senders          = 10000
	preloadOptOuts   = 10000
	defaultPerSender = 50 // the product default of limits.per_sender
)

// sendBody is the i-th request of the load, for the floor and the gateway alike: `from` is
// one of `senders` numbers in turn, so each gets only a few requests per run, and `to` is
// spread over 10,000,000 numbers of another area code.
func sendBody(i int64) string {
	return fmt.Sprintf(`{"from":"+1415%07d","to":"+1628%07d","text":"bench message %d"}`, i%senders, i%10000000, i)
}

// phase is one configuration of the gateway.
type phase struct {
	name string
	// policy is appended to the config; empty keeps the product defaults.
	policy string
	// optOuts is how many opt-outs to create through POST /v1/opt-outs before the load,
	// for the load's senders and recipients it never uses ("+1212…").
	optOuts int
}

var (
	phaseOn  = phase{name: "on", optOuts: preloadOptOuts}
	phaseOff = phase{name: "off", policy: "limits {\n  per_sender = 0\n}\nopt_out {\n  enforce = false\n}\n"}
)

// maxPool caps either server's connection pool, under Postgres' default max_connections of
// 100 with room for the bench's own bookkeeping connection.
const maxPool = 64

// pool is the connection pool size of the floor and of the gateway: one per client, capped.
func (o options) pool() int { return min(o.clients, maxPool) }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000) }

// freshDatabase creates a uniquely named database on the server and returns its URL.
func freshDatabase(ctx context.Context, serverURL, label string) (string, func(), error) {
	admin, err := sql.Open("postgres", serverURL)
	if err != nil {
		return "", nil, err
	}
	name := "smsgw_bench_" + time.Now().UTC().Format("20060102150405") + "_" + label
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create database (is Postgres running? set SMSGW_BENCH_DATABASE_URL): %w", err)
	}
	u, err := withDatabase(serverURL, name)
	if err != nil {
		return "", nil, err
	}
	return u, func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}, nil
}

// result is one load phase.
type result struct {
	accepted    int         // measured (after the warm-up)
	sent        int         // accepted in all, warm-up included
	errors      int         // non-2xx answers and failed requests, warm-up included
	codes       map[int]int // errors by status code (0 = the request failed)
	elapsed     time.Duration
	latencies   []time.Duration
	delivered   int
	deliveredIn time.Duration
	rssKiB      int
	peakKiB     int
}

func (r *result) rate() float64 { return float64(r.accepted) / r.elapsed.Seconds() }

// add pools another phase of the same kind into r: counts, times and latencies add up
// (rates become totals over total time), memory is the largest seen. Sort latencies after.
func (r *result) add(o *result) {
	r.accepted += o.accepted
	r.sent += o.sent
	r.errors += o.errors
	for k, v := range o.codes {
		if r.codes == nil {
			r.codes = map[int]int{}
		}
		r.codes[k] += v
	}
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
	r.delivered += o.delivered
	r.deliveredIn += o.deliveredIn
	r.rssKiB = max(r.rssKiB, o.rssKiB)
	r.peakKiB = max(r.peakKiB, o.peakKiB)
}

// codeList renders the errors by status code, e.g. " (429: 3)", or "" without errors.
func (r *result) codeList() string {
	if len(r.codes) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(r.codes))
	s := " ("
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d: %d", k, r.codes[k])
	}
	return s + ")"
}

func (r *result) deliveredRate() float64 {
	if r.deliveredIn == 0 {
		return 0
	}
	return float64(r.delivered) / r.deliveredIn.Seconds()
}

func (r *result) p(q int) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[(len(r.latencies)-1)*q/100]
}

// load runs `clients` keep-alive clients posting the send body to url for warmup + d. Only
// requests started after the warm-up are measured (the first second of either server pays
// for opening connections and warming caches); res.sent counts every accepted request.
func load(ctx context.Context, url, user, pass string, clients int, warmup, d time.Duration, okCode int) *result {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	defer tr.CloseIdleConnections()
	var (
		mu     sync.Mutex
		res    = &result{codes: map[int]int{}}
		wg     sync.WaitGroup
		seq    atomic.Int64
		sent   atomic.Int64
		errCnt atomic.Int64
	)
	measureFrom := time.Now().Add(warmup)
	deadline := measureFrom.Add(d)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			codes := map[int]int{}
			for time.Now().Before(deadline) {
				i := seq.Add(1)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, stringsReader(sendBody(i)))
				req.Header.Set("Content-Type", "application/json")
				if user != "" {
					req.SetBasicAuth(user, pass)
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				measured := !t0.Before(measureFrom)
				if err != nil {
					errCnt.Add(1)
					codes[0]++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != okCode {
					errCnt.Add(1)
					codes[resp.StatusCode]++
					continue
				}
				sent.Add(1)
				if measured {
					lat = append(lat, time.Since(t0))
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			for k, n := range codes {
				res.codes[k] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(measureFrom)
	res.accepted = len(res.latencies)
	res.sent = int(sent.Load())
	res.errors = int(errCnt.Load())
	slices.Sort(res.latencies)
	return res
}

// benchFloor serves a bare Gin handler: decode the same JSON, one INSERT of a comparable
// row (same column types as the messages table's main columns), answer 202.
func benchFloor(ctx context.Context, dbURL string, o options) (*result, error) {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(o.pool())
	db.SetMaxIdleConns(o.pool())
	if _, err := db.ExecContext(ctx, `CREATE TABLE floor_messages (
		id text PRIMARY KEY, account_id text NOT NULL, direction text NOT NULL, from_addr text NOT NULL,
		to_addr text NOT NULL, body text NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL,
		updated_at timestamptz NOT NULL)`); err != nil {
		return nil, fmt.Errorf("create floor table: %w", err)
	}
	gin.SetMode(gin.ReleaseMode) // this binary's own gin, quiet; not the gateway's
	r := gin.New()
	r.POST("/v1/messages", func(c *gin.Context) {
		var in struct {
			From string `json:"from"`
			To   string `json:"to"`
			Text string `json:"text"`
		}
		if err := c.ShouldBindJSON(&in); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": "bad json"})
			return
		}
		id, now := uuid.Must(uuid.NewV7()).String(), time.Now().UTC()
		if _, err := db.ExecContext(c.Request.Context(), `INSERT INTO floor_messages VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`,
			id, "bench", "outbound", in.From, in.To, in.Text, "queued", now, now); err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"error": "insert"})
			return
		}
		c.JSON(http.StatusAccepted, gin.H{"id": id, "status": "queued"})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.Background())
	if err := settle(ctx, db); err != nil {
		return nil, err
	}
	return load(ctx, "http://"+ln.Addr().String()+"/v1/messages", "", "", o.clients, o.warmup, o.duration, http.StatusAccepted), nil
}

func benchGateway(ctx context.Context, bins harness.Binaries, dir, dbURL string, o options, ph phase) (*result, error) {
	provider := fmt.Sprintf(`provider "loopback" {
  plugin = "smsgw-provider-loopback"
  sha256 = %q
}
`, bins.LoopbackSHA)
	return runGateway(ctx, bins, dir, dbURL, o, gatewayRun{name: ph.name, provider: provider, policy: ph.policy,
		before: func(g *harness.Gateway, db *sql.DB) error {
			if err := preload(ctx, harness.NewClient(g.URL, "bench", "bench"), ph.optOuts); err != nil {
				return err
			}
			if ph.optOuts == 0 {
				return nil
			}
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM opt_outs`).Scan(&n); err != nil {
				return fmt.Errorf("count opt-outs: %w", err)
			}
			if n != ph.optOuts {
				return fmt.Errorf("%d opt-outs stored, want %d", n, ph.optOuts)
			}
			return nil
		}})
}

// gatewayRun is one gateway phase: its name (for files and logs), its provider block, the
// policy blocks appended to the config, and what to do once it serves, before the load.
type gatewayRun struct {
	name, provider, policy string
	before                 func(g *harness.Gateway, db *sql.DB) error
}

// runGateway starts a gateway on dbURL with the run's provider, runs the load against it,
// waits until every accepted message is delivered and reads the gateway's memory.
// delivered/s is every accepted message (warm-up included) over the time from the start of
// the load to the last one's delivery.
func runGateway(ctx context.Context, bins harness.Binaries, dir, dbURL string, o options, run gatewayRun) (*result, error) {
	addr, err := harness.FreeAddr()
	if err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("bench"), bcrypt.MinCost)
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`listen = %q
plugin_dir = %q
log_level = "warn"
storage {
  driver = "postgres"
  dsn = %q
  max_open_conns = %d
}
%saccount "bench" {
  password_bcrypt = %q
}
%s`, addr, bins.PluginDir, dbURL, o.pool(), run.provider, hash, run.policy)
	cfgPath := filepath.Join(dir, "bench-"+run.name+".hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	g, err := harness.StartGateway(ctx, bins.Gateway, cfgPath, addr, filepath.Join(dir, "gateway-"+run.name+".log"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = g.Stop(30 * time.Second) }()
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if run.before != nil {
		if err := run.before(g, db); err != nil {
			return nil, err
		}
	}
	if err := settle(ctx, db); err != nil {
		return nil, err
	}

	start := time.Now()
	res := load(ctx, g.URL+"/v1/messages", "bench", "bench", o.clients, o.warmup, o.duration, http.StatusAccepted)
	fmt.Fprintf(os.Stderr, "gateway (%s): %d accepted (%.0f/s), %d non-2xx; waiting for delivery …\n", run.name, res.accepted, res.rate(), res.errors)
	waitCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for {
		var n int
		if err := db.QueryRowContext(waitCtx, `SELECT count(*) FROM messages WHERE status = 'delivered'`).Scan(&n); err != nil {
			return nil, fmt.Errorf("count delivered: %w", err)
		}
		if n >= res.sent {
			res.delivered, res.deliveredIn = n, time.Since(start)
			break
		}
		select {
		case <-waitCtx.Done():
			return nil, fmt.Errorf("%d of %d accepted messages delivered within 5 minutes", n, res.sent)
		case <-time.After(100 * time.Millisecond): // the count is a scan: keep it off the deliveries' back
		}
	}
	if res.rssKiB, res.peakKiB, err = harness.RSSKiB(g.Cmd.Process.Pid); err != nil {
		return nil, err
	}
	return res, nil
}

// preload creates n opt-outs through POST /v1/opt-outs with a few concurrent clients: the
// load's senders, each blocked towards recipients the load never sends to.
func preload(ctx context.Context, c *harness.Client, n int) error {
	if n == 0 {
		return nil
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				body := map[string]string{"sender": fmt.Sprintf("+1415%07d", i%senders), "recipient": fmt.Sprintf("+1212%07d", i)}
				code, err := c.Do(ctx, http.MethodPost, "/v1/opt-outs", body, nil)
				if err == nil && code != http.StatusCreated {
					err = fmt.Errorf("POST /v1/opt-outs %v: status %d, want 201", body, code)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// settle is run before each phase's load, the same for every phase: VACUUM ANALYZE of the
// phase's database (statistics for the preloaded opt-outs, as a table in service has them,
// so no autovacuum analyze starts mid-load) and a CHECKPOINT, so no phase pays for the
// dirty buffers of the one before it.
func settle(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `VACUUM ANALYZE`); err != nil {
		return fmt.Errorf("vacuum analyze: %w", err)
	}
	if _, err := db.ExecContext(ctx, `CHECKPOINT`); err != nil {
		return fmt.Errorf("checkpoint (needs a superuser or pg_checkpoint): %w", err)
	}
	return nil
}
