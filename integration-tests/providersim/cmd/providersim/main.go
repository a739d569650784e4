// Command providersim serves one of the provider simulators of package providersim on -addr —
// the FastSMSing-style batch API (-api fastsmsing, the default), the Twilio-style REST API
// (-api twilio, with -account-sid and -auth-token) or the Flowroute-style Messages API (-api
// flowroute, with -access-key, -secret-key and -per-second) — and prints its base URL, e.g.
// "http://127.0.0.1:41234", as the first line of stdout, so a test can start it with -addr
// 127.0.0.1:0 and read where it listens.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/smsgw/smsgw/integration-tests/providersim"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "providersim:", err)
		os.Exit(1)
	}
}

// simulator is what every simulator of package providersim is.
type simulator interface {
	http.Handler
	Close()
}

func run(args []string) error {
	fs := flag.NewFlagSet("providersim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	api := fs.String("api", "fastsmsing", "the API to simulate: fastsmsing, twilio or flowroute")
	apiKey := fs.String("api-key", "", "fastsmsing: bearer token the vendor API requires (empty: any)")
	accountSID := fs.String("account-sid", providersim.DefaultTwilioAccountSID, "twilio: the account SID (Basic user)")
	authToken := fs.String("auth-token", providersim.DefaultTwilioAuthToken, "twilio: the auth token (Basic password, signs webhooks)")
	accessKey := fs.String("access-key", providersim.DefaultFlowrouteAccessKey, "flowroute: the access key (Basic user)")
	secretKey := fs.String("secret-key", providersim.DefaultFlowrouteSecretKey, "flowroute: the secret key (Basic password)")
	perSecond := fs.Int("per-second", providersim.DefaultFlowroutePerSecond, "flowroute: sends accepted per second before 429 (0: no cap)")
	inboundURL := fs.String("inbound-url", "", "twilio, flowroute: where inbound messages are posted (also POST /admin/inbound_url)")
	seed := fs.Uint64("seed", 1, "seed of the RNG behind the fraction knobs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var sim simulator
	switch *api {
	case "fastsmsing":
		sim = providersim.New(providersim.Options{APIKey: *apiKey, Seed: *seed})
	case "twilio":
		if *accountSID == "" || *authToken == "" {
			return errors.New("-api twilio: -account-sid and -auth-token must not be empty")
		}
		sim = providersim.NewTwilio(providersim.TwilioOptions{
			AccountSID: *accountSID, AuthToken: *authToken, InboundURL: *inboundURL, Seed: *seed,
		})
	case "flowroute":
		switch {
		case *accessKey == "" || *secretKey == "":
			return errors.New("-api flowroute: -access-key and -secret-key must not be empty")
		case *perSecond < 0:
			return fmt.Errorf("-per-second %d: must be >= 0 (0: no cap)", *perSecond)
		}
		ps := *perSecond
		if ps == 0 {
			ps = -1 // the options' "no cap"; their 0 is the default
		}
		sim = providersim.NewFlowroute(providersim.FlowrouteOptions{
			AccessKey: *accessKey, SecretKey: *secretKey, InboundURL: *inboundURL, PerSecond: ps, Seed: *seed,
		})
	default:
		return fmt.Errorf("-api %q: must be fastsmsing, twilio or flowroute", *api)
	}
	defer sim.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("http://%s\n", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sim.Close() // free hung requests (or Shutdown would wait for them) and stop callbacks
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
