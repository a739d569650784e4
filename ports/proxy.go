package ports

import (
	"context"
	"fmt"
	"time"

	"github.com/smsgw/smsgw/core/proxy"
)

// ProxyTx is what the proxy-session use cases read and write inside their transactions
// (API.md §3). Numbers are E.164 strings as given; the stores compare them exactly
// (bytewise, also in "number order"). Times are stored in UTC, truncated to microseconds,
// and come back so. A session is open at now when it is not closed and has no expiry or
// one after now (proxy.Session.Open).
type ProxyTx interface {
	// AddProxyNumber puts n into its account's pool. A number is in at most one pool: when it
	// is already in one (any account's) the result is ErrConflict, and the transaction can
	// go on. One failing ValidateProxyNumber wraps ErrInvalid.
	AddProxyNumber(ctx context.Context, n proxy.Number) error
	// LockProxyPool returns the account's pool numbers in number order, each with the
	// participants of its sessions open at now (those of any account: a number's sessions
	// are its own), and locks the account's pool until the transaction ends: allocations and
	// removals of one account's numbers run one at a time, whatever replica they run on, so
	// two of them can never both see a number as free. A number added meanwhile by another
	// transaction may be missing from the result; the caller then works as if it had run
	// before that addition.
	LockProxyPool(ctx context.Context, accountID string, now time.Time) ([]proxy.Usage, error)
	// RemoveProxyNumber deletes the number from the account's pool; its sessions stay (closed
	// ones keep naming it). ErrNotFound when the account has no such number. Callers check
	// under LockProxyPool that no open session uses it.
	RemoveProxyNumber(ctx context.Context, accountID, number string) error
	// GetProxyNumber returns the pool number, whatever account it belongs to, or ErrNotFound.
	GetProxyNumber(ctx context.Context, number string) (proxy.Number, error)
	// InsertProxySession stores a new session; one failing s.Validate (times as stored)
	// wraps ErrInvalid, an existing id is ErrConflict, and the transaction can go on after
	// either. It does not check the pool: callers pick the number under LockProxyPool.
	InsertProxySession(ctx context.Context, s proxy.Session) error
	// CloseProxySession closes the account's session at `at` and returns it as stored, with
	// closed reporting whether this call closed it. A session that was closed or had expired
	// already (not open at `at`) is returned unchanged (closed false). ErrNotFound when the
	// account has no such session.
	CloseProxySession(ctx context.Context, accountID, id string, at time.Time) (s proxy.Session, closed bool, err error)
	// FindOpenProxySession returns the session open at now on proxyNumber that participant
	// is in (as either participant), or ErrNotFound. Allocation never gives a participant
	// one number twice at a time, so there is at most one; should there be several (a pool
	// changed by hand), the newest wins.
	FindOpenProxySession(ctx context.Context, proxyNumber, participant string, now time.Time) (proxy.Session, error)
}

// MaxProxySessionLimit is the largest ProxySessionQuery.Limit.
const MaxProxySessionLimit = 500

// ProxySessionQuery selects an account's sessions: the open ones at the time of the list, or
// the closed ones (closed or expired), newest first by (created_at, id).
type ProxySessionQuery struct {
	Closed bool
	Limit  int     // 1..MaxProxySessionLimit
	After  *Cursor // continue after this position (exclusive)
}

// Validate checks what every store requires of the query: a limit in
// 1..MaxProxySessionLimit. Failures wrap ErrInvalid.
func (q ProxySessionQuery) Validate() error {
	if q.Limit < 1 || q.Limit > MaxProxySessionLimit {
		return fmt.Errorf("proxy session query: limit %d not in 1..%d: %w", q.Limit, MaxProxySessionLimit, ErrInvalid)
	}
	return nil
}

// ValidateProxyNumber checks what every store requires of a pool number: the number, its
// provider and its account. Failures wrap ErrInvalid.
func ValidateProxyNumber(n proxy.Number) error {
	if n.Number == "" || n.Provider == "" || n.AccountID == "" {
		return fmt.Errorf("proxy number %q (provider %q, account %q): number, provider and account are required: %w",
			n.Number, n.Provider, n.AccountID, ErrInvalid)
	}
	return nil
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
	// ListProxySessions lists the account's sessions as q says, judged at now. It never
	// hands out a Next cursor that leads to an empty page. A query failing q.Validate wraps
	// ErrInvalid.
	ListProxySessions(ctx context.Context, accountID string, q ProxySessionQuery, now time.Time) (ProxySessionPage, error)
	// CloseExpiredProxySessions records the sessions expired at now and not closed as closed
	// at their expiry, and returns how many, for a periodic sweep. Reads treat them as
	// closed meanwhile.
	CloseExpiredProxySessions(ctx context.Context, now time.Time) (int, error)
}
