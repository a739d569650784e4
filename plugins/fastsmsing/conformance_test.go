package main

import (
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsgw/smsgw/integration-tests/providersim"
	"github.com/smsgw/smsgw/plugins/sdk"
	"github.com/smsgw/smsgw/plugins/sdk/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testKey = "test-key"

// newSim serves a providersim for the test.
func newSim(t *testing.T) (*providersim.Sim, *httptest.Server) {
	t.Helper()
	sim := providersim.New(providersim.Options{APIKey: testKey})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	return sim, srv
}

func testConfig(t *testing.T, baseURL string, extra map[string]any) json.RawMessage {
	t.Helper()
	cfg := map[string]any{"base_url": baseURL, "api_key": testKey, "poll_interval": "10ms", "timeout": "5s"}
	for k, v := range extra {
		cfg[k] = v
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestConformance(t *testing.T) {
	_, srv := newSim(t)
	bad := func(s string) json.RawMessage { return json.RawMessage(s) }
	providertest.Run(t, providertest.Suite{
		New: func() sdk.Provider {
			p := newProvider(hclog.NewNullLogger())
			p.transport = srv.Client().Transport
			return p
		},
		Config: testConfig(t, srv.URL, map[string]any{"cursor_file": filepath.Join(t.TempDir(), "cursor.json")}),
		BadConfigs: []json.RawMessage{
			bad(`{}`),
			bad(`{"base_url": "` + srv.URL + `"}`),
			bad(`{"api_key": "k"}`),
			bad(`{"base_url": "ftp://x", "api_key": "k"}`),
			bad(`{"base_url": "` + srv.URL + `", "api_key": "k", "max_batch": 0}`),
			bad(`{"base_url": "` + srv.URL + `", "api_key": "k", "poll_interval": "0s"}`),
			bad(`{"base_url": "` + srv.URL + `", "api_key": "k", "timeout": 10}`),
			bad(`{"base_url": "` + srv.URL + `", "api_key": "k", "unknown": 1}`),
			bad(`{"base_url": "` + srv.URL + `", "api_key": "k", "cursor_file": "` + filepath.Join(t.TempDir(), "missing", "c.json") + `"}`),
		},
		Deliverable: "+15551234567",
		Failing:     "12345",
	})
}
