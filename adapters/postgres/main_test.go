package postgres_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/smsgw/smsgw/adapters/postgres/pgtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(pgtest.Main(m))
}
