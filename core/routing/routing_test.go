package routing

import (
	"errors"
	"slices"
	"testing"
)

func TestRoute(t *testing.T) {
	rules := []Rule{
		{Name: "us-marketing", Providers: []string{"fast", "twilio"}, Match: Match{ToPrefix: "+1", Tags: map[string]string{"type": "marketing"}}},
		{Name: "us", Providers: []string{"twilio", "fast"}, Match: Match{ToPrefix: "+1"}},
		{Name: "brand", Providers: []string{"flow"}, Match: Match{FromPrefix: "ACME"}},
	}
	r, err := New([]string{"loop", "twilio", "fast", "flow"}, rules)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		req  Request
		want []string
		err  error
	}{
		{"first matching rule", Request{To: "+14155550100", From: "+4470000000"}, []string{"twilio", "fast"}, nil},
		{"tag condition", Request{To: "+14155550100", Tags: map[string]string{"type": "marketing"}}, []string{"fast", "twilio"}, nil},
		{"tag mismatch falls through", Request{To: "+14155550100", Tags: map[string]string{"type": "otp"}}, []string{"twilio", "fast"}, nil},
		{"from prefix", Request{To: "+447000000001", From: "ACME Ltd"}, []string{"flow"}, nil},
		{"no rule matches: first provider", Request{To: "+447000000001", From: "+447000000002"}, []string{"loop"}, nil},
		{"explicit provider wins", Request{To: "+14155550100", Provider: "flow"}, []string{"flow"}, nil},
		{"unknown explicit provider", Request{To: "+14155550100", Provider: "nope"}, nil, ErrUnknownProvider},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Route(tt.req)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name      string
		providers []string
		rules     []Rule
	}{
		{"no providers", nil, nil},
		{"unknown provider in rule", []string{"a"}, []Rule{{Name: "r", Providers: []string{"b"}}}},
		{"empty rule", []string{"a"}, []Rule{{Name: "r"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.providers, tt.rules); err == nil {
				t.Fatal("New accepted a bad configuration")
			}
		})
	}
}

func TestCatchAllRule(t *testing.T) {
	r, err := New([]string{"a", "b"}, []Rule{{Name: "all", Providers: []string{"b", "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.Route(Request{To: "+33100000000"})
	if !slices.Equal(got, []string{"b", "a"}) {
		t.Fatalf("got %v", got)
	}
}
