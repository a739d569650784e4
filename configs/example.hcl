# Production example: PostgreSQL, every bundled provider, secrets from the environment.
# Check it with: smsgw config check -config configs/example.hcl
listen     = "0.0.0.0:8080"
public_url = "https://sms.example.com" # webhook URLs and signature checks behind proxies
plugin_dir = "/usr/lib/smsgw/plugins"
log_format = "json"

# Only these proxies may set X-Forwarded-For.
trusted_proxies = ["10.0.0.0/8"]

storage {
  driver         = "postgres"
  dsn            = env.SMSGW_DATABASE_URL
  max_open_conns = 20
}

provider "loopback" {
  plugin = "smsgw-provider-loopback"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000" # smsgw plugin sha256 FILE
}

provider "twilio" {
  plugin  = "smsgw-provider-twilio"
  sha256  = "0000000000000000000000000000000000000000000000000000000000000000"
  account = "user"
  config = {
    account_sid = "AC00000000000000000000000000000000"
    auth_token  = env.TWILIO_AUTH_TOKEN
    base_url    = "https://api.twilio.com"
  }
  batch {
    max_size = 1
    linger   = "0s"
  }
  retry {
    max_attempts = 5
    backoff      = "1s"
  }
  breaker {
    failures = 5      # consecutive failed sends before traffic fails over to the next provider
    cooldown = "30s"  # then one trial send; success closes the breaker
  }
}

provider "fastsms" {
  plugin = "smsgw-provider-fastsmsing"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  config = {
    base_url      = "https://api.fastsmsing.example"
    api_key       = env.FASTSMS_API_KEY
    max_batch     = 100
    poll_interval = "2s"
    cursor_file   = "/var/lib/smsgw/fastsms-cursor.json" # its /updates position across restarts
  }
  batch {
    max_size = 100
    linger   = "200ms"
  }
}

provider "flowroute" {
  plugin = "smsgw-provider-flowroute"
  sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
  config = {
    access_key    = env.FLOWROUTE_ACCESS_KEY
    secret_key    = env.FLOWROUTE_SECRET_KEY
    base_url      = "https://api.flowroute.com"
    webhook_token = env.FLOWROUTE_WEBHOOK_TOKEN
  }
}

route "us" {
  providers = ["twilio", "fastsms"] # primary first, then failover order
  match {
    to_prefix = "+1"
  }
}

route "default" {
  providers = ["fastsms", "twilio"]
}

limits {
  per_sender = 50
  window     = "1h"
}

opt_out {
  expiry      = "0s" # 0 = permanent
  stop_reply  = "You have been unsubscribed. Reply START to resubscribe."
  start_reply = "You have been resubscribed. Reply STOP to unsubscribe."
  help_reply  = "Reply STOP to unsubscribe."
}

status_refresh_interval = "1h"

account "user" {
  password_bcrypt = "$2a$10$RMaLIAFZ1K095ghUFeOVa.gSpVrcWue/f5ZvDaZoFdmlkytmeYn0W"
}

webhook "crm" {
  url    = "https://crm.example.com/sms-events"
  events = ["message.received", "message.status"]
  secret = env.CRM_WEBHOOK_SECRET
}

proxy {
  allocation         = "shared"
  org_name           = "Acme"
  start_message      = "Your new session has started, send a message!"
  end_message        = "This session has ended, talk to you again soon!"
  no_session_message = "An active session was not found."
}

compat {
  smsapp {
    stop_ttl = "4h"
  }
  fastsmsing {
    from = "FASTSMS"
  }
  dhos {
    provider     = "twilio"
    callback_url = "https://sms.example.com/dhos/v1/sms/callback"
    country_code = "GB"
  }
  flowroute_proxy {
    provider = "flowroute"
    prefix   = "/"
  }
}
