// Package serve is `parsec server run`: it wires the concrete backends — the SQLite metadata
// store, the block store on disk, the email sender — to a server.Server, listens, and shuts
// down gracefully.
//
// It is the edge where storage and mail specs ("sqlite:PATH", "disk:PATH", SMTP settings)
// become implementations. It must never hold request handling or storage logic of its own:
// handlers live in package server, which sees only the metastore, blockstore, events and
// mail interfaces, and each backend lives in its own package. Adding a backend is one case
// in OpenMetastore or OpenBlockstore.
package serve
