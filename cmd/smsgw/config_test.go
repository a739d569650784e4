package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var exampleEnv = map[string]string{
	"SMSGW_DATABASE_URL": "postgres://smsgw@db/smsgw", "TWILIO_AUTH_TOKEN": "tok",
	"FASTSMS_API_KEY": "k", "FLOWROUTE_ACCESS_KEY": "a", "FLOWROUTE_SECRET_KEY": "s",
	"FLOWROUTE_WEBHOOK_TOKEN": "w", "CRM_WEBHOOK_SECRET": "c",
}

func TestDevConfigFileMatchesBuiltIn(t *testing.T) {
	builtIn, err := ParseConfig("x", []byte(devConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	file, err := LoadConfig(filepath.Join("..", "..", "configs", "dev.hcl"), nil)
	if err != nil {
		t.Fatal(err)
	}
	builtIn.Path, file.Path = "", ""
	if !reflect.DeepEqual(builtIn, file) {
		t.Fatalf("configs/dev.hcl and the built-in dev config differ:\n%+v\n%+v", file, builtIn)
	}
	if builtIn.Listen != "127.0.0.1:8080" || builtIn.Storage.Driver != "sqlite" || builtIn.Providers[0].Name != "loopback" {
		t.Fatalf("dev config is not the documented one: %+v", builtIn)
	}
}

func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig(filepath.Join("..", "..", "configs", "example.hcl"), exampleEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.DSN != "postgres://smsgw@db/smsgw" {
		t.Errorf("dsn from env: %q", c.Storage.DSN)
	}
	tw := c.Providers[1]
	if tw.Name != "twilio" || tw.Account != "user" || tw.MaxAttempts != 5 || tw.Backoff != time.Second || tw.BatchSize != 1 {
		t.Errorf("twilio block: %+v", tw)
	}
	if !strings.Contains(string(tw.Config), `"auth_token":"tok"`) {
		t.Errorf("config JSON: %s", tw.Config)
	}
	if tw.Plugin != filepath.Join("/usr/lib/smsgw/plugins", "smsgw-provider-twilio") {
		t.Errorf("plugin path: %s", tw.Plugin)
	}
	if c.Providers[2].Linger != 200*time.Millisecond {
		t.Errorf("linger: %v", c.Providers[2].Linger)
	}
	if len(c.Routes) != 2 || c.Routes[0].Match.ToPrefix != "+1" || c.Routes[1].Providers[0] != "fastsms" {
		t.Errorf("routes: %+v", c.Routes)
	}
	if c.Limits.PerSender != 50 || c.Limits.Window != time.Hour || c.StatusRefreshInterval != time.Hour {
		t.Errorf("limits/refresh: %+v %v", c.Limits, c.StatusRefreshInterval)
	}
	if c.FastSMSing == nil || *c.FastSMSing != (FastSMSingConfig{From: "FASTSMS"}) {
		t.Errorf("compat.fastsmsing: %+v", c.FastSMSing)
	}
	if want := (DHOSConfig{Provider: "twilio", CallbackURL: "https://sms.example.com/dhos/v1/sms/callback", CountryCode: "GB"}); c.DHOS == nil || *c.DHOS != want {
		t.Errorf("compat.dhos: %+v", c.DHOS)
	}
	if want := (FlowrouteProxyConfig{Provider: "flowroute", Prefix: "/"}); c.FlowrouteProxy == nil || *c.FlowrouteProxy != want {
		t.Errorf("compat.flowroute_proxy: %+v", c.FlowrouteProxy)
	}
	if c.Proxy.Allocation != "shared" || c.Proxy.OrgName != "Acme" {
		t.Errorf("proxy: %+v", c.Proxy)
	}
}

func TestConfigErrorsCarryFileLine(t *testing.T) {
	const base = `
storage {
  driver = "sqlite"
  dsn    = "x.db"
}
`
	tests := []struct {
		name string
		src  string
		want string // substring of the error
	}{
		{"missing sha256", base + `provider "p" {
  plugin = "bin"
}`, "c.hcl:6,1: provider \"p\": sha256 is required"},
		{"bad duration", base + `provider "p" {
  plugin = "bin"
  dev = true
  retry {
    backoff = "soon"
  }
}`, "c.hcl:10,15: retry.backoff: \"soon\" is not a valid duration"},
		{"unknown attribute", base + `provider "p" {
  plugin = "bin"
  dev = true
  colour = "red"
}`, "c.hcl:9,3: Unsupported argument"},
		{"missing env var", base + `provider "p" {
  plugin = "bin"
  dev = true
  config = { token = env.NOPE }
}`, "c.hcl:9,25: Unsupported attribute"},
		{"unknown route provider", base + `provider "p" {
  plugin = "bin"
  dev = true
}
route "r" {
  providers = ["q"]
}`, "c.hcl:10,1: route \"r\": unknown provider \"q\""},
		{"provider twice in a route", base + `provider "p" {
  plugin = "bin"
  dev = true
}
route "r" {
  providers = ["p", "p"]
}`, "c.hcl:10,1: route \"r\": provider \"p\" is listed twice"},
		{"breaker failures below 1", base + `provider "p" {
  plugin = "bin"
  dev = true
  breaker {
    failures = 0
  }
}`, "c.hcl:6,1: provider \"p\": breaker.failures must be at least 1"},
		{"zero breaker cooldown", base + `provider "p" {
  plugin = "bin"
  dev = true
  breaker {
    cooldown = "0s"
  }
}`, "c.hcl:10,16: provider \"p\": breaker.cooldown must be positive"},
		{"bad breaker cooldown", base + `provider "p" {
  plugin = "bin"
  dev = true
  breaker {
    cooldown = "later"
  }
}`, "c.hcl:10,16: breaker.cooldown: \"later\" is not a valid duration"},
		{"bad driver", `storage {
  driver = "mysql"
  dsn = "x"
}
provider "p" {
  plugin = "bin"
  dev = true
}`, "c.hcl:1,1: storage.driver must be"},
		{"no provider", base, "no provider block"},
		{"bad sha", base + `provider "p" {
  plugin = "bin"
  sha256 = "abc"
}`, "sha256 must be 64 hex digits"},
		{"syntax", `storage {`, "c.hcl:1,"},
		{"bad bcrypt", base + `provider "p" {
  plugin = "bin"
  dev = true
}
account "a" {
  password_bcrypt = "plain"
}`, "account \"a\": password_bcrypt must be a bcrypt hash"},
		{"negative per_sender", base + `provider "p" {
  plugin = "bin"
  dev = true
}
limits {
  per_sender = -1
}`, "c.hcl:10,1: limits.per_sender must be 0 (no limit) or more"},
		{"zero stop_ttl", base + `provider "p" {
  plugin = "bin"
  dev = true
}
compat {
  smsapp {
    stop_ttl = "0s"
  }
}`, "c.hcl:12,16: compat.smsapp.stop_ttl must be more than 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("c.hcl", []byte(tt.src), map[string]string{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestConfigReportsEveryError(t *testing.T) {
	src := `
storage {
  driver = "sqlite"
  dsn    = "x.db"
}
provider "p" {
  plugin = "bin"
  dev = true
  breaker {
    failures = -2
  }
}
route "a" {
  providers = ["nope"]
}
route "b" {
  providers = ["p", "gone"]
}
`
	_, err := ParseConfig("c.hcl", []byte(src), map[string]string{})
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"c.hcl:6,1: provider \"p\": breaker.failures",
		"c.hcl:13,1: route \"a\": unknown provider \"nope\"",
		"c.hcl:16,1: route \"b\": unknown provider \"gone\"",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not report %q", err, want)
		}
	}
}

func TestBreakerConfig(t *testing.T) {
	tests := []struct {
		name     string
		block    string
		failures int
		cooldown time.Duration
	}{
		{"defaults without a block", "", 5, 30 * time.Second},
		{"both set", "breaker {\n failures = 3\n cooldown = \"2s\"\n}", 3, 2 * time.Second},
		{"cooldown only", "breaker {\n cooldown = \"1m\"\n}", 5, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "storage {\n driver = \"sqlite\"\n dsn = \"x.db\"\n}\nprovider \"p\" {\n plugin = \"bin\"\n dev = true\n" + tt.block + "\n}\n"
			c, err := ParseConfig("c.hcl", []byte(src), map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			if p := c.Providers[0]; p.BreakerFailures != tt.failures || p.BreakerCooldown != tt.cooldown {
				t.Fatalf("breaker %d/%s, want %d/%s", p.BreakerFailures, p.BreakerCooldown, tt.failures, tt.cooldown)
			}
		})
	}
}

// minimalConfig is a valid config with nothing but a store and one provider, for tests
// that append the blocks they are about.
const minimalConfig = `
storage {
  driver = "sqlite"
  dsn    = "x.db"
}
provider "p" {
  plugin = "bin"
  dev = true
}
`

func TestPolicyConfig(t *testing.T) {
	const base = minimalConfig
	tests := []struct {
		name      string
		src       string
		perSender int
		window    time.Duration
		enforce   bool
		stopReply string
		smsappTTL time.Duration // 0: dialect off
		anonymous string
	}{
		{"defaults", base, 50, time.Hour, true, defaultStopReply, 0, ""},
		{"limit off, opt-outs not enforced, no reply", base + `limits {
  per_sender = 0
  window = "10m"
}
opt_out {
  enforce = false
  stop_reply = ""
}`, 0, 10 * time.Minute, false, "", 0, ""},
		{"smsapp on with defaults", base + `compat {
  smsapp {}
}`, 50, time.Hour, true, defaultStopReply, 4 * time.Hour, ""},
		{"smsapp anonymous", base + `compat {
  smsapp {
    stop_ttl = "2s"
    anonymous_account = "legacy"
  }
}`, 50, time.Hour, true, defaultStopReply, 2 * time.Second, "legacy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig("c.hcl", []byte(tt.src), map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			if c.Limits.PerSender != tt.perSender || c.Limits.Window != tt.window || c.OptOut.Enforce != tt.enforce || c.OptOut.StopReply != tt.stopReply {
				t.Errorf("limits %+v, opt_out %+v", c.Limits, c.OptOut)
			}
			switch {
			case tt.smsappTTL == 0 && c.SMSApp != nil:
				t.Errorf("smsapp on: %+v", c.SMSApp)
			case tt.smsappTTL != 0 && (c.SMSApp == nil || c.SMSApp.StopTTL != tt.smsappTTL || c.SMSApp.AnonymousAccount != tt.anonymous):
				t.Errorf("smsapp = %+v, want ttl %v anonymous %q", c.SMSApp, tt.smsappTTL, tt.anonymous)
			}
			if p := c.Providers[0]; p.Linger != 200*time.Millisecond || p.BatchSize != 0 {
				t.Errorf("provider without a batch block: linger %v, max_size %d; want the 200ms default", p.Linger, p.BatchSize)
			}
			gc := gatewayConfig(c)
			if gc.RateLimit.Limit != tt.perSender || gc.IgnoreOptOuts == tt.enforce || gc.OptOut.StopReply != tt.stopReply {
				t.Errorf("gateway config: %+v", gc)
			}
		})
	}
}

// parseCase parses src as the file c.hcl. With wantErr set, the parse must fail with an
// error containing it (file:line included) and the result is nil.
func parseCase(t *testing.T, src, wantErr string) *Config {
	t.Helper()
	c, err := ParseConfig("c.hcl", []byte(src), map[string]string{})
	switch {
	case wantErr != "":
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("error %v, want %q", err, wantErr)
		}
		return nil
	case err != nil:
		t.Fatal(err)
	}
	return c
}

// checkBlock compares an optional config block with the one wanted (nil: the block is off).
func checkBlock[T comparable](t *testing.T, name string, got, want *T) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Errorf("%s on: %+v", name, got)
	case want != nil && (got == nil || *got != *want):
		t.Errorf("%s = %+v, want %+v", name, got, want)
	}
}

func TestDHOSConfig(t *testing.T) {
	const base = `listen = "127.0.0.1:9000"
storage {
  driver = "sqlite"
  dsn    = "x.db"
}
provider "tw" {
  plugin = "bin"
  dev = true
}
`
	tests := []struct {
		name string
		src  string
		want *DHOSConfig // nil: the dialect is off
		err  string      // substring of the error, with file:line
	}{
		{"off", base, nil, ""},
		{"on, callback URL behind public_url by default", base + `compat {
  dhos {
    provider     = "tw"
    country_code = "gb"
  }
}`, &DHOSConfig{Provider: "tw", CallbackURL: "http://127.0.0.1:9000/dhos/v1/sms/callback", CountryCode: "GB"}, ""},
		{"every field", base + `compat {
  dhos {
    provider          = "tw"
    callback_url      = "https://sms.example.com/dhos/v1/sms/callback"
    country_code      = "US"
    anonymous_account = "legacy"
  }
}`, &DHOSConfig{Provider: "tw", CallbackURL: "https://sms.example.com/dhos/v1/sms/callback", CountryCode: "US", AnonymousAccount: "legacy"}, ""},
		{"no provider", base + `compat {
  dhos {
    country_code = "GB"
  }
}`, nil, "c.hcl:11,3: compat.dhos.provider is required"},
		{"unknown provider", base + `compat {
  dhos {
    provider     = "nope"
    country_code = "GB"
  }
}`, nil, "c.hcl:11,3: compat.dhos.provider: unknown provider \"nope\""},
		{"relative callback URL", base + `compat {
  dhos {
    provider     = "tw"
    callback_url = "/dhos/v1/sms/callback"
    country_code = "GB"
  }
}`, nil, "c.hcl:11,3: compat.dhos.callback_url must be an absolute http(s) URL"},
		{"callback URL with a query", base + `compat {
  dhos {
    provider     = "tw"
    callback_url = "https://sms.example.com/cb?x=1"
    country_code = "GB"
  }
}`, nil, "c.hcl:11,3: compat.dhos.callback_url must be an absolute http(s) URL"},
		{"no country code", base + `compat {
  dhos {
    provider = "tw"
  }
}`, nil, "c.hcl:11,3: compat.dhos.country_code is required"},
		{"unknown country code", base + `compat {
  dhos {
    provider     = "tw"
    country_code = "ZZ"
  }
}`, nil, "c.hcl:11,3: compat.dhos.country_code \"ZZ\" is not an ISO 3166 alpha-2 region code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseCase(t, tt.src, tt.err)
			if c == nil {
				return
			}
			checkBlock(t, "dhos", c.DHOS, tt.want)
		})
	}
}

func TestProxyConfig(t *testing.T) {
	const base = minimalConfig
	defaults := ProxyConfig{Allocation: "shared", StartMessage: defaultStartMessage, EndMessage: defaultEndMessage, NoSessionMessage: defaultNoSessionMessage}
	tests := []struct {
		name string
		src  string
		want ProxyConfig
		err  string
	}{
		{"no block", base, defaults, ""},
		{"every field", base + `proxy {
  allocation         = "exclusive"
  org_name           = "Acme"
  start_message      = "hi"
  end_message        = ""
  no_session_message = "none"
}`, ProxyConfig{Allocation: "exclusive", OrgName: "Acme", StartMessage: "hi", NoSessionMessage: "none"}, ""},
		{"bad allocation", base + `proxy {
  allocation = "round-robin"
}`, ProxyConfig{}, "c.hcl:10,1: proxy.allocation must be \"shared\" or \"exclusive\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseCase(t, tt.src, tt.err)
			if c == nil {
				return
			}
			if c.Proxy != tt.want {
				t.Errorf("proxy = %+v, want %+v", c.Proxy, tt.want)
			}
			if gc := gatewayConfig(c); string(gc.Proxy.Allocation) != tt.want.Allocation || gc.Proxy.StartMessage != tt.want.StartMessage {
				t.Errorf("gateway proxy config %+v", gc.Proxy)
			}
		})
	}
}

func TestFlowrouteProxyConfig(t *testing.T) {
	const base = minimalConfig
	tests := []struct {
		name string
		src  string
		want *FlowrouteProxyConfig
		err  string
	}{
		{"off", base, nil, ""},
		{"on, at the root by default", base + `compat {
  flowroute_proxy {
    provider = "p"
  }
}`, &FlowrouteProxyConfig{Provider: "p", Prefix: "/"}, ""},
		{"a prefix and an anonymous account", base + `compat {
  flowroute_proxy {
    provider          = "p"
    prefix            = "/proxy"
    anonymous_account = "legacy"
  }
}`, &FlowrouteProxyConfig{Provider: "p", Prefix: "/proxy", AnonymousAccount: "legacy"}, ""},
		{"no provider", base + `compat {
  flowroute_proxy {}
}`, nil, "c.hcl:11,3: compat.flowroute_proxy.provider is required"},
		{"unknown provider", base + `compat {
  flowroute_proxy {
    provider = "nope"
  }
}`, nil, "c.hcl:11,3: compat.flowroute_proxy.provider: unknown provider"},
		{"a prefix the gateway uses", base + `compat {
  flowroute_proxy {
    provider = "p"
    prefix   = "/v1"
  }
}`, nil, "c.hcl:11,3: compat.flowroute_proxy.prefix \"/v1\""},
		{"a malformed prefix", base + `compat {
  flowroute_proxy {
    provider = "p"
    prefix   = "proxy/"
  }
}`, nil, "c.hcl:11,3: compat.flowroute_proxy.prefix \"proxy/\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseCase(t, tt.src, tt.err)
			if c == nil {
				return
			}
			checkBlock(t, "flowroute_proxy", c.FlowrouteProxy, tt.want)
		})
	}
}

func TestFastSMSingConfig(t *testing.T) {
	const base = minimalConfig
	tests := []struct {
		name string
		src  string
		want *FastSMSingConfig // nil: the dialect is off
	}{
		{"off", base, nil},
		{"off with another dialect", base + `compat {
  smsapp {}
}`, nil},
		{"on with defaults", base + `compat {
  fastsmsing {}
}`, &FastSMSingConfig{From: "FASTSMS"}},
		{"empty from is the default", base + `compat {
  fastsmsing {
    from = ""
  }
}`, &FastSMSingConfig{From: "FASTSMS"}},
		{"from and anonymous", base + `compat {
  fastsmsing {
    from              = "ACME"
    anonymous_account = "legacy"
  }
}`, &FastSMSingConfig{From: "ACME", AnonymousAccount: "legacy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseCase(t, tt.src, "")
			checkBlock(t, "fastsmsing", c.FastSMSing, tt.want)
		})
	}
	_, err := ParseConfig("c.hcl", []byte(base+`compat {
  fastsmsing {
    sender = "x"
  }
}`), map[string]string{})
	if err == nil || !strings.Contains(err.Error(), "sender") {
		t.Errorf("unknown attribute: %v", err)
	}
}

func TestPluginPathResolution(t *testing.T) {
	src := `plugin_dir = "/opt/p"
storage {
  driver = "sqlite"
  dsn = "x"
}
provider "a" {
  plugin = "smsgw-provider-a"
  dev = true
}
provider "b" {
  plugin = "./build/b"
  dev = true
}`
	c, err := ParseConfig("c.hcl", []byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// Relative paths are made absolute against the working directory (the host never lets
	// exec search $PATH).
	if c.Providers[0].Plugin != "/opt/p/smsgw-provider-a" || c.Providers[1].Plugin != filepath.Join(wd, "build", "b") {
		t.Fatalf("paths: %s %s", c.Providers[0].Plugin, c.Providers[1].Plugin)
	}
	// A missing binary's start-up error names plugin_dir only when the name was looked up there.
	if c.Providers[0].PluginDir != "/opt/p" || c.Providers[1].PluginDir != "" {
		t.Errorf("plugin dirs: %q %q, want /opt/p and none", c.Providers[0].PluginDir, c.Providers[1].PluginDir)
	}
}

// FuzzParseConfig: any input either fails with an error or yields a config with a store
// and at least one provider; it never panics.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(devConfig))
	f.Add([]byte(`storage {`))
	f.Add([]byte(`provider "p" { plugin = "x"
dev = true
retry { backoff = "1s" } }`))
	f.Fuzz(func(t *testing.T, src []byte) {
		c, err := ParseConfig("fuzz.hcl", src, map[string]string{"X": "y"})
		if err != nil {
			return
		}
		if c.Storage.Driver == "" || len(c.Providers) == 0 {
			t.Fatalf("accepted a config without store or provider: %+v", c)
		}
	})
}

func TestWebhookConfig(t *testing.T) {
	const base = minimalConfig
	tests := []struct {
		name string
		src  string
		want []WebhookConfig
		err  string
	}{
		{"none", base, nil, ""},
		{"two blocks", base + `webhook "crm" {
  url    = "https://crm.example.com/sms-events"
  events = ["message.received", "message.status"]
  secret = "s1"
}
webhook "audit" {
  url    = "http://127.0.0.1:9000/hook?x=1"
  events = ["message.status"]
  secret = "s2"
}`, []WebhookConfig{
			{Name: "crm", URL: "https://crm.example.com/sms-events", Events: []string{"message.received", "message.status"}, Secret: "s1"},
			{Name: "audit", URL: "http://127.0.0.1:9000/hook?x=1", Events: []string{"message.status"}, Secret: "s2"},
		}, ""},
		{"relative url", base + `webhook "crm" {
  url    = "/sms-events"
  events = ["message.status"]
  secret = "s"
}`, nil, `c.hcl:10,1: webhook "crm": url must be an absolute http or https URL, not "/sms-events"`},
		{"other scheme", base + `webhook "crm" {
  url    = "ftp://crm.example.com/x"
  events = ["message.status"]
  secret = "s"
}`, nil, `c.hcl:10,1: webhook "crm": url must be an absolute http or https URL`},
		{"no host", base + `webhook "crm" {
  url    = "https:///x"
  events = ["message.status"]
  secret = "s"
}`, nil, `c.hcl:10,1: webhook "crm": url must be an absolute http or https URL`},
		{"no events", base + `webhook "crm" {
  url    = "https://crm.example.com/x"
  secret = "s"
}`, nil, `c.hcl:10,1: webhook "crm": events is empty`},
		{"empty events", base + `webhook "crm" {
  url    = "https://crm.example.com/x"
  events = []
  secret = "s"
}`, nil, `c.hcl:10,1: webhook "crm": events is empty`},
		{"unknown event", base + `webhook "crm" {
  url    = "https://crm.example.com/x"
  events = ["message.sent"]
  secret = "s"
}`, nil, `c.hcl:10,1: webhook "crm": unknown event "message.sent"`},
		{"event twice", base + `webhook "crm" {
  url    = "https://crm.example.com/x"
  events = ["message.status", "message.status"]
  secret = "s"
}`, nil, `c.hcl:10,1: webhook "crm": event "message.status" is listed twice`},
		{"no secret", base + `webhook "crm" {
  url    = "https://crm.example.com/x"
  events = ["message.status"]
}`, nil, `c.hcl:10,1: webhook "crm": secret is empty`},
		{"defined twice", base + `webhook "crm" {
  url    = "https://crm.example.com/x"
  events = ["message.status"]
  secret = "s"
}
webhook "crm" {
  url    = "https://crm.example.com/y"
  events = ["message.status"]
  secret = "s"
}`, nil, `c.hcl:15,1: webhook "crm" is defined twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseCase(t, tt.src, tt.err)
			if c == nil {
				return
			}
			if !reflect.DeepEqual(c.Webhooks, tt.want) {
				t.Errorf("webhooks = %+v, want %+v", c.Webhooks, tt.want)
			}
			hooks := queueWebhooks(c)
			if len(hooks) != len(tt.want) {
				t.Fatalf("queue webhooks %+v", hooks)
			}
			for i, h := range hooks {
				if h.Name != tt.want[i].Name || h.URL != tt.want[i].URL || string(h.Secret) != tt.want[i].Secret || !reflect.DeepEqual(h.Events, tt.want[i].Events) {
					t.Errorf("queue webhook %+v, want %+v", h, tt.want[i])
				}
			}
		})
	}
}
