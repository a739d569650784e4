package httpapi

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/smsgw/smsgw/ports"
)

const (
	ctxAccount = "smsgw.account"
	// authCacheTTL bounds how long a changed or removed password keeps working.
	authCacheTTL = 60 * time.Second
	// authCacheSize bounds the verification cache.
	authCacheSize = 1024
)

// dummyHash is a bcrypt hash (cost 10) of a random string: unknown users cost one
// comparison too, so response time does not tell which usernames exist.
const dummyHash = "$2a$10$f4zQzFSnxl6A7Gn36d5RQeJMtYyxL/gKu/EtZr.9iNevF.2JgdvOm"

// authenticator checks Basic credentials against the account store. Successful checks are
// cached for a short time, keyed by username and SHA-256 of the password (never the
// password itself), because bcrypt is deliberately slow.
type authenticator struct {
	accounts AccountFinder
	now      func() time.Time

	mu    sync.Mutex
	cache map[authKey]time.Time // -> expiry
}

type authKey struct {
	user string
	pass [sha256.Size]byte
}

func newAuthenticator(accounts AccountFinder) *authenticator {
	return &authenticator{accounts: accounts, now: time.Now, cache: map[authKey]time.Time{}}
}

var _ Authenticator = (*authenticator)(nil)

// middleware authenticates the request and stores the account id for the handlers.
func (a *authenticator) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		id, err := a.Authenticate(c.Request)
		if errors.Is(err, ErrUnauthorized) {
			fail(c, errUnauthorized)
			return
		}
		if err != nil {
			fail(c, err)
			return
		}
		c.Set(ctxAccount, id)
		c.Next()
	}
}

// Authenticate implements Authenticator; the account id is the Basic username.
func (a *authenticator) Authenticate(r *http.Request) (string, error) {
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" {
		return "", ErrUnauthorized
	}
	err := a.verify(r.Context(), user, pass)
	switch {
	case errors.Is(err, errUnauthorized):
		return "", ErrUnauthorized
	case err != nil:
		return "", fmt.Errorf("check credentials of account %q: %w", user, err)
	}
	return user, nil
}

// verify returns nil for valid credentials, errUnauthorized for wrong ones, or the store's
// error when it cannot answer (a 503, not a 401: the password may well be right).
func (a *authenticator) verify(ctx context.Context, user, pass string) error {
	key := authKey{user: user, pass: sha256.Sum256([]byte(pass))}
	now := a.now()
	a.mu.Lock()
	exp, hit := a.cache[key]
	a.mu.Unlock()
	if hit && now.Before(exp) {
		return nil
	}
	acct, err := a.accounts.GetAccount(ctx, user)
	switch {
	case errors.Is(err, ports.ErrNotFound):
		_ = bcrypt.CompareHashAndPassword([]byte(dummyHash), []byte(pass))
		return errUnauthorized
	case err != nil:
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(acct.PasswordHash), []byte(pass)) != nil {
		return errUnauthorized
	}
	a.remember(key, now.Add(authCacheTTL), now)
	return nil
}

func (a *authenticator) remember(key authKey, exp, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= authCacheSize {
		for k, e := range a.cache {
			if !now.Before(e) {
				delete(a.cache, k)
			}
		}
		// Still full of live entries: start over rather than grow (they re-verify once).
		if len(a.cache) >= authCacheSize {
			clear(a.cache)
		}
	}
	a.cache[key] = exp
}

// accountID is the authenticated account of the request.
func accountID(c *gin.Context) string {
	return c.GetString(ctxAccount)
}
