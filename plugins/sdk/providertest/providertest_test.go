package providertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// minimal implements only the mandatory interface: the suite must accept it and see every
// optional capability as unimplemented.
type minimal struct{ n int }

func (*minimal) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "minimal", Version: "0.0.1", ProtocolVersion: sdk.ProtocolVersion, Capabilities: sdk.Capabilities{MaxBatch: 3}}, nil
}

func (*minimal) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	var cfg map[string]any
	if err := json.Unmarshal(req.Config, &cfg); err != nil {
		return &sdk.ConfigError{Field: "config", Message: err.Error()}
	}
	for k := range cfg {
		return &sdk.ConfigError{Field: k, Message: "unknown key"}
	}
	return nil
}

func (m *minimal) Send(_ context.Context, msgs []sdk.OutboundMessage) ([]sdk.SendResult, error) {
	out := make([]sdk.SendResult, len(msgs))
	for i, msg := range msgs {
		if strings.HasPrefix(msg.To, "+1999") {
			out[i].Err = sdk.Errorf(sdk.ClassRejected, "blocked number %s", msg.To)
			continue
		}
		m.n++
		out[i] = sdk.SendResult{ProviderMessageID: fmt.Sprintf("min-%d", m.n), Status: sdk.StatusQueued}
	}
	return out, nil
}

func TestMinimalProvider(t *testing.T) {
	providertest.Run(t, providertest.Suite{
		New:         func() sdk.Provider { return &minimal{} },
		Config:      json.RawMessage(`{}`),
		BadConfigs:  []json.RawMessage{json.RawMessage(`{"nope": 1}`), json.RawMessage(`[`)},
		Deliverable: "+15551230000",
		Failing:     "+19990000000",
	})
}
