package postgres

import "testing"

func TestWithBinaryParameters(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://u@h:5432/db?sslmode=disable", "postgres://u@h:5432/db?binary_parameters=yes&sslmode=disable"},
		{"postgresql://h/db", "postgresql://h/db?binary_parameters=yes"},
		{"postgres://h/db?binary_parameters=no", "postgres://h/db?binary_parameters=no"},
		{"host=h dbname=db sslmode=disable", "host=h dbname=db sslmode=disable binary_parameters=yes"},
		{"host=h binary_parameters=no", "host=h binary_parameters=no"},
	}
	for _, tt := range tests {
		if got := withBinaryParameters(tt.in); got != tt.want {
			t.Errorf("withBinaryParameters(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
