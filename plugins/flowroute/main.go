// Command smsgw-provider-flowroute is the provider plugin for Flowroute-style Messages APIs
// (v2.1, API.md §9). It sends each message with POST /v2.1/messages, asking Flowroute to post
// its delivery receipts to <public_url>/webhooks/<provider>/<webhook_token>/dlr; it answers
// those and the inbound callback /webhooks/<provider>/<webhook_token>/inbound (Flowroute
// signs nothing: the secret token in the path is the webhooks' only protection); and it
// polls GET /v2.1/messages/{id}. Config keys: access_key, secret_key, webhook_token (at least
// 16 characters), base_url (default https://api.flowroute.com) and timeout (default 10s).
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func main() {
	sdk.Serve(func(log hclog.Logger) sdk.Provider { return newProvider(log) })
}
