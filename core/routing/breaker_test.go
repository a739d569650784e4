package routing

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	// Steps run in order on one breaker (failures 3, cool-down 10 s); each checks what the
	// call returns and the state after it.
	type step struct {
		name  string
		do    func(b *Breaker) bool
		want  bool
		state BreakerState
		now   int // seconds after t0 for State
	}
	allow := func(s int) func(*Breaker) bool { return func(b *Breaker) bool { return b.Allow(at(s)) } }
	fail := func(s int) func(*Breaker) bool { return func(b *Breaker) bool { return b.Failure(at(s)) } }
	succeed := func(b *Breaker) bool { b.Success(); return false }
	tests := []struct {
		name  string
		steps []step
	}{
		{"closed lets everything through and a success resets the count", []step{
			{"allow", allow(0), true, BreakerClosed, 0},
			{"fail 1", fail(0), false, BreakerClosed, 0},
			{"fail 2", fail(1), false, BreakerClosed, 1},
			{"success", succeed, false, BreakerClosed, 1},
			{"fail 1 again", fail(2), false, BreakerClosed, 2},
			{"fail 2 again", fail(2), false, BreakerClosed, 2},
			{"allow", allow(2), true, BreakerClosed, 2},
		}},
		{"opens at the third consecutive failure and refuses until the cool-down ends", []step{
			{"fail 1", fail(0), false, BreakerClosed, 0},
			{"fail 2", fail(0), false, BreakerClosed, 0},
			{"fail 3 opens", fail(1), true, BreakerOpen, 1},
			{"refused", allow(2), false, BreakerOpen, 2},
			{"a late failure keeps the cool-down", fail(5), false, BreakerOpen, 10},
			{"still refused just before", allow(10), false, BreakerHalfOpen, 11},
		}},
		{"half-open: one trial, a success closes", []step{
			{"fail 1", fail(0), false, BreakerClosed, 0},
			{"fail 2", fail(0), false, BreakerClosed, 0},
			{"fail 3 opens", fail(0), true, BreakerOpen, 0},
			{"cool-down over: shows half-open", allow(9), false, BreakerHalfOpen, 10},
			{"the trial", allow(10), true, BreakerHalfOpen, 10},
			{"no second trial meanwhile", allow(11), false, BreakerHalfOpen, 11},
			{"trial succeeds", succeed, false, BreakerClosed, 11},
			{"closed again", allow(11), true, BreakerClosed, 11},
		}},
		{"half-open: a failed trial re-opens at once", []step{
			{"fail 1", fail(0), false, BreakerClosed, 0},
			{"fail 2", fail(0), false, BreakerClosed, 0},
			{"fail 3 opens", fail(0), true, BreakerOpen, 0},
			{"the trial", allow(10), true, BreakerHalfOpen, 10},
			{"trial fails", fail(11), true, BreakerOpen, 11},
			{"refused for a new cool-down", allow(20), false, BreakerOpen, 20},
			{"next trial", allow(21), true, BreakerHalfOpen, 21},
		}},
		{"a trial that never reports is given up after a cool-down", []step{
			{"fail 1", fail(0), false, BreakerClosed, 0},
			{"fail 2", fail(0), false, BreakerClosed, 0},
			{"fail 3 opens", fail(0), true, BreakerOpen, 0},
			{"the trial", allow(10), true, BreakerHalfOpen, 10},
			{"lost trial still pending", allow(19), false, BreakerHalfOpen, 19},
			{"new trial", allow(20), true, BreakerHalfOpen, 20},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBreaker(BreakerPolicy{Failures: 3, Cooldown: 10 * time.Second})
			for _, s := range tt.steps {
				if got := s.do(b); got != s.want {
					t.Fatalf("%s: returned %v, want %v", s.name, got, s.want)
				}
				if got := b.State(at(s.now)); got != s.state {
					t.Fatalf("%s: state %s, want %s", s.name, got, s.state)
				}
			}
		})
	}
}

func TestBreakerDefaults(t *testing.T) {
	b := NewBreaker(BreakerPolicy{})
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for i := 1; i < DefaultBreakerFailures; i++ {
		if b.Failure(now) {
			t.Fatalf("opened after %d failures", i)
		}
	}
	if !b.Failure(now) {
		t.Fatalf("not open after %d failures", DefaultBreakerFailures)
	}
	if b.Allow(now.Add(DefaultBreakerCooldown - time.Millisecond)) {
		t.Fatal("allowed before the default cool-down ended")
	}
	if !b.Allow(now.Add(DefaultBreakerCooldown)) {
		t.Fatal("no trial after the default cool-down")
	}
}

func TestBreakersFor(t *testing.T) {
	bs := NewBreakers([]string{"a", "b"}, map[string]BreakerPolicy{"a": {Failures: 1}})
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	if !bs.For("a").Failure(now) {
		t.Fatal("a's policy (1 failure) not applied")
	}
	if bs.For("b").State(now) != BreakerClosed || bs.For("x").State(now) != BreakerClosed {
		t.Fatal("one provider's failure opened another's breaker")
	}
	if bs.For("a") != bs.For("a") {
		t.Fatal("For returns a new breaker for a configured provider")
	}
}
