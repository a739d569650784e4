package postgres_test

import (
	"testing"

	"github.com/smsgw/smsgw/ports"
	"github.com/smsgw/smsgw/ports/porttest"
)

func TestStoreContract(t *testing.T) {
	porttest.RunStore(t, func(t *testing.T) ports.Store { return newStore(t) })
}
