// Command smsgw-provider-fastsmsing is the provider plugin for FastSMSing-style batch APIs
// (API.md §9): it sends whole batches with POST /batches, streams the statuses it polls from
// GET /updates through the event stream, and reports the balance. Config keys: base_url,
// api_key, max_batch (default 100), poll_interval (default 200ms), timeout (default 10s) and
// cursor_file (optional; where the /updates cursor survives restarts, see cursors.go).
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func main() {
	sdk.Serve(func(log hclog.Logger) sdk.Provider { return newProvider(log) })
}
