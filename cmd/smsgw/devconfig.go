package main

// devConfig is what `smsgw serve` uses without -config. It must say the same as
// configs/dev.hcl (a test checks they parse to the same Config).
const devConfig = `# The development config: zero services, embedded SQLite, the loopback provider.
listen     = "127.0.0.1:8080"
plugin_dir = "./bin/plugins"

storage {
  driver = "sqlite"
  dsn    = "./data/smsgw.db"
}

provider "loopback" {
  plugin = "smsgw-provider-loopback"
  dev    = true # built locally by make; production configs pin a sha256
  config = {
    delivery_delay = "0s"
  }
}

# Basic auth dev:dev. Make your own hash with: echo -n 'secret' | smsgw accounts hash
account "dev" {
  password_bcrypt = "$2a$10$RMaLIAFZ1K095ghUFeOVa.gSpVrcWue/f5ZvDaZoFdmlkytmeYn0W"
}

# The legacy dialects, with Basic auth like v1: smsapp (POST /inbound/sms, /outbound/sms)
# and fastsmsing (POST /sms, GET /sms/{id}).
compat {
  smsapp {
    stop_ttl = "4h"
  }
  fastsmsing {
    from = "FASTSMS"
  }
}
`
