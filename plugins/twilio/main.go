// Command smsgw-provider-twilio is the provider plugin for Twilio-style Messages APIs
// (API.md §9). It sends each message with POST …/Accounts/{sid}/Messages.json, asking
// Twilio to post its delivery reports to <public_url>/webhooks/<provider>/status; it
// answers those and the inbound webhook /webhooks/<provider>/inbound after checking their
// X-Twilio-Signature; it polls …/Messages/{sid}.json and reports …/Balance.json. Config
// keys: account_sid, auth_token, base_url (default https://api.twilio.com) and timeout
// (default 10s).
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func main() {
	sdk.Serve(func(log hclog.Logger) sdk.Provider { return newProvider(log) })
}
