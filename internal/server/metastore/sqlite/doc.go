// Package sqlite is the embedded metadata store: one SQLite database file (pure Go driver,
// no cgo), schema created and upgraded by embedded migrations at open.
//
// Writes go through a single connection, so write transactions are serialized in process
// (BEGIN IMMEDIATE guards against other processes); reads use a pool of read-only
// connections over WAL snapshots and never block writers.
package sqlite
