// Package integration drives the real smsgw and plugin binaries as processes, over real
// HTTP, against real SQLite files and a real PostgreSQL.
package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/smsgw/smsgw/adapters/postgres/pgtest"
	"github.com/smsgw/smsgw/integration-tests/harness"
)

// Set once by TestMain, read-only afterwards.
var (
	bins     harness.Binaries
	userHash string
)

const (
	user     = "it"
	password = "it-secret"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "smsgw-it-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bins, err = harness.Build(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		os.Exit(1)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	userHash = string(h)
	// pgtest.Main stops a throwaway Postgres cluster, if the tests had to start one.
	code := pgtest.Main(m).Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// setup describes one gateway configuration.
type setup struct {
	driver        string // "sqlite" or "postgres"
	dsn           string
	trafficFile   string
	deliveryDelay string
	extraLoopback string // extra lines inside the loopback config object
	retry         string // retry block body
	// policy is appended verbatim after the provider and account blocks: limits, opt_out
	// and compat blocks. Empty means noLimits, so tests that send hundreds of messages
	// from one `from` are not cut off by the default 50 per hour; defaultPolicy keeps the
	// product defaults.
	policy string
}

// Values for setup.policy.
const (
	noLimits      = "limits {\n  per_sender = 0\n}\n"
	defaultPolicy = "# product defaults: limits 50 / 1h, opt-outs enforced\n"
)

// writeConfig writes a config file for one gateway process and returns its path and address.
func writeConfig(t *testing.T, dir string, s setup) (path, addr string) {
	t.Helper()
	addr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	if s.deliveryDelay == "" {
		s.deliveryDelay = "0s"
	}
	if s.policy == "" {
		s.policy = noLimits
	}
	if s.retry == "" {
		s.retry = "max_attempts = 10\n    backoff = \"100ms\""
	}
	cfg := fmt.Sprintf(`listen = %q
plugin_dir = %q
storage {
  driver = %q
  dsn    = %q
}
provider "loopback" {
  plugin = "smsgw-provider-loopback"
  sha256 = %q
  config = {
    delivery_delay = %q
    traffic_file   = %q
    %s
  }
  retry {
    %s
  }
}
account %q {
  password_bcrypt = %q
}
%s`, addr, bins.PluginDir, s.driver, s.dsn, bins.LoopbackSHA, s.deliveryDelay, s.trafficFile, s.extraLoopback, s.retry, user, userHash, s.policy)
	path = filepath.Join(dir, fmt.Sprintf("smsgw-%d.hcl", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, addr
}

// start runs a gateway for the test and stops it (SIGTERM) at cleanup, dumping its log when
// the test failed.
func start(t *testing.T, dir, configPath, addr string) *harness.Gateway {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	logPath := filepath.Join(dir, fmt.Sprintf("gateway-%s.log", strings.ReplaceAll(addr, ":", "_")))
	g, err := harness.StartGateway(ctx, bins.Gateway, configPath, addr, logPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-g.Done():
		default:
			if err := g.Stop(30 * time.Second); err != nil {
				t.Errorf("gateway stop: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("gateway %s log:\n%s", addr, tail(g.Log(), 80))
		}
	})
	return g
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// storeSetups returns the store configurations to run a test against.
func storeSetup(t *testing.T, driver, dir string) setup {
	t.Helper()
	s := setup{driver: driver, trafficFile: filepath.Join(dir, "traffic.jsonl")}
	switch driver {
	case "sqlite":
		s.dsn = filepath.Join(dir, "smsgw.db")
	case "postgres":
		s.dsn = pgtest.DSN(t)
	}
	return s
}
