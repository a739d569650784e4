package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	secret = []byte("whsec-test")
	body   = []byte(`{"id":"evt_1","type":"message.status","created_at":"2026-11-20T10:00:00.000Z","data":{}}`)
	at     = time.Unix(1795000000, 0)
)

// hexMAC is the signature computed independently of mac.
func hexMAC(key []byte, msg string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return hex.EncodeToString(h.Sum(nil))
}

func TestSign(t *testing.T) {
	want := "t=1795000000,v1=" + hexMAC(secret, "1795000000."+string(body))
	if got := Sign(secret, at, body); got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	good := Sign(secret, at, body)
	goodSig := strings.TrimPrefix(good, "t=1795000000,v1=")
	old := hexMAC([]byte("old-secret"), "1795000000."+string(body))
	tests := []struct {
		name      string
		secret    []byte
		header    string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"valid", secret, good, body, at, time.Minute, nil},
		{"valid within tolerance after", secret, good, body, at.Add(59 * time.Second), time.Minute, nil},
		{"valid within tolerance before (clock skew)", secret, good, body, at.Add(-59 * time.Second), time.Minute, nil},
		{"default tolerance", secret, good, body, at.Add(4 * time.Minute), 0, nil},
		{"spaces around parts", secret, " t=1795000000 , v1=" + goodSig + " ", body, at, time.Minute, nil},
		{"rotation: second v1 matches", secret, "t=1795000000,v1=" + old + ",v1=" + goodSig, body, at, time.Minute, nil},
		{"rotation: first v1 matches", secret, "t=1795000000,v1=" + goodSig + ",v1=" + old, body, at, time.Minute, nil},
		{"unknown scheme ignored", secret, "t=1795000000,v0=abc,v1=" + goodSig, body, at, time.Minute, nil},
		{"order does not matter", secret, "v1=" + goodSig + ",t=1795000000", body, at, time.Minute, nil},
		{"empty header", secret, "", body, at, time.Minute, ErrNoSignature},
		{"blank header", secret, "  ", body, at, time.Minute, ErrNoSignature},
		{"no t", secret, "v1=" + goodSig, body, at, time.Minute, ErrMalformed},
		{"no v1", secret, "t=1795000000", body, at, time.Minute, ErrMalformed},
		{"two t", secret, "t=1795000000,t=1795000000,v1=" + goodSig, body, at, time.Minute, ErrMalformed},
		{"t not a number", secret, "t=soon,v1=" + goodSig, body, at, time.Minute, ErrMalformed},
		{"t signed", secret, "t=+1795000000,v1=" + goodSig, body, at, time.Minute, ErrMalformed},
		{"t empty", secret, "t=,v1=" + goodSig, body, at, time.Minute, ErrMalformed},
		{"part without =", secret, "t=1795000000,v1" + goodSig, body, at, time.Minute, ErrMalformed},
		{"too old (replay)", secret, good, body, at.Add(61 * time.Second), time.Minute, ErrTooOld},
		{"too far ahead", secret, good, body, at.Add(-61 * time.Second), time.Minute, ErrTooOld},
		{"too old before the signature is checked", []byte("wrong"), good, body, at.Add(time.Hour), time.Minute, ErrTooOld},
		{"wrong secret", []byte("wrong"), good, body, at, time.Minute, ErrBadSignature},
		{"old secret only", secret, "t=1795000000,v1=" + old, body, at, time.Minute, ErrBadSignature},
		{"body changed", secret, good, append([]byte(nil), append(body, ' ')...), at, time.Minute, ErrBadSignature},
		{"t changed", secret, "t=1795000001,v1=" + goodSig, body, at, time.Minute, ErrBadSignature},
		{"signature truncated", secret, "t=1795000000,v1=" + goodSig[:62], body, at, time.Minute, ErrBadSignature},
		{"signature not hex", secret, "t=1795000000,v1=zz" + goodSig[2:], body, at, time.Minute, ErrBadSignature},
		{"signature upper case hex", secret, "t=1795000000,v1=" + strings.ToUpper(goodSig), body, at, time.Minute, nil},
		{"empty v1", secret, "t=1795000000,v1=", body, at, time.Minute, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.secret, tt.header, tt.body, tt.now, tt.tolerance)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify: %v, want %v", err, tt.want)
			}
		})
	}
}

// FuzzVerify feeds arbitrary headers to the parser: Verify must never panic, and it must
// accept a header only when that header carries the signature Sign makes for its t.
func FuzzVerify(f *testing.F) {
	good := Sign(secret, at, body)
	for _, s := range []string{good, "", "t=", "v1=", "t=1,v1=00", ",,,", "t=1795000000,v1=" + strings.Repeat("a", 64),
		"t=-1,v1=x", "t=99999999999999999999,v1=aa", good + ",v1=00", "=,=", "t=1795000000,t=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		err := Verify(secret, header, body, at, time.Minute)
		if err != nil {
			for _, want := range []error{ErrNoSignature, ErrMalformed, ErrTooOld, ErrBadSignature} {
				if errors.Is(err, want) {
					return
				}
			}
			t.Fatalf("Verify(%q) = %v, not one of the sentinel errors", header, err)
		}
		ts, sigs, perr := parse(header)
		if perr != nil {
			t.Fatalf("Verify accepted %q that parse rejects: %v", header, perr)
		}
		want := hexMAC(secret, ts+"."+string(body))
		for _, s := range sigs {
			if strings.EqualFold(s, want) {
				return
			}
		}
		t.Fatalf("Verify accepted %q without the valid signature %s", header, want)
	})
}
