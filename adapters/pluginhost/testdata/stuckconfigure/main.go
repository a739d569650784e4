// Command stuckconfigure completes the handshake and answers Info, then never returns from
// Configure: the start-up deadline must still end its launch.
package main

import (
	"context"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
)

type provider struct{}

func (provider) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "stuckconfigure", Version: "0.0.1", ProtocolVersion: sdk.ProtocolVersion}, nil
}

// Configure waits for its call to end: the host's deadline, then the host kills the process.
func (provider) Configure(ctx context.Context, _ sdk.ConfigureRequest) error {
	<-ctx.Done()
	return ctx.Err()
}

func (provider) Send(_ context.Context, msgs []sdk.OutboundMessage) ([]sdk.SendResult, error) {
	return make([]sdk.SendResult, len(msgs)), nil
}

func main() {
	sdk.Serve(func(hclog.Logger) sdk.Provider { return provider{} })
}
