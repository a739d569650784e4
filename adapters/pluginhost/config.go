package pluginhost

import (
	"encoding/json"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
)

// ProviderConfig is one `provider` block of the config file, as the cmd layer resolved it.
type ProviderConfig struct {
	// Name is the block label: the name routes, webhooks and the API use.
	Name string
	// Plugin is the absolute path of the plugin binary (plugin_dir already applied). It must be
	// absolute so that exec never searches $PATH for it.
	Plugin string
	// PluginDir is the config's plugin_dir when Plugin is a bare file name looked up there,
	// empty when the config gave a path. Only error messages use it.
	PluginDir string
	// SHA256 is the expected hex sha256 of the binary. It may be empty only when Dev is set.
	SHA256 string
	// Dev skips the checksum, for plugins rebuilt while developing them.
	Dev bool
	// Config is the block's `config` object as JSON, handed to the plugin's Configure.
	Config json.RawMessage
	Batch  BatchConfig
}

// BatchConfig is the `batch` block: how concurrent sends are grouped into one plugin call.
type BatchConfig struct {
	// MaxSize caps a batch below the plugin's max_batch; 0 means the plugin's max_batch.
	MaxSize int
	// Linger is how long the first message of a partial batch may wait for more. With 0 a
	// batch leaves as soon as a send slot is free, holding whatever queued up meanwhile.
	Linger time.Duration
}

// Backoff is a capped exponential backoff: Min, 2*Min, 4*Min ... up to Max.
type Backoff struct {
	Min, Max time.Duration
}

// Options configure a Host. Zero values get the defaults below.
type Options struct {
	Providers []ProviderConfig
	// PublicURL is the gateway's external base URL, passed to every plugin's Configure.
	PublicURL string
	// Logger receives the host's logs; each plugin's stderr is forwarded under plugin.<name>.
	Logger hclog.Logger
	// Registerer gets the provider metrics; nil keeps them unregistered.
	Registerer prometheus.Registerer
	// RestartBackoff spaces the relaunches of a dead plugin (default 100ms .. 10s).
	RestartBackoff Backoff
	// StartTimeout bounds one launch: process start, handshake, Info and Configure (default 20s).
	StartTimeout time.Duration
	// CallTimeout bounds each plugin call the host makes (default 60s, above the plugins'
	// own per-request `timeout`, so a plugin normally answers with its own classified error).
	CallTimeout time.Duration
	// CheckInterval is how often the supervisor looks whether a plugin process exited
	// (default 1s). Failed calls and broken event streams wake it at once anyway.
	CheckInterval time.Duration
}

const (
	defaultRestartMin    = 100 * time.Millisecond
	defaultRestartMax    = 10 * time.Second
	defaultStartTimeout  = 20 * time.Second
	defaultCallTimeout   = 60 * time.Second
	defaultCheckInterval = time.Second
)

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.RestartBackoff.Min <= 0 {
		o.RestartBackoff.Min = defaultRestartMin
	}
	if o.RestartBackoff.Max <= 0 {
		o.RestartBackoff.Max = defaultRestartMax
	}
	if o.RestartBackoff.Max < o.RestartBackoff.Min {
		o.RestartBackoff.Max = o.RestartBackoff.Min
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = defaultCallTimeout
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = defaultCheckInterval
	}
	return o
}

// backoff yields the successive delays of a Backoff.
type backoff struct {
	cfg  Backoff
	next time.Duration
}

func newBackoff(cfg Backoff) *backoff { return &backoff{cfg: cfg, next: cfg.Min} }

func (b *backoff) delay() time.Duration {
	d := b.next
	b.next = min(b.next*2, b.cfg.Max)
	return d
}

func (b *backoff) reset() { b.next = b.cfg.Min }
