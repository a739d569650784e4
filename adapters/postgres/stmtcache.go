package postgres

import (
	"container/list"
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/lib/pq"
)

// A statement cache per connection, as pgx keeps one: lib/pq sends every parameterised
// query as an unnamed statement, which Postgres parses and plans on every call. River's
// queue statements are large (planning its job-completion query alone takes several ms of
// server CPU, more than running it), and they come through database/sql, where we cannot
// prepare them ourselves. The connector below wraps lib/pq so that every query with
// parameters runs as a named statement prepared once per connection; Postgres then reuses
// the parse tree and, after a few runs, a generic plan. Queries without parameters keep
// lib/pq's simple protocol (migrations send several statements in one). Named statements
// live in the server session, so a pooler in transaction mode (PgBouncer's
// pool_mode=transaction) is not supported between smsgw and Postgres; session mode is.

// stmtCacheSize bounds the statements kept per connection; the least recently used one is
// closed when a new one would exceed it.
const stmtCacheSize = 256

// cachingConnector opens lib/pq connections that cache their prepared statements.
type cachingConnector struct {
	base *pq.Connector
	size int // statements kept per connection
}

func newCachingConnector(dsn string, size int) (*cachingConnector, error) {
	c, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return &cachingConnector{base: c, size: size}, nil
}

func (c *cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn, c.size)
}

func (c *cachingConnector) Driver() driver.Driver { return c.base.Driver() }

// pqConn is what lib/pq's connection implements and the cache relies on.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.QueryerContext
	driver.ExecerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
	driver.NamedValueChecker
}

// cachedStmt is what lib/pq's statements implement.
type cachedStmt interface {
	driver.Stmt
	driver.StmtQueryContext
	driver.StmtExecContext
}

type cacheEntry struct {
	query string
	stmt  cachedStmt
}

// cachingConn is a lib/pq connection with an LRU of prepared statements keyed by query
// text. database/sql never uses one connection from two goroutines at once, so it needs
// no lock.
type cachingConn struct {
	pqConn
	size  int
	lru   *list.List // of *cacheEntry, most recently used first
	index map[string]*list.Element
}

func newCachingConn(conn driver.Conn, size int) (*cachingConn, error) {
	pc, ok := conn.(pqConn)
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("postgres: driver connection %T lacks the interfaces of lib/pq", conn)
	}
	return &cachingConn{pqConn: pc, size: max(size, 1), lru: list.New(), index: map[string]*list.Element{}}, nil
}

var (
	_ driver.QueryerContext = (*cachingConn)(nil)
	_ driver.ExecerContext  = (*cachingConn)(nil)
)

// prepared returns the connection's statement for query, preparing it on first use.
func (c *cachingConn) prepared(ctx context.Context, query string) (cachedStmt, error) {
	if el, ok := c.index[query]; ok {
		c.lru.MoveToFront(el)
		return el.Value.(*cacheEntry).stmt, nil
	}
	st, err := c.pqConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs, ok := st.(cachedStmt)
	if !ok {
		_ = st.Close()
		return nil, fmt.Errorf("postgres: statement %T lacks the context interfaces", st)
	}
	c.index[query] = c.lru.PushFront(&cacheEntry{query: query, stmt: cs})
	for c.lru.Len() > c.size {
		c.evict(c.lru.Back())
	}
	return cs, nil
}

// evict closes a statement and forgets it. A failed close marks the connection bad in
// lib/pq, which database/sql then discards: nothing more to do here.
func (c *cachingConn) evict(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.index, e.query)
	_ = e.stmt.Close()
}

// forgetOnStale drops query's statement after an error that means its server-side plan is
// no longer usable (a migration changed a table it reads) or the statement is gone, so that
// the next use prepares it afresh. The statement is not closed: the connection may be inside an aborted
// transaction, and the server frees it with the connection anyway.
func (c *cachingConn) forgetOnStale(query string, err error) {
	if err == nil || !(stalePlan(err) || statementGone(err)) {
		return
	}
	if el, ok := c.index[query]; ok {
		c.lru.Remove(el)
		delete(c.index, query)
	}
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) == 0 {
		return c.pqConn.QueryContext(ctx, query, args)
	}
	st, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, args)
	c.forgetOnStale(query, err)
	return rows, err
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) == 0 {
		return c.pqConn.ExecContext(ctx, query, args)
	}
	st, err := c.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := st.ExecContext(ctx, args)
	c.forgetOnStale(query, err)
	return res, err
}

// Close closes the connection; its statements go with it on the server.
func (c *cachingConn) Close() error {
	c.lru.Init()
	clear(c.index)
	return c.pqConn.Close()
}
