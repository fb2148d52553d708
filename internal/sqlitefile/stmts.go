package sqlitefile

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// Stmts keeps prepared statements of a database by their text, for statements run again
// and again with other arguments. The SQLite driver prepares, that is parses, every
// statement it is given as text; for a multi-row INSERT or a lookup of hundreds of IDs,
// parsing costs about as much as running it (on the server, 8 to 14% of its processor
// time in an upload and download of many small files). Keep to a fixed set of texts (the
// full-size chunks of a batch, say): nothing is ever evicted.
//
// A transaction cannot prepare a statement for the database while it holds a connection
// (with one connection, as a writer has, that would wait for ever): In prepares a text it
// does not keep yet for its transaction alone, and Keep, once the transaction is over,
// prepares it for the next ones; each connection of the pool then prepares it once.
type Stmts struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	wanted map[string]bool // asked for by transactions, not prepared yet
	closed bool            // by Close: nothing is kept any more
}

// errClosed is Get's error once Close was called.
var errClosed = errors.New("sqlitefile: statements closed")

// NewStmts returns an empty cache of db's statements.
func NewStmts(db *sql.DB) *Stmts {
	return &Stmts{db: db, m: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// Get returns the statement of text q, prepared for the database (and kept): for use
// outside any transaction of the database, as it may wait for a connection.
func (s *Stmts) Get(ctx context.Context, q string) (*sql.Stmt, error) {
	s.mu.Lock()
	stmt, ok := s.m[q]
	s.mu.Unlock()
	if ok {
		return stmt, nil
	}
	// Prepared without the lock: a transaction waiting for it in In would hold the
	// connection this waits for.
	stmt, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.wanted, q)
	if s.closed { // a Keep racing Close (requests cut at shutdown): kept, it would leak
		stmt.Close()
		return nil, errClosed
	}
	if kept, ok := s.m[q]; ok { // prepared meanwhile by another goroutine
		stmt.Close()
		return kept, nil
	}
	s.m[q] = stmt
	return stmt, nil
}

// In returns the statement of text q for tx, a transaction of the database: the kept one,
// or else one prepared for tx alone, q being noted for Keep. It ends with tx.
func (s *Stmts) In(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	s.mu.Lock()
	stmt, ok := s.m[q]
	if !ok && !s.closed {
		s.wanted[q] = true
	}
	s.mu.Unlock()
	if !ok {
		return tx.PrepareContext(ctx, q)
	}
	return tx.StmtContext(ctx, stmt), nil
}

// Keep prepares for the database the statements that transactions asked In for and did
// not find. Call it when no transaction of the caller is open (it needs a connection).
// A statement that fails to prepare is left out, and asked for again by the next In.
func (s *Stmts) Keep(ctx context.Context) {
	s.mu.Lock()
	var wanted []string
	for q := range s.wanted {
		wanted = append(wanted, q)
	}
	clear(s.wanted)
	s.mu.Unlock()
	for _, q := range wanted {
		s.Get(ctx, q)
	}
}

// Close closes the statements; call it before closing the database.
func (s *Stmts) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	clear(s.wanted)
	var errs []error
	for q, stmt := range s.m {
		errs = append(errs, stmt.Close())
		delete(s.m, q)
	}
	return errors.Join(errs...)
}
