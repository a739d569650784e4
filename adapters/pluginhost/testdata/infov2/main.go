// Command infov2 completes the go-plugin handshake at the host's protocol version, then claims
// another one in Info: a plugin that hard-codes its version instead of using sdk.ProtocolVersion.
package main

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
)

type provider struct{}

func (provider) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "infov2", Version: "9.9.9", ProtocolVersion: 2}, nil
}

func (provider) Configure(context.Context, sdk.ConfigureRequest) error { return nil }

func (provider) Send(_ context.Context, msgs []sdk.OutboundMessage) ([]sdk.SendResult, error) {
	return make([]sdk.SendResult, len(msgs)), nil
}

func main() {
	sdk.Serve(func(hclog.Logger) sdk.Provider { return provider{} })
}
