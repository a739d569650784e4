package postgres

import (
	"fmt"
	"strings"
)

// filter builds the WHERE clause of a list query: conditions are written with ? for their
// values, which become $1, $2 … in the order they are added. Only the conditions a query
// sets go into its text, so each combination of filters is one cached statement.
type filter struct {
	conds []string
	args  []any
}

// where adds a condition and its values.
func (f *filter) where(cond string, vals ...any) {
	for _, v := range vals {
		f.args = append(f.args, v)
		cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(f.args)), 1)
	}
	f.conds = append(f.conds, cond)
}

// sql renders the conditions joined by AND.
func (f *filter) sql() string { return strings.Join(f.conds, " AND ") }

// limit adds n as the next parameter and returns its placeholder.
func (f *filter) limit(n any) string {
	f.args = append(f.args, n)
	return fmt.Sprintf("$%d", len(f.args))
}
