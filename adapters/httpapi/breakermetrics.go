package httpapi

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
)

// breakerCollector exports each provider's circuit-breaker state at scrape time, read from
// the same source as GET /v1/providers, so the two never disagree: one series per provider
// and state, 1 for the state it is in and 0 for the others (the usual shape of an enum).
type breakerCollector struct {
	gw   Gateway
	desc *prometheus.Desc
}

func newBreakerCollector(gw Gateway) *breakerCollector {
	return &breakerCollector{gw: gw, desc: prometheus.NewDesc("smsgw_provider_breaker_state",
		"Circuit-breaker state of each provider: 1 for its current state (closed, open, half_open), 0 for the others.",
		[]string{"provider", "state"}, nil)}
}

func (c *breakerCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *breakerCollector) Collect(ch chan<- prometheus.Metric) {
	states := [...]string{"closed", "open", "half_open"} // API.md §4's words
	for _, p := range c.gw.Providers(context.Background()) {
		for _, s := range states {
			v := 0.0
			if breakerOf(p) == s {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, p.Name, s)
		}
	}
}
