//go:build !linux

package disk

import (
	"errors"
	"os"
)

// haveSyncfs is false where syncfs(2) does not exist: PutBatch syncs each file and each
// directory it changed, in parallel.
const haveSyncfs = false

func syncFS(*os.File) error { return errors.New("syncfs is not available on this system") }
