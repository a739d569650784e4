package pluginhost

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// syncBuffer is a log sink the plugin's stderr forwarder and the test read concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// recorder is the core's side of the event stream: it hands every event to the test.
type recorder struct {
	events    chan ports.ProviderEvent
	restarted chan string
}

func newRecorder() *recorder {
	return &recorder{events: make(chan ports.ProviderEvent, 1024), restarted: make(chan string, 16)}
}

func (r *recorder) HandleProviderEvents(_ context.Context, _ string, evs []ports.ProviderEvent) []error {
	for _, ev := range evs {
		r.events <- ev
	}
	return make([]error, len(evs))
}

func (r *recorder) ProviderRestarted(_ context.Context, provider string) error {
	r.restarted <- provider
	return nil
}

func loopbackConfig(name, config string) ProviderConfig {
	return ProviderConfig{
		Name: name, Plugin: binaries.loopback, SHA256: binaries.loopbackSHA,
		Config: json.RawMessage(config),
	}
}

func startHost(t *testing.T, logs *syncBuffer, providers ...ProviderConfig) *Host {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := Start(ctx, Options{
		Providers: providers, PublicURL: "http://127.0.0.1:1",
		Logger:         hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug}),
		Registerer:     prometheus.NewRegistry(),
		RestartBackoff: Backoff{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond},
		CheckInterval:  50 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(h.Close)
	return h
}

func outbound(id, to string) message.Message {
	return message.Message{
		ID: id, Direction: message.Outbound, From: "+14155550100", To: to, Text: "hello " + id,
		Segments: 1, Encoding: message.GSM7,
	}
}

// waitStatus reads events until the message's status report arrives.
func waitStatus(t *testing.T, r *recorder, providerMessageID string, want message.Status) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-r.events:
			if ev.Status != nil && ev.Status.ProviderMessageID == providerMessageID && ev.Status.Status == want {
				return
			}
		case <-timeout:
			t.Fatalf("no %s event for %s", want, providerMessageID)
		}
	}
}

// TestStartFailuresNameTheProvider pins the start-up messages README.md documents
// ("Start-up failures"): each is one line naming the provider, and none waits for more than
// the start timeout.
func TestStartFailuresNameTheProvider(t *testing.T) {
	missingDir := t.TempDir()
	missing := filepath.Join(missingDir, "smsgw-provider-echo")
	zeros := strings.Repeat("0", 64)
	protocol := func(name, bin string) string {
		return `provider "` + name + `": plugin ` + bin +
			` speaks plugin protocol 2; this gateway speaks 1 (rebuild it against a compatible plugins/sdk)`
	}
	tests := []struct {
		name   string
		cfg    ProviderConfig
		want   string // the whole error text
		wantIs error
		// startTimeout overrides the 20s default launch bound.
		startTimeout time.Duration
	}{
		{
			name: "bad config field",
			cfg:  loopbackConfig("loopy", `{"delivery_delay": "soon"}`),
			want: `provider "loopy": config.delivery_delay: "soon" is not a duration such as "2s"`,
		},
		{
			name: "unknown config key",
			cfg:  loopbackConfig("loopy", `{"colour": "blue"}`),
			want: `provider "loopy": config.colour: unknown key`,
		},
		{
			name: "checksum mismatch",
			cfg:  ProviderConfig{Name: "twilio", Plugin: binaries.loopback, SHA256: zeros},
			want: `provider "twilio": sha256 mismatch: config says ` + zeros + `, file ` + binaries.loopback +
				` has ` + binaries.loopbackSHA + " (if you built this binary yourself, `smsgw plugin sha256 " +
				binaries.loopback + "` prints the sum for its provider block)",
			wantIs: ErrChecksumMismatch,
		},
		{
			name: "missing binary",
			cfg:  ProviderConfig{Name: "echo", Plugin: missing, PluginDir: missingDir, SHA256: zeros},
			want: `provider "echo": plugin binary ` + missing + ` not found (plugin "smsgw-provider-echo" is looked up in plugin_dir ` +
				missingDir + `)`,
			wantIs: fs.ErrNotExist,
		},
		{
			name: "crash before the handshake",
			cfg:  ProviderConfig{Name: "broken", Plugin: binaries.exit1, Dev: true},
			want: `provider "broken": plugin ` + binaries.exit1 +
				` exited during start-up, before the plugin handshake (its stderr said "exit1: not a plugin")`,
		},
		{
			name:   "handshake at a protocol version the host does not speak",
			cfg:    ProviderConfig{Name: "future", Plugin: binaries.protov2, SHA256: binaries.protov2SHA},
			want:   protocol("future", binaries.protov2),
			wantIs: ErrProtocolMismatch,
		},
		{
			name:   "Info claims a protocol version the host does not speak",
			cfg:    ProviderConfig{Name: "liar", Plugin: binaries.infov2, SHA256: binaries.infov2SHA},
			want:   protocol("liar", binaries.infov2),
			wantIs: ErrProtocolMismatch,
		},
		{
			name: "Configure that never answers",
			cfg:  ProviderConfig{Name: "stuck", Plugin: binaries.stuckConfigure, Dev: true},
			want: `provider "stuck": plugin ` + binaries.stuckConfigure +
				` did not answer Info and Configure within the start timeout of 3s`,
			startTimeout: 3 * time.Second,
		},
		{
			name: "hung binary that never completes the handshake",
			cfg:  ProviderConfig{Name: "hung", Plugin: binaries.sleeper, Dev: true},
			want: `provider "hung": plugin ` + binaries.sleeper +
				` did not complete the plugin handshake within 1s (it wrote nothing to stderr; is it an smsgw provider plugin?)`,
			startTimeout: time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			timeout := cmp.Or(tt.startTimeout, 20*time.Second)
			began := time.Now()
			h, err := Start(ctx, Options{
				Providers: []ProviderConfig{tt.cfg}, Logger: hclog.NewNullLogger(), StartTimeout: timeout,
			})
			if err == nil {
				h.Close()
				t.Fatal("Start succeeded")
			}
			// The kill of a failed launch may take killGrace on top of the start timeout.
			if took := time.Since(began); took > timeout+killGrace+5*time.Second {
				t.Errorf("Start took %s to fail", took)
			}
			var perr *Error
			if !errors.As(err, &perr) || perr.Provider != tt.cfg.Name {
				t.Errorf("error %v is not an *Error for %q", err, tt.cfg.Name)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
		})
	}
}

func TestStderrTail(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{name: "nothing", want: "it wrote nothing to stderr; is it an smsgw provider plugin?"},
		{name: "last line", writes: []string{"first\n", "second", "\n", "\n"}, want: `its stderr said "second"`},
		{name: "unterminated", writes: []string{"half a li", "ne"}, want: `its stderr said "half a line"`},
		{
			name:   "panic wins over its stack trace",
			writes: []string{"starting\npanic: boom\n\ngoroutine 1 [running]:\nmain.main()\n"},
			want:   `its stderr said "panic: boom"`,
		},
		{
			name:   "hclog JSON",
			writes: []string{`{"@level":"error","@message":"newProvider returned nil","@timestamp":"2026-01-01T00:00:00Z"}` + "\n"},
			want:   `its stderr said "newProvider returned nil"`,
		},
		{name: "long line is cut", writes: []string{strings.Repeat("x", 3*maxQuote) + "\n"}, want: `its stderr said "` + strings.Repeat("x", maxQuote) + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &stderrTail{}
			for _, w := range tt.writes {
				if n, err := s.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := s.quote(); got != tt.want {
				t.Errorf("quote() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSendDeliversThroughTheEventStream(t *testing.T) {
	logs := &syncBuffer{}
	h := startHost(t, logs, loopbackConfig("loop", `{"fail_numbers": ["+1555000*"]}`))
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := h.Run(ctx, rec); err != nil {
		t.Fatal(err)
	}

	res, err := h.Send(ctx, "loop", outbound("m1", "+14155550101"))
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.ProviderMessageID == "" {
		t.Fatal("no provider message id")
	}
	waitStatus(t, rec, res.ProviderMessageID, message.StatusDelivered)

	_, err = h.Send(ctx, "loop", outbound("m2", "+15550001234"))
	var perr *ports.ProviderError
	if !errors.As(err, &perr) || perr.Class.Transient() {
		t.Errorf("send to a fail number: got %v, want a permanent *ports.ProviderError", err)
	}

	if _, err := h.Send(ctx, "nope", outbound("m3", "+14155550101")); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("unknown provider: got %v, want ErrNotFound", err)
	}
	if _, err := h.Balance(ctx, "loop"); !errors.Is(err, ports.ErrNotImplemented) {
		t.Errorf("balance: got %v, want ErrNotImplemented", err)
	}

	list := h.List(ctx)
	if len(list) != 1 || list[0].Name != "loop" || !list[0].Healthy || list[0].Capabilities.MaxBatch < 1 {
		t.Fatalf("List = %+v", list)
	}
	if st := list[0].Stats; st.MessagesSent != 1 || st.MessagesFailed != 1 {
		t.Errorf("stats = %+v, want 1 sent and 1 failed", st)
	}
}

func TestConcurrentSendsAreBatched(t *testing.T) {
	p := loopbackConfig("loop", `{}`)
	p.Batch = BatchConfig{MaxSize: 50, Linger: 20 * time.Millisecond}
	h := startHost(t, &syncBuffer{}, p)
	ctx := context.Background()

	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.Send(ctx, "loop", outbound(fmt.Sprintf("b%d", i), "+14155550101"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	st := h.List(ctx)[0].Stats
	if st.MessagesSent != n {
		t.Fatalf("messages sent = %d, want %d", st.MessagesSent, n)
	}
	// 200 concurrent sends in batches of at most 50: at least 4 calls, and far fewer than 200.
	if st.BatchesSent < 4 || st.BatchesSent > n/4 {
		t.Errorf("batches sent = %d for %d messages (max 50 per batch)", st.BatchesSent, n)
	}
}

func TestKilledPluginIsRestarted(t *testing.T) {
	logs := &syncBuffer{}
	h := startHost(t, logs, loopbackConfig("loop", `{}`))
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := h.Run(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// Run reconciles once at start-up.
	if name := <-rec.restarted; name != "loop" {
		t.Fatalf("start-up ProviderRestarted(%q)", name)
	}
	p := h.byName["loop"]
	inst, changed := p.watch()
	pid := inst.pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill plugin %d: %v", pid, err)
	}

	// The supervisor notices, relaunches, and tells the core to reconcile.
	select {
	case name := <-rec.restarted:
		if name != "loop" {
			t.Fatalf("ProviderRestarted(%q)", name)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("plugin was not restarted; logs:\n%s", logs.String())
	}
	<-changed
	if got := h.List(ctx)[0]; !got.Healthy || got.Restarts < 1 {
		t.Fatalf("after restart: %+v", got)
	}
	if now := p.current(); now == nil || now.pid() == pid {
		t.Fatal("no new plugin process")
	}

	// The new process serves sends and its event stream is subscribed again.
	res, err := h.Send(ctx, "loop", outbound("after", "+14155550101"))
	if err != nil {
		t.Fatalf("Send after restart: %v", err)
	}
	waitStatus(t, rec, res.ProviderMessageID, message.StatusDelivered)
	if !strings.Contains(logs.String(), "plugin restarted") {
		t.Errorf("restart not logged:\n%s", logs.String())
	}
}
