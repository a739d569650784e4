// Package routing turns the config's route rules into the ordered provider list (primary
// first, then failover order) for a message.
package routing

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownProvider is returned when a send names a provider that is not configured.
var ErrUnknownProvider = errors.New("unknown provider")

// Match holds the conditions of a rule; all given conditions must hold. An empty Match
// matches every message.
type Match struct {
	ToPrefix   string
	FromPrefix string
	Tags       map[string]string
}

// Rule is one `route` block.
type Rule struct {
	Name      string
	Providers []string
	Match     Match
}

// Request is what routing looks at.
type Request struct {
	From     string
	To       string
	Tags     map[string]string
	Provider string // explicit provider: wins over every rule
}

// Router picks provider lists. The zero value routes nothing.
type Router struct {
	rules     []Rule
	providers []string // all configured providers, in config order
}

// New checks the rules against the configured providers and builds a Router. Rules are
// tried in order; without any rule the first provider is the default.
func New(providers []string, rules []Rule) (Router, error) {
	if len(providers) == 0 {
		return Router{}, errors.New("no provider configured")
	}
	known := make(map[string]bool, len(providers))
	for _, p := range providers {
		known[p] = true
	}
	for _, r := range rules {
		if len(r.Providers) == 0 {
			return Router{}, fmt.Errorf("route %q: no providers", r.Name)
		}
		seen := make(map[string]bool, len(r.Providers))
		for _, p := range r.Providers {
			if !known[p] {
				return Router{}, fmt.Errorf("route %q: %w %q", r.Name, ErrUnknownProvider, p)
			}
			if seen[p] {
				// Failover walks the list in order: a provider twice would be retried
				// after the ones between, which no one means.
				return Router{}, fmt.Errorf("route %q: provider %q is listed twice", r.Name, p)
			}
			seen[p] = true
		}
	}
	return Router{rules: rules, providers: providers}, nil
}

// Known reports whether the provider is configured.
func (r Router) Known(provider string) bool {
	for _, p := range r.providers {
		if p == provider {
			return true
		}
	}
	return false
}

// Routes returns the routes a message can take without naming a provider: the rules in
// order, then "default" (the first provider) unless a rule matches everything.
func (r Router) Routes() []Rule {
	out := make([]Rule, 0, len(r.rules)+1)
	for _, rule := range r.rules {
		out = append(out, Rule{Name: rule.Name, Providers: append([]string(nil), rule.Providers...), Match: rule.Match})
		if rule.Match.matchesAll() {
			return out
		}
	}
	if len(r.providers) > 0 {
		out = append(out, Rule{Name: "default", Providers: []string{r.providers[0]}})
	}
	return out
}

func (m Match) matchesAll() bool {
	return m.ToPrefix == "" && m.FromPrefix == "" && len(m.Tags) == 0
}

// Providers returns every configured provider in config order.
func (r Router) Providers() []string { return append([]string(nil), r.providers...) }

// Route returns the ordered provider list for a message.
func (r Router) Route(req Request) ([]string, error) {
	if req.Provider != "" {
		if !r.Known(req.Provider) {
			return nil, fmt.Errorf("route: %w %q", ErrUnknownProvider, req.Provider)
		}
		return []string{req.Provider}, nil
	}
	for _, rule := range r.rules {
		if rule.Match.holds(req) {
			return append([]string(nil), rule.Providers...), nil
		}
	}
	if len(r.providers) == 0 {
		return nil, errors.New("route: no provider configured")
	}
	return []string{r.providers[0]}, nil
}

func (m Match) holds(req Request) bool {
	if !strings.HasPrefix(req.To, m.ToPrefix) || !strings.HasPrefix(req.From, m.FromPrefix) {
		return false
	}
	for k, v := range m.Tags {
		if got, ok := req.Tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Next is the provider a message fails over to from current: the one after it in the
// message's route. false when current is the last (or not in the route).
func Next(route []string, current string) (string, bool) {
	for i, p := range route {
		if p == current && i+1 < len(route) {
			return route[i+1], true
		}
	}
	return "", false
}
