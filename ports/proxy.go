package ports

import (
	"context"
	"time"

	"github.com/smsgw/smsgw/core/proxy"
)

// ProxyTx is what the proxy-session use cases read and write inside their transactions
// (API.md §3). Numbers are E.164 strings as given; the stores compare them exactly.
type ProxyTx interface {
	// AddProxyNumber puts n into its account's pool. A number is in at most one pool: when it
	// is already in one (any account's) the result is ErrConflict, and the transaction can
	// go on.
	AddProxyNumber(ctx context.Context, n proxy.Number) error
	// LockProxyPool returns the account's pool numbers in number order, each with the
	// participants of its sessions open at now, and locks the account's pool until the
	// transaction ends: allocations and removals of one account's numbers run one at a time,
	// whatever replica they run on, so two of them can never both see a number as free.
	LockProxyPool(ctx context.Context, accountID string, now time.Time) ([]proxy.Usage, error)
	// RemoveProxyNumber deletes the number from the account's pool; its sessions stay (closed
	// ones keep naming it). ErrNotFound when the account has no such number. Callers check
	// under LockProxyPool that no open session uses it.
	RemoveProxyNumber(ctx context.Context, accountID, number string) error
	// GetProxyNumber returns the pool number, whatever account it belongs to, or ErrNotFound.
	GetProxyNumber(ctx context.Context, number string) (proxy.Number, error)
	// InsertProxySession stores a new session; one failing s.Validate wraps ErrInvalid, an
	// existing id is ErrConflict.
	InsertProxySession(ctx context.Context, s proxy.Session) error
	// CloseProxySession closes the account's session at `at` and returns it as stored, with
	// closed reporting whether this call closed it. A session that was closed or had expired
	// already is returned unchanged (closed false). ErrNotFound when the account has no such
	// session.
	CloseProxySession(ctx context.Context, accountID, id string, at time.Time) (s proxy.Session, closed bool, err error)
	// FindOpenProxySession returns the session open at now on proxyNumber that participant
	// is in (as either participant), or ErrNotFound. Allocation never gives a participant
	// one number twice at a time, so there is at most one; should there be several (a pool
	// changed by hand), the newest wins.
	FindOpenProxySession(ctx context.Context, proxyNumber, participant string, now time.Time) (proxy.Session, error)
}

// ProxySessionQuery selects an account's sessions: the open ones at the time of the list, or
// the closed ones (closed or expired), newest first by (created_at, id).
type ProxySessionQuery struct {
	Closed bool
	Limit  int     // 1..500
	After  *Cursor // continue after this position (exclusive)
}

// ProxySessionPage is one page of sessions, newest first.
type ProxySessionPage struct {
	Items []proxy.Session
	Next  *Cursor // nil on the last page
}

// ProxyStore reads and sweeps proxy numbers and sessions outside a transaction.
type ProxyStore interface {
	// ListProxyNumbers returns the account's pool in number order, each number with the
	// participants of its sessions open at now.
	ListProxyNumbers(ctx context.Context, accountID string, now time.Time) ([]proxy.Usage, error)
	// GetProxySession returns the account's session, or ErrNotFound (also for another
	// account's id).
	GetProxySession(ctx context.Context, accountID, id string) (proxy.Session, error)
	// ListProxySessions lists the account's sessions as q says, judged at now.
	ListProxySessions(ctx context.Context, accountID string, q ProxySessionQuery, now time.Time) (ProxySessionPage, error)
	// CloseExpiredProxySessions records the sessions expired at now and not closed as closed
	// at their expiry, and returns how many, for a periodic sweep. Reads treat them as
	// closed meanwhile.
	CloseExpiredProxySessions(ctx context.Context, now time.Time) (int, error)
}
