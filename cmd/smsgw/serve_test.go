package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsgw/smsgw/adapters/httpapi"
)

// The compat block mounts its dialects: a request each answers without the core (a 404 of
// fastsmsing, a 405 of smsapp, dhos's /running) shows which are served.
func TestDialectsMounted(t *testing.T) {
	tests := []struct {
		name                           string
		cfg                            Config
		fastsmsingOn, smsappOn, dhosOn bool
	}{
		{"none", Config{}, false, false, false},
		{"fastsmsing", Config{FastSMSing: &FastSMSingConfig{From: "FASTSMS"}}, true, false, false},
		{"both", Config{FastSMSing: &FastSMSingConfig{From: "FASTSMS"}, SMSApp: &SMSAppConfig{StopTTL: time.Hour}}, true, true, false},
		{"dhos", Config{DHOS: &DHOSConfig{Provider: "tw", CallbackURL: "https://sms.example.com/dhos/v1/sms/callback", CountryCode: "GB"}}, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := newDialects(&tt.cfg, nil, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			h := httpapi.New(httpapi.Options{Dialects: ds})
			answer := func(method, path string) string {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
				return fmt.Sprint(rec.Code, " ", strings.TrimSpace(rec.Body.String()))
			}
			if got, want := answer(http.MethodGet, "/sms"), `404 {"message":"not found"}`; (got == want) != tt.fastsmsingOn {
				t.Errorf("GET /sms: %s (fastsmsing on: %v)", got, tt.fastsmsingOn)
			}
			if got := answer(http.MethodGet, "/outbound/sms"); strings.HasPrefix(got, "405 ") != tt.smsappOn {
				t.Errorf("GET /outbound/sms: %s (smsapp on: %v)", got, tt.smsappOn)
			}
			if got, want := answer(http.MethodGet, "/running"), `200 {"running":true}`; (got == want) != tt.dhosOn {
				t.Errorf("GET /running: %s (dhos on: %v)", got, tt.dhosOn)
			}
		})
	}
}
