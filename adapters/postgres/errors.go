package postgres

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/smsgw/smsgw/ports"
)

// mapErr wraps err with the ports error it means, keeping err in the chain; other errors are
// returned as they are.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if sentinel := classify(err); sentinel != nil {
		return fmt.Errorf("%w: %w", sentinel, err)
	}
	return err
}

// stalePlan reports the error a prepared statement gives after a migration changed a table
// it reads (another replica migrated while this one kept its statements).
func stalePlan(err error) bool {
	pqErr := pq.As(err)
	return pqErr != nil && pqErr.Code == pqerror.FeatureNotSupported &&
		strings.Contains(pqErr.Message, "cached plan must not change result type")
}

// statementGone reports that a prepared statement no longer exists on the server (a
// DISCARD ALL, or a pooler that moved the session).
func statementGone(err error) bool {
	pqErr := pq.As(err)
	return pqErr != nil && pqErr.Code == pqerror.InvalidSQLStatementName
}

func classify(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ports.ErrNotFound
	}
	if pqErr := pq.As(err); pqErr != nil {
		switch {
		case pqErr.Code == pqerror.UniqueViolation:
			return ports.ErrConflict
		case pqErr.Code.Class() == pqerror.ClassDataException:
			// A value Postgres will not store (a NUL byte in text, a bad encoding): the same
			// write would fail the same way on every retry.
			return ports.ErrInvalid
		case pqErr.Code.Class() == pqerror.ClassConnectionException,
			pqErr.Code == pqerror.AdminShutdown,
			pqErr.Code == pqerror.CrashShutdown,
			pqErr.Code == pqerror.CannotConnectNow,
			pqErr.Code == pqerror.TooManyConnections:
			return ports.ErrUnavailable
		}
		return nil
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ports.ErrUnavailable
	}
	return nil
}
