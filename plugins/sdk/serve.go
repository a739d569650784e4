package sdk

import (
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
)

// Serve runs a provider plugin; a plugin's main is `sdk.Serve(newProvider)` and nothing else.
// newProvider gets the plugin's logger: hclog JSON on stderr, which the host parses and logs
// under plugin.<name>. Stdout belongs to go-plugin (its first line is the handshake), so a
// plugin must never write to it. Serve returns only when the host ends the plugin; run by
// hand, it explains that it is a plugin and exits non-zero.
func Serve(newProvider func(log hclog.Logger) Provider) {
	log := hclog.New(&hclog.LoggerOptions{
		// Every level goes out: the host's logger decides what to keep.
		Level:      hclog.Trace,
		Output:     os.Stderr,
		JSONFormat: true,
	})
	p := newProvider(log)
	if p == nil {
		log.Error("newProvider returned nil")
		os.Exit(1)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: HandshakeConfig(),
		VersionedPlugins: map[int]plugin.PluginSet{
			ProtocolVersion: {PluginName: &GRPCPlugin{Provider: p}},
		},
		GRPCServer: plugin.DefaultGRPCServer,
		Logger:     log,
	})
}
