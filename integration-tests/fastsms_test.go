package integration

import (
	"cmp"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsgw/smsgw/integration-tests/harness"
	"github.com/smsgw/smsgw/integration-tests/providersim"
)

// fastsms describes the "fastsms" provider of a gateway config: the fastsmsing plugin
// against a simulator. Zero fields take the defaults noted.
type fastsms struct {
	simURL, apiKey string
	maxBatch       int    // the plugin's max_batch (50)
	batchSize      int    // the host's batch.max_size (100)
	linger         string // batch.linger ("200ms")
	timeout        string // the plugin's per-call timeout ("5s")
	pollInterval   string // the plugin's /updates poll_interval ("50ms")
	retry          string // retry block body (10 attempts, 100ms backoff)
}

// writeFastSMSConfig writes a gateway config whose only provider is "fastsms", the fastsmsing
// plugin against the simulator, keeping its update cursor in dir.
func writeFastSMSConfig(t *testing.T, dir string, s setup, f fastsms) (path, addr string) {
	t.Helper()
	addr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	f.maxBatch = cmp.Or(f.maxBatch, 50)
	f.batchSize = cmp.Or(f.batchSize, 100)
	f.linger = cmp.Or(f.linger, "200ms")
	f.timeout = cmp.Or(f.timeout, "5s")
	f.pollInterval = cmp.Or(f.pollInterval, "50ms")
	f.retry = cmp.Or(f.retry, "max_attempts = 10\n    backoff = \"100ms\"")
	if s.policy == "" {
		s.policy = noLimits
	}
	cfg := fmt.Sprintf(`listen = %q
plugin_dir = %q
storage {
  driver = %q
  dsn    = %q
}
provider "fastsms" {
  plugin = "smsgw-provider-fastsmsing"
  sha256 = %q
  config = {
    base_url      = %q
    api_key       = %q
    max_batch     = %d
    poll_interval = %q
    timeout       = %q
    cursor_file   = %q
  }
  batch {
    max_size = %d
    linger   = %q
  }
  retry {
    %s
  }
}
account %q {
  password_bcrypt = %q
}
%s`, addr, bins.PluginDir, s.driver, s.dsn, bins.FastSMSingSHA, f.simURL, f.apiKey, f.maxBatch, f.pollInterval, f.timeout,
		filepath.Join(dir, "fastsms-cursor.json"), f.batchSize, f.linger, f.retry, user, userHash, s.policy)
	path = filepath.Join(dir, fmt.Sprintf("smsgw-fastsms-%d.hcl", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, addr
}

// TestFastSMSBatches: 300 messages through the fastsmsing plugin and the simulator all end
// delivered, in few provider calls, with no duplicates.
func TestFastSMSBatches(t *testing.T) {
	const n = 300
	const apiKey = "it-fastsms-key"
	sim := providersim.New(providersim.Options{APIKey: apiKey})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})

	dir := t.TempDir()
	cfg, addr := writeFastSMSConfig(t, dir, storeSetup(t, "sqlite", dir), fastsms{simURL: srv.URL, apiKey: apiKey})
	g := start(t, dir, cfg, addr)
	c := harness.NewClient(g.URL, user, password)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	// The plugin's max_batch (50, below the host's batch.max_size of 100) is a capability
	// the host reads once the plugin is configured, and its aggregator keeps to it.
	var provs struct {
		Items []struct {
			Name         string `json:"name"`
			Capabilities struct {
				MaxBatch int `json:"max_batch"`
			} `json:"capabilities"`
		} `json:"items"`
	}
	if code, err := c.Do(ctx, "GET", "/v1/providers", nil, &provs); err != nil || code != 200 || len(provs.Items) != 1 || provs.Items[0].Capabilities.MaxBatch != 50 {
		t.Fatalf("GET /v1/providers: %d %v %+v, want max_batch 50", code, err, provs)
	}

	// The plugin reports the simulator's balance; loopback-style plugins without one are 501.
	var bal struct{ Amount, Currency string }
	if code, err := c.Do(ctx, "GET", "/v1/providers/fastsms/balance", nil, &bal); err != nil || code != 200 || bal.Amount == "" || bal.Currency == "" {
		t.Fatalf("GET /v1/providers/fastsms/balance: %d %v %+v", code, err, bal)
	}
	if code, err := c.Do(ctx, "GET", "/v1/providers/nope/balance", nil, nil); err != nil || code != 404 {
		t.Fatalf("balance of an unknown provider: %d %v, want 404", code, err)
	}

	ids, final, elapsed := sendAllFinal(ctx, t, c, n)
	notDelivered := 0
	for _, id := range ids {
		if m := final[id]; m.Status != "delivered" || m.Provider != "fastsms" {
			notDelivered++
			if notDelivered <= 5 {
				t.Errorf("message %s: %+v", id, m)
			}
		}
	}
	st := sim.Stats()
	perMessage := float64(st.Batches) / float64(n)
	t.Logf("fastsms: %d messages delivered in %s; simulator saw %d batches (%v), %d distinct messages, %d duplicates; %.4f provider calls per message",
		n-notDelivered, elapsed.Round(time.Millisecond), st.Batches, st.ByOutcome, st.Messages, st.Duplicates, perMessage)
	if notDelivered > 0 {
		t.Errorf("%d of %d messages not delivered", notDelivered, n)
	}
	if st.Messages != n || st.Duplicates != 0 {
		t.Errorf("simulator received %d distinct messages and %d duplicates, want %d and 0", st.Messages, st.Duplicates, n)
	}
	for _, b := range sim.Batches() {
		if len(b.IDs) > 50 {
			t.Errorf("batch %d carried %d messages, over max_batch 50", b.Seq, len(b.IDs))
		}
	}
	// ceil(300/50) = 6 full batches, plus a few partial ones at the start and end of the burst.
	if maxBatches := (n+49)/50 + 6; st.Batches > maxBatches || perMessage >= 0.1 {
		t.Errorf("%d batches for %d messages, want at most %d (well under 1/10 per message)", st.Batches, n, maxBatches)
	}
}
