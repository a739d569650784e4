package optout

import (
	"testing"
	"time"
)

func TestPolicyDecide(t *testing.T) {
	replies := Policy{StopReply: "You are unsubscribed.", StartReply: "You are resubscribed.", HelpReply: "Call 555-0100."}
	silent := Policy{}
	tests := []struct {
		name   string
		policy Policy
		kw     Keyword
		want   Decision
	}{
		{"stop with reply", replies, Stop, Decision{Action: Block, Reply: "You are unsubscribed."}},
		{"stop without reply", silent, Stop, Decision{Action: Block}},
		{"start with reply", replies, Start, Decision{Action: Lift, Reply: "You are resubscribed."}},
		{"start without reply", silent, Start, Decision{Action: Lift}},
		{"help with reply", replies, Help, Decision{Action: NoAction, Reply: "Call 555-0100."}},
		{"help without reply", silent, Help, Decision{Action: NoAction}},
		{"none with replies", replies, None, Decision{Action: NoAction}},
		{"none without replies", silent, None, Decision{Action: NoAction}},
		{"unknown keyword value", replies, Keyword("bogus"), Decision{Action: NoAction}},
		{"expiry does not change the decision", Policy{StopReply: "bye", Expiry: time.Hour}, Stop, Decision{Action: Block, Reply: "bye"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.policy.Decide(tt.kw); got != tt.want {
				t.Errorf("Decide(%q) = %+v, want %+v", tt.kw, got, tt.want)
			}
		})
	}
}

func TestPolicyExpiresAt(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		expiry time.Duration
		want   *time.Time // nil: permanent
	}{
		{"permanent", 0, nil},
		{"negative is permanent", -time.Hour, nil},
		{"four hours", 4 * time.Hour, ptr(now.Add(4 * time.Hour))},
		{"thirty days", 30 * 24 * time.Hour, ptr(now.Add(30 * 24 * time.Hour))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Policy{Expiry: tt.expiry}.ExpiresAt(now)
			switch {
			case tt.want == nil && got != nil:
				t.Errorf("ExpiresAt = %v, want nil (permanent)", *got)
			case tt.want != nil && got == nil:
				t.Errorf("ExpiresAt = nil, want %v", *tt.want)
			case tt.want != nil && !got.Equal(*tt.want):
				t.Errorf("ExpiresAt = %v, want %v", *got, *tt.want)
			}
		})
	}
}

func TestActionString(t *testing.T) {
	for a, want := range map[Action]string{NoAction: "none", Block: "block", Lift: "lift", Action(99): "unknown"} {
		if got := a.String(); got != want {
			t.Errorf("Action(%d).String() = %q, want %q", int(a), got, want)
		}
	}
}

func TestSourceValid(t *testing.T) {
	tests := []struct {
		src  Source
		want bool
	}{
		{SourceKeyword, true},
		{SourceSMSApp, true},
		{SourceAPI, true},
		{SourceProvider, true},
		{"", false},
		{"Keyword", false},
		{"sms", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.src), func(t *testing.T) {
			if got := tt.src.Valid(); got != tt.want {
				t.Errorf("Source(%q).Valid() = %v, want %v", tt.src, got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
