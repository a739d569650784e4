package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsgw/smsgw/integration-tests/harness"
)

// buildEcho builds examples/provider-echo the way a third party builds a plugin: inside its
// own module (its go.mod, its go.sum), into dir. The gateway binary of TestMain is not rebuilt.
func buildEcho(t *testing.T, dir string) (bin, sum string) {
	t.Helper()
	return buildIn(t, dir, "smsgw-provider-echo", filepath.Join("examples", "provider-echo"), ".")
}

// buildFixture builds a package of the smsgw module (a test fixture) into dir.
func buildFixture(t *testing.T, dir, name, pkg string) (bin, sum string) {
	t.Helper()
	return buildIn(t, dir, name, ".", pkg)
}

// buildIn builds pkg with `go build` run in moduleDir (relative to the repository root) into
// dir/name, and returns the binary's path and sha256.
func buildIn(t *testing.T, dir, name, moduleDir, pkg string) (bin, sum string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	root, err := harness.ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, name)
	if err := harness.GoBuild(ctx, filepath.Join(root, moduleDir), bin, pkg); err != nil {
		t.Fatal(err)
	}
	if sum, err = harness.FileSHA256(bin); err != nil {
		t.Fatal(err)
	}
	return bin, sum
}

// writePluginConfig writes a gateway config on SQLite whose providers are the given blocks.
func writePluginConfig(t *testing.T, dir, pluginDir, providers string) (path, addr string) {
	t.Helper()
	addr, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`listen = %q
plugin_dir = %q
storage {
  driver = "sqlite"
  dsn    = %q
}
%s
account %q {
  password_bcrypt = %q
}
%s`, addr, pluginDir, filepath.Join(dir, "smsgw.db"), providers, user, userHash, noLimits)
	path = filepath.Join(dir, fmt.Sprintf("smsgw-%d.hcl", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, addr
}

// TestExamplePluginDelivers loads the separately built example plugin by path and sha256
// into the prebuilt gateway and drives it through the API: delivery, the echoed reply as an
// inbound message, the provider list, the balance, and the credit error once it is spent.
func TestExamplePluginDelivers(t *testing.T) {
	dir := t.TempDir()
	bin, sum := buildEcho(t, dir)
	const credits = 2
	path, addr := writePluginConfig(t, dir, filepath.Join(dir, "no-plugins-here"), fmt.Sprintf(`provider "echo" {
  plugin = %q
  sha256 = %q
  config = {
    credits      = %d
    reply        = true
    reply_prefix = "echo: "
  }
}`, bin, sum, credits))
	g := start(t, dir, path, addr)
	c := harness.NewClient(g.URL, user, password)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	const from, to = "+15550001000", "+15550002000"
	code, m, err := c.Send(ctx, from, to, "hello echo")
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("send: %d %v", code, err)
	}
	got, err := c.WaitFinal(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "delivered" || got.Provider != "echo" || got.ProviderMessageID == nil ||
		!strings.HasPrefix(*got.ProviderMessageID, "echo-") {
		t.Fatalf("message %+v: want delivered by echo with an echo- id", got)
	}

	// The recipient's reply arrives through the plugin's event stream.
	reply := waitInbound(ctx, t, c, to)
	if reply.To != from || reply.Text != "echo: hello echo" || reply.Provider != "echo" {
		t.Errorf("inbound %+v: want %q from %s to %s through echo", reply, "echo: hello echo", to, from)
	}

	var providers struct {
		Items []struct {
			Name         string `json:"name"`
			Version      string `json:"version"`
			Healthy      bool   `json:"healthy"`
			Capabilities struct {
				MaxBatch   int  `json:"max_batch"`
				StatusPoll bool `json:"status_poll"`
				Balance    bool `json:"balance"`
				Inbound    bool `json:"inbound"`
			} `json:"capabilities"`
		} `json:"items"`
	}
	if code, err := c.Do(ctx, http.MethodGet, "/v1/providers", nil, &providers); err != nil || code != http.StatusOK {
		t.Fatalf("GET /v1/providers: %d %v", code, err)
	}
	if len(providers.Items) != 1 {
		t.Fatalf("providers %+v: want only echo", providers.Items)
	}
	p := providers.Items[0]
	if p.Name != "echo" || p.Version != "1.0.0" || !p.Healthy || p.Capabilities.MaxBatch != 50 ||
		!p.Capabilities.StatusPoll || !p.Capabilities.Balance || !p.Capabilities.Inbound {
		t.Errorf("provider %+v: want echo 1.0.0, healthy, max_batch 50, status poll, balance, inbound", p)
	}

	checkBalance(ctx, t, c, fmt.Sprint(credits-1))
	// Spend the last credit, then one more: the plugin's credit error fails that message.
	code, m, err = c.Send(ctx, from, to, "second")
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("send: %d %v", code, err)
	}
	if got, err := c.WaitFinal(ctx, m.ID); err != nil || got.Status != "delivered" {
		t.Fatalf("second message: %+v %v, want delivered", got, err)
	}
	checkBalance(ctx, t, c, "0")
	code, m, err = c.Send(ctx, from, to, "one too many")
	if err != nil || code != http.StatusAccepted {
		t.Fatalf("send: %d %v", code, err)
	}
	got, err = c.WaitFinal(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "failed" || got.Error == nil {
		t.Errorf("message past the credits: %+v, want failed with an error", got)
	}
}

// waitInbound polls the inbound messages until one from `from` is there.
func waitInbound(ctx context.Context, t *testing.T, c *harness.Client, from string) harness.Message {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		msgs, err := c.ListMessages(ctx, "direction=inbound&from="+url.QueryEscape(from))
		if err == nil && len(msgs) > 0 {
			return msgs[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no inbound message from %s (last error %v)", from, err)
		case <-tick.C:
		}
	}
}

func checkBalance(ctx context.Context, t *testing.T, c *harness.Client, want string) {
	t.Helper()
	var b struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	}
	code, err := c.Do(ctx, http.MethodGet, "/v1/providers/echo/balance", nil, &b)
	if err != nil || code != http.StatusOK || b.Amount != want || b.Currency != "XXX" {
		t.Errorf("GET /v1/providers/echo/balance = %d %+v %v, want %s XXX", code, b, err, want)
	}
}

// TestPluginStartFailures runs the real `smsgw serve` against plugins that cannot start: each
// must exit non-zero, soon, with the one-line message README.md documents.
func TestPluginStartFailures(t *testing.T) {
	dir := t.TempDir()
	echo, echoSum := buildEcho(t, dir)
	protov2, protov2Sum := buildFixture(t, dir, "protov2", "./adapters/pluginhost/testdata/protov2")
	crash, crashSum := buildFixture(t, dir, "crashplugin", "./integration-tests/testdata/crashplugin")
	emptyDir := filepath.Join(dir, "empty-plugin-dir")
	if err := os.Mkdir(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	zeros := strings.Repeat("0", 64)
	block := func(name, plugin, sum string) string {
		return fmt.Sprintf("provider %q {\n  plugin = %q\n  sha256 = %q\n}", name, plugin, sum)
	}

	tests := []struct {
		name     string
		provider string
		want     string
	}{
		{
			name:     "wrong sha256",
			provider: block("echo", echo, zeros),
			want: `provider "echo": sha256 mismatch: config says ` + zeros + `, file ` + echo + ` has ` + echoSum +
				" (if you built this binary yourself, `smsgw plugin sha256 " + echo + "` prints the sum for its provider block)",
		},
		{
			name:     "missing binary",
			provider: block("echo", "smsgw-provider-echo", echoSum),
			want: `provider "echo": plugin binary ` + filepath.Join(emptyDir, "smsgw-provider-echo") +
				` not found (plugin "smsgw-provider-echo" is looked up in plugin_dir ` + emptyDir + `)`,
		},
		{
			name:     "incompatible protocol version",
			provider: block("future", protov2, protov2Sum),
			want: `provider "future": plugin ` + protov2 +
				` speaks plugin protocol 2; this gateway speaks 1 (rebuild it against a compatible plugins/sdk)`,
		},
		{
			name:     "crash at start-up",
			provider: block("crashy", crash, crashSum),
			want: `provider "crashy": plugin ` + crash +
				` exited during start-up, before the plugin handshake (its stderr said "panic: crashplugin: cannot load state")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sub := t.TempDir()
			path, _ := writePluginConfig(t, sub, emptyDir, tt.provider)
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			// Well below the 20s start timeout: none of these has to wait for anything.
			exit, err := harness.RunGatewayUntilExit(ctx, bins.Gateway, path, 15*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var ee *exec.ExitError
			if !errors.As(exit.Err, &ee) || ee.ExitCode() == 0 {
				t.Errorf("gateway exit = %v after %s, want a non-zero exit status", exit.Err, exit.Took)
			}
			if !strings.Contains(exit.Output, "smsgw: "+tt.want+"\n") {
				t.Errorf("output does not contain the line\n  smsgw: %s\noutput:\n%s", tt.want, exit.Output)
			}
		})
	}
}
