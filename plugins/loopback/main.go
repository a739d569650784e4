// Command smsgw-provider-loopback is the loopback provider plugin: it sends nothing anywhere.
// Every message is "sent" at once and "delivered" after config.delivery_delay through the
// event stream, except numbers matching config.fail_numbers, which fail permanently. See
// API.md §9 for the config keys and the simulated inbound webhook.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func main() {
	sdk.Serve(func(log hclog.Logger) sdk.Provider {
		return newLoopback(log, systemClock{})
	})
}
