package gateway

import (
	"fmt"
	"time"

	"github.com/smsgw/smsgw/core/proxy"
	"github.com/smsgw/smsgw/ports"
)

// ErrNoProxyNumber: no pool number is free for a new session under the allocation mode
// (409 no_proxy_number_available).
var ErrNoProxyNumber = fmt.Errorf("no proxy number available: %w", ports.ErrConflict)

// ProxyPool is an account's pool with its use (GET /v1/proxy/numbers).
type ProxyPool struct {
	Numbers                    []proxy.Usage
	PoolSize, InUse, Available int
}

// ProxySessionCommand opens a session.
type ProxySessionCommand struct {
	AccountID, ParticipantA, ParticipantB string
	TTL                                   time.Duration
}
