//go:build unix

package localdb

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/parsec-go/parsec/internal/parsec"
)

// LockRealm takes the device's lock of a workspace, shared by every process of the device
// (the CLI, the GUI, a mount): one at a time changes the workspace's manifests in the
// cache. It waits for the lock; the returned function releases it. A process that dies
// releases it too.
func (d *DB) LockRealm(realm parsec.VlobID) (func(), error) {
	release, err := lockFile(filepath.Join(filepath.Dir(d.path), "lock-"+realm.String()))
	if err != nil {
		return nil, fmt.Errorf("local cache: workspace lock: %w", err)
	}
	return release, nil
}

// lockFile takes an exclusive lock of the file at path (made if needed), shared by every
// process of the device; it waits for it. The returned function releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
