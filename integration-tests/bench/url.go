package main

import (
	"fmt"
	"net/url"
	"strings"
)

// withDatabase returns the Postgres URL with its database replaced.
func withDatabase(serverURL, name string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", fmt.Errorf("parse database url: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
