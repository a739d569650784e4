package pluginhost

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/smsgw/smsgw/plugins/sdk"
)

const (
	// killGrace is how long a plugin gets to shut down after go-plugin's own graceful Kill
	// (which waits 2s itself) before the process is killed outright; go-plugin's Kill can
	// otherwise block on an rpc to a wedged plugin.
	killGrace = 5 * time.Second
	// pingTimeout bounds the health check the supervisor makes after a failed call.
	pingTimeout = 5 * time.Second
)

// instance is one running plugin process.
type instance struct {
	client *plugin.Client
	rpc    *sdk.Client
	info   sdk.Info
	// stopProc kills the process through exec.CommandContext: the only way to abort a
	// handshake in progress, since go-plugin's Start holds the lock Kill needs.
	stopProc context.CancelFunc
}

// launch starts, handshakes, describes and configures one plugin process. ctx bounds the
// launch only: once launch returns, the process lives until close. Errors are *Error.
func launch(ctx context.Context, opts Options, cfg ProviderConfig) (*instance, error) {
	if err := Verify(cfg); err != nil {
		return nil, err
	}
	// One bound for the whole launch, from here, where go-plugin's handshake timeout starts
	// too: the calls after the handshake get what it left.
	deadline := time.Now().Add(opts.StartTimeout)
	var secure *plugin.SecureConfig
	if !cfg.Dev {
		sum, err := hex.DecodeString(cfg.SHA256) // Verify checked the format
		if err != nil {
			return nil, &Error{Provider: cfg.Name, Err: fmt.Errorf("decode sha256: %w", err)}
		}
		// go-plugin re-hashes the binary right before exec, narrowing the gap since Verify.
		secure = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	procCtx, stopProc := context.WithCancel(context.Background())
	unhook := context.AfterFunc(ctx, stopProc)
	in := &instance{stopProc: stopProc}
	stderr := &stderrTail{}
	in.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.HandshakeConfig(),
		VersionedPlugins: sdk.HostPluginSets(),
		// Never through a shell; the path is absolute (Verify) so exec does no $PATH lookup.
		Cmd:              exec.CommandContext(procCtx, cfg.Plugin),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SecureConfig:     secure,
		// Secrets reach the gateway through its environment (env.NAME in the config file); a
		// plugin gets its own config block and nothing else.
		SkipHostEnv:  true,
		Logger:       opts.Logger.Named("plugin." + cfg.Name),
		StartTimeout: opts.StartTimeout,
		// Besides the log: a start-up error quotes what the plugin said before it died.
		Stderr: stderr,
	})
	fail := func(err error) (*instance, error) {
		unhook()
		in.close()
		if cerr := context.Cause(ctx); cerr != nil {
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		return nil, &Error{Provider: cfg.Name, Err: err}
	}

	proto, err := in.client.Client()
	if err != nil {
		// Close first: it waits for go-plugin's stderr reader, so the quote is complete.
		in.close()
		return fail(startError(cfg, opts.StartTimeout, err, stderr))
	}
	raw, err := proto.Dispense(sdk.PluginName)
	if err != nil {
		return fail(fmt.Errorf("dispense plugin: %w", err))
	}
	var ok bool
	if in.rpc, ok = raw.(*sdk.Client); !ok {
		return fail(fmt.Errorf("dispense plugin: got %T, want *sdk.Client", raw))
	}

	// The handshake and the calls after it share the deadline, so a plugin slow to start
	// and then slow to configure does not get the bound twice.
	callCtx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	late := func(err error) error {
		if errors.Is(callCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("plugin %s did not answer Info and Configure within the start timeout of %s", cfg.Plugin, opts.StartTimeout)
		}
		return err
	}
	if in.info, err = in.rpc.Info(callCtx); err != nil {
		return fail(late(fmt.Errorf("plugin info: %w", err)))
	}
	// The handshake agreed on a version already; an Info that says otherwise comes from a
	// plugin that hard-codes its version instead of using sdk.ProtocolVersion: same message.
	if in.info.ProtocolVersion != sdk.ProtocolVersion {
		return fail(protocolMismatch(cfg, in.info.ProtocolVersion))
	}
	err = in.rpc.Configure(callCtx, sdk.ConfigureRequest{Name: cfg.Name, PublicURL: opts.PublicURL, Config: cfg.Config})
	var ce *sdk.ConfigError
	switch {
	case errors.As(err, &ce):
		return fail(ce) // reads "config.<field>: <message>"
	case err != nil:
		return fail(late(fmt.Errorf("configure plugin: %w", err)))
	}
	// The capabilities may depend on the config (a plugin's max_batch setting): ask again
	// now that it is configured. The first answer was only for the protocol check.
	if in.info, err = in.rpc.Info(callCtx); err != nil {
		return fail(late(fmt.Errorf("plugin info after configure: %w", err)))
	}
	if !unhook() {
		// ctx ended just now and its AfterFunc is already killing the process.
		return fail(errors.New("start plugin: cancelled"))
	}
	return in, nil
}

// close ends the process: gracefully when it cooperates, by force when it doesn't.
// Safe to call on a half-started instance and more than once.
func (in *instance) close() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.client.Kill()
	}()
	t := time.NewTimer(killGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		in.stopProc()
		<-done
	}
	in.stopProc()
}

// alive reports whether the process runs and its gRPC server answers a health check.
func (in *instance) alive(ctx context.Context) bool {
	if in.client.Exited() {
		return false
	}
	proto, err := in.client.Client()
	if err != nil {
		return false
	}
	gc, ok := proto.(*plugin.GRPCClient)
	if !ok {
		return true
	}
	// go-plugin's own Ping has no deadline; a wedged plugin must not wedge the supervisor.
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	_, err = grpc_health_v1.NewHealthClient(gc.Conn).Check(ctx,
		&grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	return err == nil
}

// pid is the plugin's process id, 0 when unknown.
func (in *instance) pid() int {
	if rc := in.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// startError turns go-plugin's start-up errors into the one-line messages README.md
// documents ("Start-up failures"). go-plugin reports most of them as plain text only, so they
// are recognised by their wording, which is pinned with go-plugin's version in go.mod;
// TestStartFailuresNameTheProvider fails if an upgrade changes it.
func startError(cfg ProviderConfig, startTimeout time.Duration, err error, stderr *stderrTail) error {
	msg := err.Error()
	if v, ok := handshakeVersion(msg); ok {
		return protocolMismatch(cfg, v)
	}
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		// Verify passed a moment ago: the file was replaced since.
		return &reason{text: mismatch(cfg, ""), cause: ErrChecksumMismatch}
	case strings.HasPrefix(msg, "plugin exited before we could connect"),
		// Its stdout closed before the handshake line: it exited, go-plugin just saw the
		// pipe first.
		strings.Contains(msg, "Failed to read any lines from plugin's stdout"):
		return fmt.Errorf("plugin %s exited during start-up, before the plugin handshake (%s)", cfg.Plugin, stderr.quote())
	case strings.HasPrefix(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("plugin %s did not complete the plugin handshake within %s (%s)", cfg.Plugin, startTimeout, stderr.quote())
	}
	return fmt.Errorf("start plugin %s: %s (is it an smsgw provider plugin? its stderr is logged under plugin.%s)",
		cfg.Plugin, firstLine(err), cfg.Name)
}

// handshakeVersion reads the plugin's protocol version out of go-plugin's "incompatible API
// version with plugin. Plugin version: 2, Client versions: [1]".
func handshakeVersion(msg string) (int, bool) {
	if !strings.HasPrefix(msg, "incompatible API version with plugin") {
		return 0, false
	}
	_, rest, ok := strings.Cut(msg, "Plugin version: ")
	if !ok {
		return 0, false
	}
	digits, _, _ := strings.Cut(rest, ",")
	v, err := strconv.Atoi(strings.TrimSpace(digits))
	return v, err == nil
}

// protocolMismatch is the message for a plugin built against an SDK of another protocol
// version, found by the go-plugin handshake or by Info.
func protocolMismatch(cfg ProviderConfig, pluginVersion int) error {
	versions := slices.Sorted(maps.Keys(sdk.HostPluginSets()))
	speaks := make([]string, len(versions))
	for i, v := range versions {
		speaks[i] = strconv.Itoa(v)
	}
	return &reason{
		text: fmt.Sprintf("plugin %s speaks plugin protocol %d; this gateway speaks %s (rebuild it against a compatible plugins/sdk)",
			cfg.Plugin, pluginVersion, strings.Join(speaks, " or ")),
		cause: ErrProtocolMismatch,
	}
}

// firstLine keeps go-plugin's start errors to one line; the rest is generic advice, and the
// plugin's own stderr is already in the log under plugin.<name>.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(s)
}

// maxQuote caps the stderr line a start-up error quotes.
const maxQuote = 200

// stderrTail keeps what a start-up error quotes of a plugin's stderr: the first line of a Go
// panic when there is one (the stack trace after it says less), else the last line. go-plugin
// writes every stderr line to it, in pieces, from one goroutine; quote may run on another.
type stderrTail struct {
	mu    sync.Mutex
	cur   []byte // the line being written, up to maxQuote bytes
	last  string
	panic string
}

func (s *stderrTail) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for rest := p; len(rest) > 0; {
		chunk, after, newline := bytes.Cut(rest, []byte{'\n'})
		s.cur = append(s.cur, chunk[:min(len(chunk), maxQuote-len(s.cur))]...)
		if !newline {
			break
		}
		if line := strings.TrimSpace(string(s.cur)); line != "" {
			s.last = line
			if s.panic == "" && (strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ")) {
				s.panic = line
			}
		}
		s.cur, rest = s.cur[:0], after
	}
	return len(p), nil
}

// quote describes the plugin's stderr for an error message.
func (s *stderrTail) quote() string {
	s.mu.Lock()
	line := cmp.Or(s.panic, s.last, strings.TrimSpace(string(s.cur)))
	s.mu.Unlock()
	if line == "" {
		return "it wrote nothing to stderr; is it an smsgw provider plugin?"
	}
	// An SDK plugin logs hclog JSON: quote the message, not the whole record.
	var rec struct {
		Message string `json:"@message"`
	}
	if json.Unmarshal([]byte(line), &rec) == nil && rec.Message != "" {
		line = rec.Message
	}
	return fmt.Sprintf("its stderr said %q", line)
}
