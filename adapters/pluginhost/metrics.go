package pluginhost

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	outcomeSent   = "sent"
	outcomeFailed = "failed"
)

type metrics struct {
	batches   *prometheus.CounterVec
	messages  *prometheus.CounterVec
	restarts  *prometheus.CounterVec
	healthy   *prometheus.GaugeVec
	batchSize *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_provider_batches_total",
			Help: "Send calls made to provider plugins, by outcome (sent: the call answered; failed: the whole call failed).",
		}, []string{"provider", "outcome"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_provider_messages_total",
			Help: "Messages handed to provider plugins, by outcome.",
		}, []string{"provider", "outcome"}),
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smsgw_provider_restarts_total",
			Help: "Provider plugin processes relaunched after they died.",
		}, []string{"provider"}),
		healthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "smsgw_provider_healthy",
			Help: "1 while the provider's plugin process is up and configured.",
		}, []string{"provider"}),
		batchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "smsgw_provider_batch_size",
			Help:    "Messages per Send call to a provider plugin.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000},
		}, []string{"provider"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.batches, err = register(reg, m.batches); err != nil {
		return nil, err
	}
	if m.messages, err = register(reg, m.messages); err != nil {
		return nil, err
	}
	if m.restarts, err = register(reg, m.restarts); err != nil {
		return nil, err
	}
	if m.healthy, err = register(reg, m.healthy); err != nil {
		return nil, err
	}
	if m.batchSize, err = register(reg, m.batchSize); err != nil {
		return nil, err
	}
	return m, nil
}

// register reuses an identical collector already on the registry, so that a host restarted
// within one process (tests, a config reload) keeps counting in the same series.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register provider metrics: %w", err)
}

// providerMetrics are the series of one provider, resolved once.
type providerMetrics struct {
	batchesSent, batchesFailed   prometheus.Counter
	messagesSent, messagesFailed prometheus.Counter
	restarts                     prometheus.Counter
	healthy                      prometheus.Gauge
	batchSize                    prometheus.Observer
}

func (m *metrics) forProvider(name string) providerMetrics {
	return providerMetrics{
		batchesSent:    m.batches.WithLabelValues(name, outcomeSent),
		batchesFailed:  m.batches.WithLabelValues(name, outcomeFailed),
		messagesSent:   m.messages.WithLabelValues(name, outcomeSent),
		messagesFailed: m.messages.WithLabelValues(name, outcomeFailed),
		restarts:       m.restarts.WithLabelValues(name),
		healthy:        m.healthy.WithLabelValues(name),
		batchSize:      m.batchSize.WithLabelValues(name),
	}
}
