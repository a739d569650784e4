package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/smsgw/smsgw/adapters/pluginhost"
	"github.com/smsgw/smsgw/ports"
)

func cmdMigrate(ctx context.Context, args []string, s streams, env map[string]string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(s.err)
	path := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, env)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.Storage)
	if err != nil {
		return err
	}
	defer st.close()
	fmt.Fprintf(s.out, "migrations applied (%s)\n", cfg.Storage.Driver)
	return nil
}

func cmdConfigCheck(args []string, s streams, env map[string]string) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(s.err)
	path := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, env)
	if err != nil {
		return err
	}
	if _, err := newRouter(cfg); err != nil {
		return err
	}
	for _, p := range cfg.Providers {
		if err := pluginhost.Verify(hostProvider(p)); err != nil {
			return err
		}
	}
	fmt.Fprintf(s.out, "config ok: %d provider(s), %d route(s), %d account(s)\n", len(cfg.Providers), len(cfg.Routes), len(cfg.Accounts))
	return nil
}

func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("empty password on stdin")
	}
	if len(pw) > 72 { // bcrypt ignores everything after 72 bytes; refuse instead of truncating silently
		return "", errors.New("password longer than 72 bytes")
	}
	return pw, nil
}

func cmdAccountsHash(s streams) error {
	pw, err := readPassword(s.in)
	if err != nil {
		return err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	fmt.Fprintln(s.out, string(h))
	return nil
}

func cmdAccountsAdd(ctx context.Context, args []string, s streams, env map[string]string) error {
	fs := flag.NewFlagSet("accounts add", flag.ContinueOnError)
	fs.SetOutput(s.err)
	path := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("accounts add: want exactly one NAME: %w", errUsage)
	}
	name := fs.Arg(0)
	if name == "" || strings.ContainsAny(name, ": \t\n") {
		return fmt.Errorf("accounts add: account name %q must be non-empty without spaces or ':'", name)
	}
	pw, err := readPassword(s.in)
	if err != nil {
		return err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	cfg, err := loadConfig(*path, env)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, cfg.Storage)
	if err != nil {
		return err
	}
	defer st.close()
	if err := st.store.PutAccount(ctx, ports.Account{ID: name, PasswordHash: string(h), CreatedAt: time.Now().UTC()}); err != nil {
		return fmt.Errorf("store account %s: %w", name, err)
	}
	fmt.Fprintf(s.out, "account %s saved\n", name)
	return nil
}

func cmdPluginSHA256(path string, s streams) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open plugin: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("read plugin: %w", err)
	}
	fmt.Fprintln(s.out, hex.EncodeToString(h.Sum(nil)))
	return nil
}

// cmdSend calls POST /v1/messages of a running gateway.
func cmdSend(ctx context.Context, args []string, s streams, env map[string]string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(s.err)
	url := fs.String("url", "http://127.0.0.1:8080", "gateway base URL")
	user := fs.String("user", "dev", "account name")
	from := fs.String("from", "", "sender: E.164 number or alphanumeric id")
	to := fs.String("to", "", "recipient, E.164")
	text := fs.String("text", "", "message text")
	if err := fs.Parse(args); err != nil {
		return err
	}
	// The password comes from the environment so it never shows in `ps`.
	password, ok := env["SMSGW_PASSWORD"]
	if !ok {
		password = "dev"
	}
	body, err := json.Marshal(map[string]string{"from": *from, "to": *to, "text": *text})
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(*url, "/")+"/v1/messages", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(*user, password)
	resp, err := (&http.Client{}).Do(req) // bounded by ctx above
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	fmt.Fprintln(s.out, strings.TrimSpace(string(out)))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("gateway answered %s", resp.Status)
	}
	return nil
}
