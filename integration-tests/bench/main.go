// Command bench is `make bench`: it measures POST /v1/messages of a real smsgw process on
// PostgreSQL (64 concurrent clients) and, in the same run against the same Postgres, a floor:
// a bare Gin handler that decodes the same JSON and does one INSERT of a comparable row. It
// prints accepted/s, p50, p99, the ratios against the floor, end-to-end delivered/s through
// the loopback plugin, and the gateway's RSS.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
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
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	o := options{}
	fs.StringVar(&o.dsn, "dsn", envOr("SMSGW_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"), "Postgres server (a fresh database is created on it)")
	fs.IntVar(&o.clients, "clients", 64, "concurrent HTTP clients")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured load before each phase")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured load duration per phase")
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
	dbURL, drop, err := freshDatabase(ctx, o.dsn)
	if err != nil {
		return err
	}
	defer drop()

	floor, err := benchFloor(ctx, dbURL, o)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	gw, err := benchGateway(ctx, bins, dir, dbURL, o)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}

	fmt.Fprintf(out, "\n%d clients, %s measured per phase after %s of warm-up, same Postgres\n", o.clients, o.duration, o.warmup)
	fmt.Fprintf(out, "%-34s %10s %9s %9s\n", "", "req/s", "p50", "p99")
	fmt.Fprintf(out, "%-34s %10.0f %9s %9s\n", "floor (gin + 1 INSERT)", floor.rate(), ms(floor.p(50)), ms(floor.p(99)))
	fmt.Fprintf(out, "%-34s %10.0f %9s %9s\n", "smsgw POST /v1/messages (accepted)", gw.rate(), ms(gw.p(50)), ms(gw.p(99)))
	fmt.Fprintf(out, "\naccepted/s vs floor:   %.2fx  (target >= 0.50)\n", gw.rate()/floor.rate())
	fmt.Fprintf(out, "p99 vs floor p99:      %.2fx  (target <= 2.00)\n", float64(gw.p(99))/float64(floor.p(99)))
	fmt.Fprintf(out, "delivered/s end to end: %.0f = %.2fx accepted/s  (target >= 0.80; %d delivered in %s)\n",
		gw.deliveredRate(), gw.deliveredRate()/gw.rate(), gw.delivered, gw.deliveredIn.Round(time.Millisecond))
	fmt.Fprintf(out, "gateway RSS:           %.1f MB now, %.1f MB peak  (target <= 150)\n", float64(gw.rssKiB)/1024, float64(gw.peakKiB)/1024)
	if gw.errors > 0 || floor.errors > 0 {
		fmt.Fprintf(out, "non-2xx answers: floor %d, gateway %d\n", floor.errors, gw.errors)
	}
	return nil
}

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
func freshDatabase(ctx context.Context, serverURL string) (string, func(), error) {
	admin, err := sql.Open("postgres", serverURL)
	if err != nil {
		return "", nil, err
	}
	name := "smsgw_bench_" + time.Now().UTC().Format("20060102150405")
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
	accepted    int // measured (after the warm-up)
	sent        int // accepted in all, warm-up included
	errors      int // non-2xx answers and failed requests, warm-up included
	elapsed     time.Duration
	latencies   []time.Duration
	delivered   int
	deliveredIn time.Duration
	rssKiB      int
	peakKiB     int
}

func (r *result) rate() float64 { return float64(r.accepted) / r.elapsed.Seconds() }

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
		res    = &result{}
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
			for time.Now().Before(deadline) {
				i := seq.Add(1)
				body := fmt.Sprintf(`{"from":"+14155550100","to":"+1415%07d","text":"bench message %d"}`, i%10000000, i)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, stringsReader(body))
				req.Header.Set("Content-Type", "application/json")
				if user != "" {
					req.SetBasicAuth(user, pass)
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				measured := !t0.Before(measureFrom)
				if err != nil {
					errCnt.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != okCode {
					errCnt.Add(1)
					continue
				}
				sent.Add(1)
				if measured {
					lat = append(lat, time.Since(t0))
				}
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
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
	return load(ctx, "http://"+ln.Addr().String()+"/v1/messages", "", "", o.clients, o.warmup, o.duration, http.StatusAccepted), nil
}

func benchGateway(ctx context.Context, bins harness.Binaries, dir, dbURL string, o options) (*result, error) {
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
provider "loopback" {
  plugin = "smsgw-provider-loopback"
  sha256 = %q
}
account "bench" {
  password_bcrypt = %q
}
`, addr, bins.PluginDir, dbURL, o.pool(), bins.LoopbackSHA, hash)
	cfgPath := filepath.Join(dir, "bench.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	g, err := harness.StartGateway(ctx, bins.Gateway, cfgPath, addr, filepath.Join(dir, "gateway.log"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = g.Stop(30 * time.Second) }()

	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()

	start := time.Now()
	res := load(ctx, g.URL+"/v1/messages", "bench", "bench", o.clients, o.warmup, o.duration, http.StatusAccepted)
	fmt.Fprintf(os.Stderr, "gateway: %d accepted (%.0f/s); waiting for delivery …\n", res.accepted, res.rate())
	// Wait for the backlog to drain: delivered/s is every accepted message (warm-up
	// included) over the time from the start of the load to the last one's delivery.
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
			return nil, errors.New("accepted messages not all delivered within 5 minutes")
		case <-time.After(100 * time.Millisecond): // the count is a scan: keep it off the deliveries' back
		}
	}
	res.rssKiB, res.peakKiB, err = harness.RSSKiB(g.Cmd.Process.Pid)
	if err != nil {
		return nil, err
	}
	return res, nil
}
