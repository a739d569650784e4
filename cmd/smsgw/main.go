// Command smsgw is the SMS gateway: `smsgw serve` runs it; the other subcommands manage its
// database, accounts, config and plugins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=..."; the only
// package-level variables, and never written at run time.
var (
	version = "dev"
	commit  = "unknown"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], streams{in: os.Stdin, out: os.Stdout, err: os.Stderr}, environ())
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "smsgw:", err)
		os.Exit(1)
	}
}

// environ is the process environment as a map: the only place smsgw reads it.
func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				env[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	return env
}

type streams struct {
	in  io.Reader
	out io.Writer
	err io.Writer
}

const usage = `usage: smsgw <command> [flags]

commands:
  serve            run the gateway (default config: SQLite under ./data, loopback, 127.0.0.1:8080)
  migrate          apply database migrations
  config check     validate a config file and the provider binaries' checksums
  accounts add     create an account or reset its password (password on stdin)
  accounts hash    print a bcrypt hash of the password on stdin (for account blocks)
  plugin sha256    print a plugin binary's sha256 for its provider block
  send             send an SMS through a running gateway's API
  version          print the version

Run 'smsgw <command> -h' for a command's flags.`

// errUsage is returned for a malformed command line.
var errUsage = errors.New("bad usage (run smsgw help)")

func run(ctx context.Context, args []string, s streams, env map[string]string) error {
	if len(args) == 0 {
		fmt.Fprintln(s.err, usage)
		return errUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, s, env)
	case "migrate":
		return cmdMigrate(ctx, rest, s, env)
	case "config":
		if len(rest) == 0 || rest[0] != "check" {
			return fmt.Errorf("config: want 'config check': %w", errUsage)
		}
		return cmdConfigCheck(rest[1:], s, env)
	case "accounts":
		if len(rest) > 0 && rest[0] == "add" {
			return cmdAccountsAdd(ctx, rest[1:], s, env)
		}
		if len(rest) > 0 && rest[0] == "hash" {
			return cmdAccountsHash(s)
		}
		return fmt.Errorf("accounts: want 'accounts add NAME' or 'accounts hash': %w", errUsage)
	case "plugin":
		if len(rest) != 2 || rest[0] != "sha256" {
			return fmt.Errorf("plugin: want 'plugin sha256 FILE': %w", errUsage)
		}
		return cmdPluginSHA256(rest[1], s)
	case "send":
		return cmdSend(ctx, rest, s, env)
	case "version", "-version", "--version":
		fmt.Fprintf(s.out, "smsgw %s (commit %s, %s)\n", version, commit, runtime.Version())
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(s.out, usage)
		return nil
	}
	fmt.Fprintln(s.err, usage)
	return fmt.Errorf("unknown command %q: %w", cmd, errUsage)
}

// configFlag adds -config to fs; an empty value means the built-in dev config.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "config file (HCL); default: the built-in dev config (configs/dev.hcl)")
}

func loadConfig(path string, env map[string]string) (*Config, error) {
	if path == "" {
		return ParseConfig("<built-in dev config>", []byte(devConfig), env)
	}
	return LoadConfig(path, env)
}
