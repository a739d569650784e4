package porttest

import (
	"testing"
	"time"

	"github.com/smsgw/smsgw/core/message"
	"github.com/smsgw/smsgw/ports"
)

// TestRunStoreOnReference runs the suite against MemStore, an in-memory implementation of
// the documented contracts, so the suite itself is checked without a database.
func TestRunStoreOnReference(t *testing.T) {
	RunStore(t, func(*testing.T) ports.Store { return NewMemStore() })
}

func TestViewNormalises(t *testing.T) {
	utc := time.Date(2026, 1, 2, 3, 4, 5, 6_789_000, time.UTC)
	a := message.Message{ID: "x", CreatedAt: utc, Tags: map[string]string{}, Route: []string{}}
	b := message.Message{ID: "x", CreatedAt: utc.Truncate(time.Millisecond).In(time.FixedZone("E", 3600))}
	if !sameView(viewOf(a), viewOf(b)) {
		t.Errorf("views differ:\n%+v\n%+v", viewOf(a), viewOf(b))
	}
	b.Text = "y"
	if sameView(viewOf(a), viewOf(b)) {
		t.Error("views of different texts are equal")
	}
}
