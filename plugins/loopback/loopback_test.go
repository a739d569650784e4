package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func isOutboundID(id string) bool {
	return regexp.MustCompile(`^lb-[0-9]+-[0-9a-f]{16}$`).MatchString(id)
}

func configure(t *testing.T, l *loopback, cfg map[string]any) {
	t.Helper()
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Configure(t.Context(), sdk.ConfigureRequest{Name: "loopback", Config: raw}); err != nil {
		t.Fatalf("configure %s: %v", raw, err)
	}
}

// pending drains the events queued so far, without waiting.
func pending(l *loopback) []sdk.Event {
	var out []sdk.Event
	for {
		e, ok := l.events.tryPop()
		if !ok {
			return out
		}
		out = append(out, e)
	}
}

func send(t *testing.T, l *loopback, msgs ...sdk.OutboundMessage) []sdk.SendResult {
	t.Helper()
	res, err := l.Send(t.Context(), msgs)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if len(res) != len(msgs) {
		t.Fatalf("%d results for %d messages", len(res), len(msgs))
	}
	return res
}

func TestInfo(t *testing.T) {
	l, _ := newTestLoopback(t)
	info, err := l.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Info{Name: "loopback", Version: "0.1.0", ProtocolVersion: sdk.ProtocolVersion, Capabilities: sdk.Capabilities{
		MaxBatch: 100, StatusPoll: true, Inbound: true, EventStream: true,
	}}
	if info != want {
		t.Errorf("info %+v, want %+v", info, want)
	}
}

func TestSendAndDeliver(t *testing.T) {
	for _, delay := range []time.Duration{0, 5 * time.Second} {
		t.Run(delay.String(), func(t *testing.T) {
			l, clk := newTestLoopback(t)
			configure(t, l, map[string]any{"delivery_delay": delay.String(), "fail_numbers": []string{"+1555666*"}})
			sentAt := clk.Now()

			res := send(t, l,
				sdk.OutboundMessage{ID: "m1", From: "+15550000001", To: "+15551234567", Text: "hello"},
				sdk.OutboundMessage{ID: "m2", From: "+15550000001", To: "+15556660001", Text: "nope"},
			)
			if !isOutboundID(res[0].ProviderMessageID) || res[0].Status != sdk.StatusSent || res[0].Err != nil {
				t.Errorf("accepted result %+v", res[0])
			}
			if res[1].ProviderMessageID != "" || res[1].Err == nil || res[1].Err.Class != sdk.ClassRejected {
				t.Errorf("failing result %+v, want a rejected error without an id", res[1])
			}
			id := res[0].ProviderMessageID
			wantDelivered := []sdk.Event{{Status: &sdk.StatusUpdate{
				MessageID: "m1", ProviderMessageID: id, Status: sdk.StatusDelivered, At: sentAt.Add(delay),
			}}}

			if delay > 0 {
				if got := pending(l); len(got) != 0 {
					t.Fatalf("events before the delay: %+v", got)
				}
				checkPoll(t, l, id, sdk.StatusSent)
				clk.Advance(delay - time.Millisecond)
				if got := pending(l); len(got) != 0 {
					t.Fatalf("events before the delay: %+v", got)
				}
				checkPoll(t, l, id, sdk.StatusSent)
				clk.Advance(time.Millisecond)
			}
			if got := pending(l); !reflect.DeepEqual(got, wantDelivered) {
				t.Errorf("events %s, want %s", dump(got), dump(wantDelivered))
			}
			checkPoll(t, l, id, sdk.StatusDelivered)
		})
	}
}

func checkPoll(t *testing.T, l *loopback, id, want string) {
	t.Helper()
	got, err := l.PollStatus(t.Context(), []string{id})
	if err != nil {
		t.Fatalf("poll: %v", err)
	}
	if len(got) != 1 || got[0].ProviderMessageID != id || got[0].Status != want {
		t.Errorf("poll %s = %+v, want %s", id, got, want)
	}
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestPollStatusLeavesOutUnknownIDs(t *testing.T) {
	l, clk := newTestLoopback(t)
	configure(t, l, map[string]any{"delivery_delay": "1m"})
	now := clk.Now()
	old := fmt.Sprintf("lb-%d-00ff00ff00ff00ff", now.Add(-2*time.Minute).UnixMilli())
	recent := fmt.Sprintf("lb-%d-00ff00ff00ff00ff", now.Add(-30*time.Second).UnixMilli())
	ids := []string{"x", "lb-", "lb-123", "lb-abc-ff", "lb-123-zz", "lb--1-ff", "lbi-123-ff", old, recent}
	got, err := l.PollStatus(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	want := []sdk.StatusUpdate{
		{ProviderMessageID: old, Status: sdk.StatusDelivered, At: time.UnixMilli(now.Add(-time.Minute).UnixMilli()).UTC()},
		{ProviderMessageID: recent, Status: sdk.StatusSent, At: time.UnixMilli(now.Add(-30 * time.Second).UnixMilli()).UTC()},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("poll = %s, want %s", dump(got), dump(want))
	}
}

func TestSubscribers(t *testing.T) {
	l, clk := newTestLoopback(t)
	configure(t, l, map[string]any{"delivery_delay": "2s", "subscribers": map[string]string{"+15558880000": "pong"}})
	res := send(t, l,
		sdk.OutboundMessage{ID: "m1", From: "+15550000001", To: "+15558880000", Text: "ping"},
		sdk.OutboundMessage{ID: "m2", From: "+15550000001", To: "+15551234567", Text: "not a subscriber"},
	)
	clk.Advance(2 * time.Second)
	got := pending(l)
	// Per message: its delivery, then the subscriber's reply.
	if len(got) != 3 {
		t.Fatalf("events %s, want 3", dump(got))
	}
	if got[0].Status == nil || got[0].Status.ProviderMessageID != res[0].ProviderMessageID {
		t.Errorf("first event %s, want the delivery of m1", dump(got[0]))
	}
	reply := got[1].Inbound
	if reply == nil || reply.From != "+15558880000" || reply.To != "+15550000001" || reply.Text != "pong" ||
		!reply.At.Equal(clk.Now()) || len(reply.ProviderMessageID) < 5 || reply.ProviderMessageID[:4] != "lbi-" {
		t.Errorf("second event %s, want the reply from the subscriber", dump(got[1]))
	}
	if got[2].Status == nil || got[2].Status.ProviderMessageID != res[1].ProviderMessageID {
		t.Errorf("third event %s, want the delivery of m2", dump(got[2]))
	}
}

func TestTrafficFile(t *testing.T) {
	l, _ := newTestLoopback(t)
	path := filepath.Join(t.TempDir(), "traffic.jsonl")
	configure(t, l, map[string]any{"traffic_file": path, "fail_numbers": []string{"+1555666*"}})

	const workers, batches, perBatch = 8, 10, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for b := range batches {
				msgs := make([]sdk.OutboundMessage, perBatch)
				for i := range msgs {
					to := "+15551234567"
					if i == 0 {
						to = "+15556660000"
					}
					msgs[i] = sdk.OutboundMessage{ID: fmt.Sprintf("w%d-b%d-m%d", w, b, i), From: "+1", To: to, Text: "t \"quoted\"\n"}
				}
				if _, err := l.Send(context.Background(), msgs); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("send: %v", err)
	}

	lines := readLines(t, path)
	if len(lines) != workers*batches*perBatch {
		t.Fatalf("%d lines, want %d", len(lines), workers*batches*perBatch)
	}
	seen := map[string]bool{}
	for _, line := range lines {
		var fields map[string]any
		if err := json.Unmarshal([]byte(line), &fields); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		for _, k := range []string{"id", "provider_message_id", "from", "to", "text", "at"} {
			if _, ok := fields[k]; !ok {
				t.Errorf("line %q lacks %q", line, k)
			}
		}
		if len(fields) != 6 {
			t.Errorf("line %q has extra keys", line)
		}
		var tl trafficLine
		_ = json.Unmarshal([]byte(line), &tl)
		if seen[tl.ID] {
			t.Errorf("id %s written twice", tl.ID)
		}
		seen[tl.ID] = true
		failing := tl.To == "+15556660000"
		if failing != (tl.ProviderMessageID == "") || (!failing && !isOutboundID(tl.ProviderMessageID)) {
			t.Errorf("line %q: provider id does not match the outcome", line)
		}
		if tl.Text != "t \"quoted\"\n" || tl.At.IsZero() {
			t.Errorf("line %q: bad text or time", line)
		}
	}

	// Reconfiguring switches files and keeps appending (no truncation).
	configure(t, l, map[string]any{"traffic_file": path})
	send(t, l, sdk.OutboundMessage{ID: "after", From: "+1", To: "+2", Text: "x"})
	if n := len(readLines(t, path)); n != workers*batches*perBatch+1 {
		t.Errorf("%d lines after reconfigure, want one more", n)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

func TestSendLimits(t *testing.T) {
	l, _ := newTestLoopback(t)
	if res, err := l.Send(t.Context(), nil); err != nil || len(res) != 0 {
		t.Errorf("empty batch = %v, %v", res, err)
	}
	_, err := l.Send(t.Context(), make([]sdk.OutboundMessage, maxBatch+1))
	if sdk.ClassOf(err) != sdk.ClassInvalid {
		t.Errorf("oversized batch: %v, want an invalid error", err)
	}
	res := send(t, l, sdk.OutboundMessage{ID: "m", From: "+1", Text: "no recipient"})
	if res[0].Err == nil || res[0].Err.Class != sdk.ClassInvalid {
		t.Errorf("message without a recipient: %+v", res[0])
	}
}

func TestEventsRedeliversAfterEmitFailure(t *testing.T) {
	l, _ := newTestLoopback(t)
	res := send(t, l,
		sdk.OutboundMessage{ID: "a", From: "+1", To: "+2"},
		sdk.OutboundMessage{ID: "b", From: "+1", To: "+3"},
	)
	errGone := errors.New("host gone")
	if err := l.Events(t.Context(), func(sdk.Event) error { return errGone }); !errors.Is(err, errGone) {
		t.Fatalf("Events = %v, want the emit error", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []string
	err := l.Events(ctx, func(e sdk.Event) error {
		got = append(got, e.Status.ProviderMessageID)
		if len(got) == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Events = %v, want context.Canceled", err)
	}
	want := []string{res[0].ProviderMessageID, res[1].ProviderMessageID}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events for %v, want %v in order", got, want)
	}
}
