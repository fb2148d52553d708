package sqlite

import (
	"errors"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/parsec-go/parsec/internal/parsec"
)

// unavailable gives err, a failure of the database, the kind parsec.Unavailable when SQLite
// says that it cannot use the database now: its disk is full or failing, its file cannot be
// opened or has become read-only (a file system remounted read-only after errors), or another
// process held its lock for longer than the busy timeout. The server then tells its clients
// that its store is unavailable, and the next transactions work once the disk or the lock is
// free again. Other errors (a constraint, a corrupt database, a bug) are returned as they are.
func unavailable(err error) error {
	var se *sqlitedriver.Error
	if err == nil || parsec.KindOf(err) != parsec.Other || !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY,
		sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return parsec.Errorf(parsec.Unavailable, "metadata database unavailable: %w", err)
	}
	return err
}
