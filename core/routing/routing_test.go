package routing

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	rules := []Rule{
		{Name: "us-marketing", Providers: []string{"fast", "twilio"}, Match: Match{ToPrefix: "+1", Tags: map[string]string{"type": "marketing"}}},
		{Name: "us", Providers: []string{"twilio", "fast"}, Match: Match{ToPrefix: "+1"}},
		{Name: "brand", Providers: []string{"flow"}, Match: Match{FromPrefix: "ACME"}},
		{Name: "uk-otp", Providers: []string{"flow", "fast"}, Match: Match{ToPrefix: "+44", FromPrefix: "+44", Tags: map[string]string{"type": "otp", "tier": ""}}},
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
		{"every condition of a rule holds", Request{To: "+447000000001", From: "+447000000002", Tags: map[string]string{"type": "otp", "tier": "", "x": "y"}}, []string{"flow", "fast"}, nil},
		{"one condition of a rule fails", Request{To: "+447000000001", From: "+337000000002", Tags: map[string]string{"type": "otp", "tier": ""}}, []string{"loop"}, nil},
		{"an empty tag value needs the tag", Request{To: "+447000000001", From: "+447000000002", Tags: map[string]string{"type": "otp"}}, []string{"loop"}, nil},
		{"tag values compare exactly", Request{To: "+14155550100", Tags: map[string]string{"type": "Marketing"}}, []string{"twilio", "fast"}, nil},
		{"prefixes compare exactly", Request{To: "14155550100"}, []string{"loop"}, nil},
		{"explicit provider outside every rule", Request{To: "+14155550100", Provider: "loop"}, []string{"loop"}, nil},
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
		{"provider twice in a rule", []string{"a", "b"}, []Rule{{Name: "r", Providers: []string{"a", "b", "a"}}}},
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

func TestNext(t *testing.T) {
	tests := []struct {
		name    string
		route   []string
		current string
		want    string
		ok      bool
	}{
		{"primary to secondary", []string{"a", "b", "c"}, "a", "b", true},
		{"secondary to third", []string{"a", "b", "c"}, "b", "c", true},
		{"last has none", []string{"a", "b", "c"}, "c", "", false},
		{"single provider", []string{"a"}, "a", "", false},
		{"not in the route", []string{"a", "b"}, "x", "", false},
		{"no route", nil, "a", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Next(tt.route, tt.current)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("Next(%v, %q) = %q, %v; want %q, %v", tt.route, tt.current, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		name  string
		rules []Rule
		want  []string // name:providers
	}{
		{"no rules: the default", nil, []string{"default:a"}},
		{"rules then the default", []Rule{{Name: "us", Providers: []string{"b", "a"}, Match: Match{ToPrefix: "+1"}}}, []string{"us:b,a", "default:a"}},
		{"a catch-all rule hides the default and what follows", []Rule{
			{Name: "us", Providers: []string{"b"}, Match: Match{ToPrefix: "+1"}},
			{Name: "all", Providers: []string{"c", "b"}},
			{Name: "never", Providers: []string{"a"}, Match: Match{ToPrefix: "+44"}},
		}, []string{"us:b", "all:c,b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New([]string{"a", "b", "c"}, tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, rt := range r.Routes() {
				got = append(got, rt.Name+":"+strings.Join(rt.Providers, ","))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("routes %v, want %v", got, tt.want)
			}
		})
	}
}
