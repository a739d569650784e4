package sdk

import (
	"context"
	"errors"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	providerv1 "github.com/smsgw/smsgw/plugins/sdk/proto/smsgw/provider/v1"
)

// PluginName is the name the provider is dispensed under from a go-plugin client.
const PluginName = "provider"

// The magic cookie only stops a plugin binary from being run by hand or by another host by
// mistake; it is not a secret (the host's sha256 check is what protects the binary).
const (
	magicCookieKey   = "SMSGW_PLUGIN"
	magicCookieValue = "43a63da245aa04cc2bae126a8a0918c8c7f14e5c35e3a72e984064a33f26ef0d"
)

// HandshakeConfig is the go-plugin handshake shared by the host and every provider plugin.
func HandshakeConfig() plugin.HandshakeConfig {
	return plugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   magicCookieKey,
		MagicCookieValue: magicCookieValue,
	}
}

// HostPluginSets is the host's plugin.ClientConfig.VersionedPlugins: one entry per protocol
// version the host speaks. Dispense PluginName to get a *Client.
func HostPluginSets() map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginName: &GRPCPlugin{}},
	}
}

// GRPCPlugin is the go-plugin glue for the provider service. On the plugin side Provider is
// the implementation to serve; on the host side it is left nil and GRPCClient returns a
// *Client.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Provider Provider
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the provider service on the plugin's gRPC server.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Provider == nil {
		return errors.New("sdk: GRPCPlugin.Provider is nil")
	}
	providerv1.RegisterProviderServiceServer(s, newGRPCServer(p.Provider))
	return nil
}

// GRPCClient returns the host-side *Client for a connected plugin.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return newClient(conn), nil
}
