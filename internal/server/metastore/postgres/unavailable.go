package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/parsec-go/parsec/internal/parsec"
)

// answerTimeout bounds a transaction, or a statement outside one: a database that takes
// requests and never answers them (a server hung, a network dropping packets) fails it as
// unavailable, so that the server tells its client so before the client gives up waiting
// (after a minute of silence, see internal/client). The server's transactions take a small
// fraction of it.
const answerTimeout = 30 * time.Second

// testOnlyAnswerTimeout is answerTimeout, lowered by tests.
var testOnlyAnswerTimeout = answerTimeout

// errNoAnswer is the cause of a context of bounded that ran out.
var errNoAnswer = errors.New("the metadata database did not answer in time")

// bounded returns ctx, ended after testOnlyAnswerTimeout (see unavailable).
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(ctx, testOnlyAnswerTimeout, errNoAnswer)
}

// unavailable gives err, a failure of the database, the kind parsec.Unavailable when the
// database could not be reached or dropped the connection (it is stopped, restarting,
// refusing connections, or the network failed), or lacks the resources to answer now (its
// disk is full or failing): the server then tells its clients that its store is unavailable,
// and the pool connects again once the database is back. lost says
// that the connection the failure happened on is closed, whatever the error says. Other
// errors, and those of a cancelled ctx, are returned as they are.
func unavailable(ctx context.Context, err error, lost bool) error {
	if err == nil || parsec.KindOf(err) != parsec.Other {
		return err
	}
	if errors.Is(context.Cause(ctx), errNoAnswer) {
		return parsec.Errorf(parsec.Unavailable, "metadata database unavailable: no answer within %v: %w", testOnlyAnswerTimeout, err)
	}
	if ctx.Err() != nil {
		return err
	}
	if lost || unreachable(err) {
		return parsec.Errorf(parsec.Unavailable, "metadata database unavailable: %w", err)
	}
	return err
}

// unreachable reports whether err says that the database cannot be reached or used now: any
// failure that is not an answer of the database (a connection that could not be made or was
// cut), or an answer saying that it is shutting down, starting, or out of connections, disk
// space, memory or another resource, or that its disk failed.
func unreachable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	switch {
	case strings.HasPrefix(pe.Code, "08"): // connection exception
		return true
	case pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return true
	case strings.HasPrefix(pe.Code, "53"): // insufficient resources: disk_full, out_of_memory, too_many_connections…
		return true
	case pe.Code == "58030": // io_error
		return true
	}
	return false
}
