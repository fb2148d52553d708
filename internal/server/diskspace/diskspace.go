// Package diskspace tells how much room is left on the file system of the embedded stores
// (the SQLite metadata database, the disk block store), for the server's health check: a
// store whose disk is full still answers reads, so a read alone does not show it.
package diskspace

// Low is the free space under which a store's disk counts as full: a batch of blocks
// (protocol.MaxBatchBytes, 8 MiB) and the database's log of its records need about that
// much, so writes fail or soon will.
const Low = 16 << 20

// A Reporter is a store on a local file system.
type Reporter interface {
	// FreeSpace returns the bytes that the store's file system has left for it.
	FreeSpace() (int64, error)
}
