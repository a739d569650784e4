package integration

import (
	"fmt"
	"strings"
)

// twilioProvider is the provider block of the twilio plugin against a simulator at baseURL;
// extra (retry, breaker blocks) goes inside it.
func twilioProvider(baseURL, extra string) string {
	return fmt.Sprintf(`provider "twilio" {
  plugin = "smsgw-provider-twilio"
  sha256 = %q
  config = {
    account_sid = %q
    auth_token  = %q
    base_url    = %q
    timeout     = "5s"
  }
%s
}
`, bins.TwilioSHA, twilioSID, twilioToken, baseURL, extra)
}

// flowrouteProvider is twilioProvider for the flowroute plugin.
func flowrouteProvider(baseURL, extra string) string {
	return fmt.Sprintf(`provider "flowroute" {
  plugin = "smsgw-provider-flowroute"
  sha256 = %q
  config = {
    access_key    = %q
    secret_key    = %q
    base_url      = %q
    webhook_token = %q
    timeout       = "5s"
  }
%s
}
`, bins.FlowrouteSHA, flowrouteKey, flowrouteSecret, baseURL, flowrouteToken, extra)
}

// fastRetry is the retry block the tests give their providers: quick retries.
const fastRetry = `  retry {
    max_attempts = 5
    backoff      = "100ms"
  }`

// gatewayConfig is a gateway config file on s's store, listening on addr, with the built
// plugins: the blocks given (providers, routes, policy), then the test account.
func (s setup) gatewayConfig(addr string, blocks ...string) string {
	return fmt.Sprintf(`listen = %q
plugin_dir = %q
storage {
  driver = %q
  dsn    = %q
}
%s
account %q {
  password_bcrypt = %q
}
`, addr, bins.PluginDir, s.driver, s.dsn, strings.Join(blocks, "\n"), user, userHash)
}
