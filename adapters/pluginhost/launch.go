package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
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
		return fail(fmt.Errorf("start plugin %s: %s (is it an smsgw provider plugin? its stderr is logged under plugin.%s)",
			cfg.Plugin, firstLine(err), cfg.Name))
	}
	raw, err := proto.Dispense(sdk.PluginName)
	if err != nil {
		return fail(fmt.Errorf("dispense plugin: %w", err))
	}
	var ok bool
	if in.rpc, ok = raw.(*sdk.Client); !ok {
		return fail(fmt.Errorf("dispense plugin: got %T, want *sdk.Client", raw))
	}

	callCtx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if in.info, err = in.rpc.Info(callCtx); err != nil {
		return fail(fmt.Errorf("plugin info: %w", err))
	}
	if in.info.ProtocolVersion != sdk.ProtocolVersion {
		return fail(fmt.Errorf("plugin speaks protocol %d, this gateway supports %d",
			in.info.ProtocolVersion, sdk.ProtocolVersion))
	}
	err = in.rpc.Configure(callCtx, sdk.ConfigureRequest{Name: cfg.Name, PublicURL: opts.PublicURL, Config: cfg.Config})
	var ce *sdk.ConfigError
	switch {
	case errors.As(err, &ce):
		return fail(ce) // reads "config.<field>: <message>"
	case err != nil:
		return fail(fmt.Errorf("configure plugin: %w", err))
	}
	// The capabilities may depend on the config (a plugin's max_batch setting): ask again
	// now that it is configured. The first answer was only for the protocol check.
	if in.info, err = in.rpc.Info(callCtx); err != nil {
		return fail(fmt.Errorf("plugin info after configure: %w", err))
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

// firstLine keeps go-plugin's start errors to one line; the rest is generic advice, and the
// plugin's own stderr is already in the log under plugin.<name>.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSpace(s)
}
