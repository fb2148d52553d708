//go:build !unix

package localdb

import "github.com/parsec-go/parsec/internal/parsec"

// LockRealm is a no-op where file locks are not available: there, run one process per
// device at a time (the CLI or the GUI, not both on the same workspace at once).
func (d *DB) LockRealm(realm parsec.VlobID) (func(), error) { return func() {}, nil }

// lockFile is a no-op where file locks are not available.
func lockFile(path string) (func(), error) { return func() {}, nil }
