// Package harness builds the real smsgw and plugin binaries and runs them as processes, for
// the integration tests and the benchmark.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Binaries are the built executables.
type Binaries struct {
	Dir         string
	Gateway     string
	PluginDir   string
	Loopback    string
	LoopbackSHA string
	// FastSMSing is the batch provider plugin (API.md §9), for use with providersim.
	FastSMSing    string
	FastSMSingSHA string
	// Twilio is the Twilio-style provider plugin, for use with providersim.Twilio.
	Twilio    string
	TwilioSHA string
	// Flowroute is the Flowroute-style provider plugin, for use with providersim.Flowroute.
	Flowroute    string
	FlowrouteSHA string
}

// ModuleRoot returns the directory of the smsgw go.mod.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the smsgw module")
	}
	return filepath.Dir(mod), nil
}

// Build compiles the gateway and the bundled plugins into dir.
func Build(ctx context.Context, dir string) (Binaries, error) {
	root, err := ModuleRoot(ctx)
	if err != nil {
		return Binaries{}, err
	}
	b := Binaries{Dir: dir, Gateway: filepath.Join(dir, "smsgw"), PluginDir: filepath.Join(dir, "plugins")}
	b.Loopback = filepath.Join(b.PluginDir, "smsgw-provider-loopback")
	b.FastSMSing = filepath.Join(b.PluginDir, "smsgw-provider-fastsmsing")
	b.Twilio = filepath.Join(b.PluginDir, "smsgw-provider-twilio")
	b.Flowroute = filepath.Join(b.PluginDir, "smsgw-provider-flowroute")
	targets := []struct {
		out, pkg string
		sha      *string
	}{
		{b.Gateway, "./cmd/smsgw", nil},
		{b.Loopback, "./plugins/loopback", &b.LoopbackSHA},
		{b.FastSMSing, "./plugins/fastsmsing", &b.FastSMSingSHA},
		{b.Twilio, "./plugins/twilio", &b.TwilioSHA},
		{b.Flowroute, "./plugins/flowroute", &b.FlowrouteSHA},
	}
	// One go build for all of them: the toolchain builds the packages in parallel and links
	// each main package into the directory.
	args := []string{"build", "-o", b.PluginDir + string(filepath.Separator)}
	for _, tg := range targets[1:] {
		args = append(args, tg.pkg)
	}
	for _, cmdArgs := range [][]string{{"build", "-o", b.Gateway, targets[0].pkg}, args} {
		cmd := exec.CommandContext(ctx, "go", cmdArgs...)
		cmd.Dir = root
		if msg, err := cmd.CombinedOutput(); err != nil {
			return Binaries{}, fmt.Errorf("go %s: %w\n%s", strings.Join(cmdArgs, " "), err, msg)
		}
	}
	for _, tg := range targets[1:] {
		// go build -o DIR/ names each binary after its package directory; the plugins are
		// named smsgw-provider-<dir>.
		built := filepath.Join(b.PluginDir, filepath.Base(tg.pkg))
		if err := os.Rename(built, tg.out); err != nil {
			return Binaries{}, fmt.Errorf("name plugin %s: %w", tg.pkg, err)
		}
		sum, err := FileSHA256(tg.out)
		if err != nil {
			return Binaries{}, err
		}
		*tg.sha = sum
	}
	return b, nil
}

// GoBuild runs `go build -o out pkgs...` in dir. With dir a module of its own (a
// third-party plugin such as examples/provider-echo) the build is that module's, not smsgw's.
func GoBuild(ctx context.Context, dir, out string, pkgs ...string) error {
	cmd := exec.CommandContext(ctx, "go", append([]string{"build", "-o", out}, pkgs...)...)
	cmd.Dir = dir
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s %s (in %s): %w\n%s", out, strings.Join(pkgs, " "), dir, err, msg)
	}
	return nil
}

// FileSHA256 returns the hex sha256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Exit is how a gateway process that was expected to fail ended.
type Exit struct {
	Output string // stdout and stderr, interleaved
	Err    error  // the exit error (*exec.ExitError); nil for a clean exit
	Took   time.Duration
}

// RunGatewayUntilExit runs `smsgw serve -config configPath` for a start-up that must fail,
// and waits for the process to exit on its own. A gateway still running after timeout is
// killed (with its plugins, by process group) and reported as an error: a start-up failure
// must never hang.
func RunGatewayUntilExit(ctx context.Context, bin, configPath string, timeout time.Duration) (Exit, error) {
	var out bytes.Buffer // one writer for both streams: exec then writes from one goroutine
	cmd := exec.Command(bin, "serve", "-config", configPath)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return Exit{}, fmt.Errorf("start gateway: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return Exit{Output: out.String(), Err: err, Took: time.Since(began)}, nil
	case <-t.C:
	case <-ctx.Done():
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	return Exit{}, fmt.Errorf("gateway still running after %s; output:\n%s", time.Since(began).Round(time.Millisecond), out.String())
}

// Gateway is a running `smsgw serve` process.
type Gateway struct {
	URL     string
	Cmd     *exec.Cmd
	LogPath string
	done    chan struct{}
	waitErr error
}

// StartGateway runs `smsgw serve -config configPath` with its output in logPath and waits
// until /healthz answers (or the process exits, or ctx ends).
func StartGateway(ctx context.Context, bin, configPath, addr, logPath string) (*Gateway, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open gateway log: %w", err)
	}
	cmd := exec.Command(bin, "serve", "-config", configPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so a test can kill the gateway and its plugins separately.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start gateway: %w", err)
	}
	g := &Gateway{URL: "http://" + addr, Cmd: cmd, LogPath: logPath, done: make(chan struct{})}
	go func() {
		g.waitErr = cmd.Wait()
		logf.Close()
		close(g.done)
	}()
	if err := g.waitHealthy(ctx); err != nil {
		g.Kill()
		return nil, err
	}
	return g, nil
}

func (g *Gateway) waitHealthy(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.URL+"/healthz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-g.done:
			return fmt.Errorf("gateway exited during start-up (%v); log:\n%s", g.waitErr, g.Log())
		case <-ctx.Done():
			return fmt.Errorf("gateway not healthy in time; log:\n%s", g.Log())
		case <-tick.C:
		}
	}
}

// Log returns the gateway's output so far.
func (g *Gateway) Log() string {
	b, _ := os.ReadFile(g.LogPath)
	return string(b)
}

// Done is closed when the process has exited.
func (g *Gateway) Done() <-chan struct{} { return g.done }

// Kill sends SIGKILL to the gateway alone (its plugins notice their host is gone and exit)
// and waits for it.
func (g *Gateway) Kill() {
	_ = g.Cmd.Process.Signal(syscall.SIGKILL)
	<-g.done
}

// KillGroup sends SIGKILL to the gateway's whole process group (the gateway and its
// plugins at once, as a machine crash would) and waits for the gateway.
func (g *Gateway) KillGroup() {
	_ = syscall.Kill(-g.Cmd.Process.Pid, syscall.SIGKILL)
	<-g.done
}

// Stop sends SIGTERM and waits up to timeout for a graceful exit; it returns the exit error.
func (g *Gateway) Stop(timeout time.Duration) error {
	_ = g.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-g.done:
		return g.waitErr
	case <-time.After(timeout):
		g.Kill()
		return fmt.Errorf("gateway did not stop within %s", timeout)
	}
}

// ChildPIDs returns the pids of the processes whose parent is pid and whose command name
// starts with prefix (Linux /proc). The name is the base name of the process's argv[0],
// or its comm when the command line cannot be read; comm alone is cut to 15 bytes, which
// would make "smsgw-provider-fastsmsing" match nothing.
func ChildPIDs(pid int, prefix string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// stat: pid (comm) state ppid ...; comm may contain spaces, so split at the last ')'.
		s := string(stat)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		comm, fields := s[open+1:end], strings.Fields(s[end+1:])
		if len(fields) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid != pid {
			continue
		}
		name := comm
		if cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil {
			if argv0, _, _ := bytes.Cut(cmdline, []byte{0}); len(argv0) > 0 {
				name = filepath.Base(string(argv0))
			}
		}
		if strings.HasPrefix(name, prefix) {
			out = append(out, child)
		}
	}
	return out
}

// RSSKiB returns the resident set size of a process (VmRSS) and its peak (VmHWM), in KiB.
func RSSKiB(pid int) (rss, peak int, err error) {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, fmt.Errorf("read process status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		n, _ := strconv.Atoi(fields[1])
		switch fields[0] {
		case "VmRSS:":
			rss = n
		case "VmHWM:":
			peak = n
		}
	}
	return rss, peak, sc.Err()
}

// TrafficLine is one line of the loopback plugin's traffic file.
type TrafficLine struct {
	ID                string `json:"id"`
	ProviderMessageID string `json:"provider_message_id"`
	From              string `json:"from"`
	To                string `json:"to"`
	Text              string `json:"text"`
	At                string `json:"at"`
}

// ReadTraffic parses a traffic file (missing file = no lines).
func ReadTraffic(path string) ([]TrafficLine, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read traffic file: %w", err)
	}
	var out []TrafficLine
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var l TrafficLine
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("traffic line %q: %w", line, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// Counts returns how many times each id appears.
func Counts(lines []TrafficLine) map[string]int {
	c := map[string]int{}
	for _, l := range lines {
		c[l.ID]++
	}
	return c
}

// Message is the part of the v1 message object the tests look at.
type Message struct {
	ID                string            `json:"id"`
	Direction         string            `json:"direction"`
	From              string            `json:"from"`
	To                string            `json:"to"`
	Text              string            `json:"text"`
	Status            string            `json:"status"`
	Provider          string            `json:"provider"`
	ProviderMessageID *string           `json:"provider_message_id"`
	Tags              map[string]string `json:"tags"`
	Error             *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Events []struct {
		Status string  `json:"status"`
		At     string  `json:"at"`
		Detail *string `json:"detail"`
	} `json:"events"`
}

// Final reports whether the status can no longer change.
func (m Message) Final() bool {
	switch m.Status {
	case "delivered", "undelivered", "failed", "canceled", "received":
		return true
	}
	return false
}

// Client calls the v1 API.
type Client struct {
	Base     string
	User     string
	Password string
	HTTP     *http.Client
}

// NewClient returns a client with a connection pool sized for concurrent tests.
func NewClient(base, user, password string) *Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256, IdleConnTimeout: 30 * time.Second}
	return &Client{Base: base, User: user, Password: password, HTTP: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// Do sends a JSON request and decodes a JSON answer into out (when non-nil).
func (c *Client) Do(ctx context.Context, method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("encode body: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read answer: %w", err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode answer %q: %w", raw, err)
		}
	}
	return resp.StatusCode, nil
}

// Response is a raw HTTP answer.
type Response struct {
	Code   int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the answer's JSON body into out.
func (r *Response) Decode(out any) error {
	if err := json.Unmarshal(r.Body, out); err != nil {
		return fmt.Errorf("decode answer %d %q: %w", r.Code, r.Body, err)
	}
	return nil
}

// DoRaw sends a request with a JSON body (when non-nil) and the extra headers and returns
// the whole answer, headers included.
func (c *Client) DoRaw(ctx context.Context, method, path string, header http.Header, body any) (*Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.User != "" {
		req.SetBasicAuth(c.User, c.Password)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	return &Response{Code: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// ListMessages pages through GET /v1/messages with the query (e.g. "from=%2B1415…") and
// returns every item.
func (c *Client) ListMessages(ctx context.Context, query string) ([]Message, error) {
	var all []Message
	cursor := ""
	for {
		path := "/v1/messages?limit=500&" + query
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items      []Message `json:"items"`
			NextCursor *string   `json:"next_cursor"`
		}
		code, err := c.Do(ctx, http.MethodGet, path, nil, &page)
		if err != nil || code != http.StatusOK {
			return all, fmt.Errorf("list %s: %d %v", path, code, err)
		}
		all = append(all, page.Items...)
		if page.NextCursor == nil || *page.NextCursor == "" {
			return all, nil
		}
		cursor = *page.NextCursor
	}
}

// Send posts a v1 send and returns the status code and message.
func (c *Client) Send(ctx context.Context, from, to, text string) (int, Message, error) {
	var m Message
	code, err := c.Do(ctx, http.MethodPost, "/v1/messages", map[string]any{"from": from, "to": to, "text": text}, &m)
	return code, m, err
}

// WaitFinal polls a message until its status is final or ctx ends.
func (c *Client) WaitFinal(ctx context.Context, id string) (Message, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var m Message
	for {
		code, err := c.Do(ctx, http.MethodGet, "/v1/messages/"+id, nil, &m)
		if err == nil && code == http.StatusOK && m.Final() {
			return m, nil
		}
		select {
		case <-ctx.Done():
			return m, fmt.Errorf("message %s not final (status %q, last code %d): %w", id, m.Status, code, ctx.Err())
		case <-tick.C:
		}
	}
}

// WaitAllFinal waits for every id with a few parallel pollers and returns the messages.
func (c *Client) WaitAllFinal(ctx context.Context, ids []string) (map[string]Message, error) {
	var (
		mu   sync.Mutex
		out  = make(map[string]Message, len(ids))
		errs []error
		wg   sync.WaitGroup
		work = make(chan string)
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				m, err := c.WaitFinal(ctx, id)
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else {
					out[id] = m
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	return out, errors.Join(errs...)
}
