// Package signature computes and checks the X-Twilio-Signature of a Twilio-style webhook
// (API.md §9): base64(HMAC-SHA1(auth token, the full URL followed by every POST parameter's
// name and value, sorted by name)). The twilio plugin checks it before it reads anything
// else of a request. It depends on the standard library only.
package signature

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // Twilio's scheme is HMAC-SHA1; HMAC keeps it sound
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
)

// Compute returns the signature of a request to rawURL with the POST parameters params.
// Parameters are taken sorted by name and, for a repeated name, its distinct values
// sorted, as Twilio's own helper libraries do; every parameter counts, known or not.
func Compute(authToken, rawURL string, params url.Values) string {
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(rawURL))
	for _, name := range slices.Sorted(maps.Keys(params)) {
		values := slices.Clone(params[name])
		slices.Sort(values)
		for _, v := range slices.Compact(values) {
			mac.Write([]byte(name))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Valid reports whether signature is the one of the request, comparing in constant time.
// Twilio signs the URL as configured, which may or may not spell out the scheme's default
// port (":443" for https, ":80" for http), while the gateway's public_url may say it the
// other way: both forms are accepted. An empty signature is never valid.
func Valid(authToken, rawURL string, params url.Values, signature string) bool {
	if signature == "" {
		return false
	}
	ok := false
	for _, u := range urlForms(rawURL) {
		// Every form is checked, so the time taken does not depend on which one matched.
		if hmac.Equal([]byte(Compute(authToken, u, params)), []byte(signature)) {
			ok = true
		}
	}
	return ok
}

// urlForms is rawURL as given and with its default port added or removed.
func urlForms(rawURL string) []string {
	forms := []string{rawURL}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return forms
	}
	def := map[string]string{"https": "443", "http": "80"}[u.Scheme]
	if def == "" {
		return forms
	}
	switch u.Port() {
	case "":
		v := *u
		v.Host = u.Host + ":" + def
		forms = append(forms, v.String())
	case def:
		v := *u
		v.Host = u.Hostname()
		forms = append(forms, v.String())
	}
	return forms
}
