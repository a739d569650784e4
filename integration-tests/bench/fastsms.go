package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"time"

	"github.com/smsgw/smsgw/integration-tests/harness"
	"github.com/smsgw/smsgw/integration-tests/providersim"
)

// fastsmsResult is one phase of the fastsmsing section: the load's result plus what the
// simulator received.
type fastsmsResult struct {
	maxSize int
	*result
	batches    int // provider calls (POST /batches) the simulator received
	messages   int // distinct messages it received
	duplicates int
}

func (r *fastsmsResult) callsPerMessage() float64 {
	if r.messages == 0 {
		return 0
	}
	return float64(r.batches) / float64(r.messages)
}

// fastsmsPlugin is the batch size of the fastsmsing plugin (its config max_batch) in every
// phase; the host's batch.max_size is what the phases vary.
const fastsmsPlugin = 100

// benchFastSMS runs the gateway with the fastsmsing plugin as its only provider against a
// providersim simulator served in this process, host batch.max_size = maxSize, limits off,
// and measures accepted/s and end-to-end delivered/s as benchGateway does for loopback.
func benchFastSMS(ctx context.Context, bins harness.Binaries, dir, dbURL string, o options, maxSize int) (*fastsmsResult, error) {
	const apiKey = "bench-fastsms-key"
	// A balance that never runs out; the simulator does not refuse a negative one anyway.
	sim := providersim.New(providersim.Options{APIKey: apiKey, Balance: 1 << 40})
	srv := httptest.NewServer(sim)
	defer func() {
		sim.Close()
		srv.Close()
	}()
	name := fmt.Sprintf("fastsms-%d", maxSize)
	provider := fmt.Sprintf(`provider "fastsms" {
  plugin = "smsgw-provider-fastsmsing"
  sha256 = %q
  config = {
    base_url    = %q
    api_key     = %q
    max_batch   = %d
    cursor_file = %q
  }
  batch {
    max_size = %d
  }
}
`, bins.FastSMSingSHA, srv.URL, apiKey, fastsmsPlugin, filepath.Join(dir, name+"-cursor.json"), maxSize)
	res, err := runGateway(ctx, bins, dir, dbURL, o, gatewayRun{name: name, provider: provider, policy: "limits {\n  per_sender = 0\n}\n"})
	if err != nil {
		return nil, err
	}
	st := sim.Stats()
	if st.Messages != res.sent {
		return nil, fmt.Errorf("simulator received %d distinct messages, %d were accepted", st.Messages, res.sent)
	}
	return &fastsmsResult{maxSize: maxSize, result: res, batches: st.Batches, messages: st.Messages, duplicates: st.Duplicates}, nil
}

// runFastSMS runs the fastsmsing section, batch.max_size 100 then 1, each on a fresh
// database, and prints it.
func runFastSMS(ctx context.Context, bins harness.Binaries, dir string, o options, out io.Writer,
	inFreshDB func(label string, f func(dbURL string) (*result, error)) (*result, error)) error {
	var phases []*fastsmsResult
	for _, size := range []int{100, 1} {
		var fr *fastsmsResult
		_, err := inFreshDB(fmt.Sprintf("fastsms_%d", size), func(u string) (*result, error) {
			var err error
			fr, err = benchFastSMS(ctx, bins, dir, u, o, size)
			if err != nil {
				return nil, err
			}
			return fr.result, nil
		})
		if err != nil {
			return fmt.Errorf("fastsmsing, batch.max_size %d: %w", size, err)
		}
		phases = append(phases, fr)
	}
	at100, at1 := phases[0], phases[1]
	if at100 == nil || at1 == nil {
		return errors.New("fastsmsing: a phase gave no result")
	}
	fmt.Fprintf(out, "\nfastsmsing end to end: the plugin (max_batch %d) and the simulator (in process, no latency), %d clients, %s measured after %s of warm-up,\n",
		fastsmsPlugin, o.clients, o.duration, o.warmup)
	fmt.Fprintf(out, "limits off, opt-outs on, batch.linger default; a fresh database per phase\n")
	fmt.Fprintf(out, "%-24s %11s %12s %10s %9s %11s %10s\n", "", "accepted/s", "delivered/s", "deliv/acc", "messages", "prov.calls", "calls/msg")
	for _, r := range phases {
		fmt.Fprintf(out, "%-24s %11.0f %12.0f %9.2fx %9d %11d %10.4f\n", fmt.Sprintf("batch.max_size = %d", r.maxSize),
			r.rate(), r.deliveredRate(), r.deliveredRate()/r.rate(), r.messages, r.batches, r.callsPerMessage())
	}
	fmt.Fprintf(out, "\nfastsmsing delivered/s at 100: %.0f = %.2fx accepted/s  (target >= 0.80; %d delivered in %s)\n",
		at100.deliveredRate(), at100.deliveredRate()/at100.rate(), at100.delivered, at100.deliveredIn.Round(time.Millisecond))
	fmt.Fprintf(out, "provider calls per message at 100: %.4f  (target <= %.4f = 1/80)\n", at100.callsPerMessage(), 1.0/80)
	fmt.Fprintf(out, "delivered/s at 100 vs at 1: %.2fx  (%.0f vs %.0f)\n", at100.deliveredRate()/at1.deliveredRate(), at100.deliveredRate(), at1.deliveredRate())
	fmt.Fprintf(out, "duplicates at the simulator: %d at 100, %d at 1; gateway RSS peak %.1f MB at 100, %.1f MB at 1\n",
		at100.duplicates, at1.duplicates, float64(at100.peakKiB)/1024, float64(at1.peakKiB)/1024)
	return nil
}
