package proxy

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func usage(number string, participants ...string) Usage {
	return Usage{Number: Number{Number: number, Provider: "fr", AccountID: "acc"}, Participants: participants}
}

func TestAllocate(t *testing.T) {
	const a, b, c = "+14155550001", "+14155550002", "+14155550003"
	tests := []struct {
		name string
		mode Allocation
		pool []Usage
		want string // "" = none
	}{
		{"empty pool", Shared, nil, ""},
		{"shared: a free number", Shared, []Usage{usage("+1800")}, "+1800"},
		{"shared: a number others use", Shared, []Usage{usage("+1800", c, "+19")}, "+1800"},
		{"shared: a holds it", Shared, []Usage{usage("+1800", a, c)}, ""},
		{"shared: b holds it", Shared, []Usage{usage("+1800", c, b)}, ""},
		{"shared: the pair's own session holds it", Shared, []Usage{usage("+1800", a, b)}, ""},
		{"shared: skips the held one", Shared, []Usage{usage("+1800", a, c), usage("+1801")}, "+1801"},
		{"shared: the least used first", Shared, []Usage{usage("+1800", c, "+19"), usage("+1801")}, "+1801"},
		{"shared: then the lowest number", Shared, []Usage{usage("+1802"), usage("+1801"), usage("+1803")}, "+1801"},
		{"exclusive: a free number", Exclusive, []Usage{usage("+1800")}, "+1800"},
		{"exclusive: used by others", Exclusive, []Usage{usage("+1800", c, "+19")}, ""},
		{"exclusive: the free one", Exclusive, []Usage{usage("+1800", c, "+19"), usage("+1801")}, "+1801"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := Allocate(tt.mode, tt.pool, a, b)
			if got := n.Number; ok != (tt.want != "") || got != tt.want {
				t.Errorf("Allocate = %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	s := &Session{ID: "s1", ProxyNumber: "+1800", ParticipantA: "+1A", ParticipantB: "+1B"}
	tests := []struct {
		name      string
		s         *Session
		from      string
		keyword   bool
		noSession string
		want      Decision
	}{
		{"a to b", s, "+1A", false, "none", Decision{Relay, "+1B"}},
		{"b to a", s, "+1B", false, "none", Decision{Relay, "+1A"}},
		{"a stranger", s, "+1C", false, "none", Decision{NoSession, "+1C"}},
		{"no session", nil, "+1A", false, "none", Decision{NoSession, "+1A"}},
		{"no session, no message", nil, "+1A", false, "", Decision{Action: Nothing}},
		{"a keyword is never relayed", s, "+1A", true, "none", Decision{Action: Nothing}},
		{"nor answered with no session", nil, "+1A", true, "none", Decision{Action: Nothing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.s, tt.from, tt.keyword, tt.noSession); got != tt.want {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSessionOpen(t *testing.T) {
	later, closed := t0.Add(time.Hour), t0.Add(-time.Minute)
	tests := []struct {
		name string
		s    Session
		at   time.Time
		want string
	}{
		{"no expiry", Session{}, t0, StatusOpen},
		{"before expiry", Session{ExpiresAt: &later}, t0, StatusOpen},
		{"at expiry", Session{ExpiresAt: &later}, later, StatusClosed},
		{"after expiry", Session{ExpiresAt: &later}, later.Add(time.Second), StatusClosed},
		{"closed", Session{ClosedAt: &closed}, t0, StatusClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.Status(tt.at); got != tt.want || tt.s.Open(tt.at) != (tt.want == StatusOpen) {
				t.Errorf("Status = %s, want %s", got, tt.want)
			}
			// As of the same time, the status shows in ClosedAt alone.
			if at := tt.s.At(tt.at); (at.ClosedAt == nil) != (tt.want == StatusOpen) || at.Status(tt.at) != tt.want {
				t.Errorf("At(%v).ClosedAt = %v, want closed %v", tt.at, at.ClosedAt, tt.want == StatusClosed)
			}
		})
	}
}

func TestSessionValidate(t *testing.T) {
	exp, early := t0.Add(time.Hour), t0
	ok := Session{ID: "s", AccountID: "acc", ProxyNumber: "+1800", ParticipantA: "+1A", ParticipantB: "+1B", CreatedAt: t0}
	tests := []struct {
		name  string
		tweak func(*Session)
		valid bool
	}{
		{"valid", func(*Session) {}, true},
		{"with expiry", func(s *Session) { s.ExpiresAt = &exp }, true},
		{"no id", func(s *Session) { s.ID = "" }, false},
		{"no proxy number", func(s *Session) { s.ProxyNumber = "" }, false},
		{"no participant", func(s *Session) { s.ParticipantB = "" }, false},
		{"the same participant twice", func(s *Session) { s.ParticipantB = s.ParticipantA }, false},
		{"expired at creation", func(s *Session) { s.ExpiresAt = &early }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			tt.tweak(&s)
			if err := s.Validate(); (err == nil) != tt.valid {
				t.Errorf("Validate = %v, want valid %v", err, tt.valid)
			}
		})
	}
}

func TestSystemText(t *testing.T) {
	if got := SystemText("Acme Corp", "hello"); got != "[ACME CORP]: hello" {
		t.Errorf("SystemText = %q", got)
	}
	if got := SystemText("", "hello"); got != "hello" {
		t.Errorf("SystemText without an org = %q", got)
	}
}
