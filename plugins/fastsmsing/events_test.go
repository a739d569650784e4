package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/plugins/sdk"
)

func TestStatusEvent(t *testing.T) {
	tests := []struct {
		in       update
		want     string
		wantCode string
		ok       bool
	}{
		{update{"m1", "CONFIRMED"}, sdk.StatusSent, "", true},
		{update{"m1", "DELIVERED"}, sdk.StatusDelivered, "", true},
		{update{"m1", "FAILED"}, sdk.StatusUndelivered, "FAILED", true},
		{update{"m1", "LOST"}, "", "", false},
		{update{"m1", "delivered"}, "", "", false},
		{update{"", "DELIVERED"}, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in.ID+"/"+tt.in.Status, func(t *testing.T) {
			ev, ok := statusEvent(tt.in)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			s := ev.Status
			if ev.Inbound != nil || s == nil || s.Status != tt.want || s.ErrorCode != tt.wantCode ||
				s.MessageID != tt.in.ID || s.ProviderMessageID != tt.in.ID {
				t.Errorf("event %+v (status %+v), want %s for %s", ev, s, tt.want, tt.in.ID)
			}
		})
	}
}

func TestCursors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cursor.json")
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	c, err := loadCursors(file, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		do      func()
		advance time.Duration // advance to t0 + this
		want    string
	}{
		{"nothing emitted", func() {}, 0, ""},
		{"c1 too recent", func() { c.emitted("c1", t0) }, time.Second, ""},
		{"c1 old enough", func() {}, 5 * time.Second, "c1"},
		{"c2, c3 emitted", func() { c.emitted("c2", t0.Add(6*time.Second)); c.emitted("c3", t0.Add(7*time.Second)) }, 11 * time.Second, "c2"},
		{"a repeat is not news", func() { c.emitted("c3", t0.Add(20*time.Second)) }, 12 * time.Second, "c3"},
	}
	for _, s := range steps {
		s.do()
		if err := c.advance(t0.Add(s.advance)); err != nil {
			t.Fatalf("%s: advance: %v", s.name, err)
		}
		if got := c.resume(); got != s.want {
			t.Errorf("%s: resume %q, want %q", s.name, got, s.want)
		}
	}
	c.emitted("c4", t0.Add(30*time.Second))
	if got := c.restart(); got != "c3" {
		t.Errorf("restart = %q, want c3 (c4 is inside the replay window)", got)
	}
	if err := c.advance(t0.Add(time.Hour)); err != nil || c.resume() != "c3" {
		t.Errorf("after restart, c4 is forgotten: resume %q, %v", c.resume(), err)
	}

	// A new process reads the saved cursor.
	again, err := loadCursors(file, 5*time.Second)
	if err != nil || again.resume() != "c3" {
		t.Errorf("reloaded cursor %q, %v; want c3", again.resume(), err)
	}
	if err := os.WriteFile(file, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCursors(file, time.Second); err == nil {
		t.Error("a garbage cursor file loaded")
	}
	if c, err := loadCursors("", time.Second); err != nil || c.advance(t0) != nil {
		t.Errorf("no cursor file: %v", err)
	}
}

// stream runs p.Events and hands its events to the returned channel; stop ends the stream
// and waits for it.
func stream(t *testing.T, p *provider) (events <-chan sdk.Event, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	ch := make(chan sdk.Event)
	done := make(chan error, 1)
	go func() {
		done <- p.Events(ctx, func(e sdk.Event) error {
			select {
			case ch <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	var stopped bool
	var err error
	stop = func() error {
		if !stopped {
			cancel()
			err, stopped = <-done, true
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return ch, stop
}

func next(t *testing.T, events <-chan sdk.Event) sdk.StatusUpdate {
	t.Helper()
	select {
	case e := <-events:
		return *e.Status
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return sdk.StatusUpdate{}
}

func TestEventsResumeAfterRestart(t *testing.T) {
	_, srv := newSim(t)
	file := filepath.Join(t.TempDir(), "cursor.json")
	start := func() *provider {
		p := newProvider(hclog.NewNullLogger())
		p.replay = 0 // save every emitted cursor at once
		if err := p.Configure(t.Context(), sdk.ConfigureRequest{Name: "fast", Config: testConfig(t, srv.URL, map[string]any{"cursor_file": file})}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.transport.(*http.Transport).CloseIdleConnections)
		return p
	}

	p1 := start()
	if _, err := p1.Send(t.Context(), []sdk.OutboundMessage{msg("a", "+15551230001"), msg("b", "+15551230002")}); err != nil {
		t.Fatal(err)
	}
	events, stop := stream(t, p1)
	var got []string
	for range 4 {
		u := next(t, events)
		got = append(got, u.MessageID+":"+u.Status)
	}
	want := []string{"a:sent", "a:delivered", "b:sent", "b:delivered"}
	if !equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if err := stop(); !errors.Is(err, context.Canceled) {
		t.Errorf("Events ended with %v, want context.Canceled", err)
	}

	// The "restarted" plugin: a new provider, the same cursor file. It must see c's updates
	// and nothing of a and b again.
	p2 := start()
	if _, err := p2.Send(t.Context(), []sdk.OutboundMessage{msg("c", "+15551230003")}); err != nil {
		t.Fatal(err)
	}
	events, _ = stream(t, p2)
	for _, w := range []string{"c:sent", "c:delivered"} {
		if u := next(t, events); u.MessageID+":"+u.Status != w {
			t.Errorf("after restart: %s:%s, want %s", u.MessageID, u.Status, w)
		}
	}
}

func TestEventsBeforeConfigure(t *testing.T) {
	p := newProvider(hclog.NewNullLogger())
	err := p.Events(t.Context(), func(sdk.Event) error { return nil })
	if sdk.ClassOf(err) != sdk.ClassUnavailable {
		t.Errorf("Events before Configure = %v, want unavailable", err)
	}
}

func equal(a, b []string) bool { return slices.Equal(a, b) }
