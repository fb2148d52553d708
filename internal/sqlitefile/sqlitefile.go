// Package sqlitefile holds what the SQLite databases of the server (metadata) and of the
// client (a device's local cache) share: the settings that make an acknowledged write
// survive a power loss, and files only their owner can read. It never opens a database
// itself.
package sqlitefile

import (
	"errors"
	"io/fs"
	"net/url"
	"os"
)

// Pragmas are the connection settings of both databases: write-ahead log, and
// synchronous=FULL, so that a committed transaction is on disk before the commit returns
// (with NORMAL, in WAL mode, the last transactions may be lost on a power loss: the WAL is
// only synced at checkpoints).
func Pragmas() url.Values {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	return q
}

// Private creates the database file at path with mode 0600 when it does not exist, and
// brings an existing one and its -wal and -shm files to 0600 (SQLite gives its journal
// files the mode of the database file).
func Private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
