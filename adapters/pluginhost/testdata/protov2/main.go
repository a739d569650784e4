// Command protov2 is a plugin built against a future SDK whose plugin protocol is version 2:
// its go-plugin handshake offers version 2 only, so a gateway that speaks 1 must refuse it
// with a clear message.
package main

import (
	"context"

	"github.com/hashicorp/go-plugin"

	"github.com/smsgw/smsgw/plugins/sdk"
)

const protocolVersion = 2

type provider struct{}

func (provider) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "protov2", Version: "9.9.9", ProtocolVersion: protocolVersion}, nil
}

func (provider) Configure(context.Context, sdk.ConfigureRequest) error { return nil }

func (provider) Send(_ context.Context, msgs []sdk.OutboundMessage) ([]sdk.SendResult, error) {
	return make([]sdk.SendResult, len(msgs)), nil
}

// main is what sdk.Serve would do with the SDK's ProtocolVersion at 2.
func main() {
	hs := sdk.HandshakeConfig()
	hs.ProtocolVersion = protocolVersion
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: hs,
		VersionedPlugins: map[int]plugin.PluginSet{
			protocolVersion: {sdk.PluginName: &sdk.GRPCPlugin{Provider: provider{}}},
		},
		GRPCServer: plugin.DefaultGRPCServer,
	})
}
