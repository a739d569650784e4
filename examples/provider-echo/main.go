// Command smsgw-provider-echo is a worked example of a third-party smsgw provider plugin: a
// separate Go module that imports only github.com/smsgw/smsgw/plugins/sdk of smsgw, built on
// its own and loaded by an unchanged gateway from a provider block with its sha256.
//
// It sends nothing anywhere. Each message it accepts (and spends one of config.credits, when
// set) is answered "sent", then reported "delivered" through the event stream, and (with
// config.reply) answered by its recipient with the same text. Copy it, and replace the bodies of Send,
// PollStatus and Balance with calls to your provider's API (plugins/sdk/httpcall helps).
// README.md, "Write your own provider plugin", walks through it.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func main() {
	// Serve speaks the go-plugin handshake on stdout and gRPC after it, and returns when the
	// gateway ends the plugin. Run by hand, it says it is a plugin and exits non-zero.
	sdk.Serve(func(log hclog.Logger) sdk.Provider { return newEcho(log) })
}
