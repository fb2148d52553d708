// Package client is the client library: everything a person's device does, independent of
// any user interface (the CLI, and later the GUI and the mount, are thin layers over it).
// Every operation a person can do is one call here (files.go: Change, Upload, Download,
// Copy, Move…; syncall.go: SyncAll, Follow), every rule an interface needs to decide what
// to offer is here once (Landing, WorkspaceInfo.Writable), and the server's refusals leave
// it as error kinds (parsec.Kind), so that interfaces never import internal/protocol.
//
// A Client holds one unlocked device. It signs every request, and it trusts nothing the
// server says: each certificate is validated against the whole chain from the organization's
// root key (internal/certif) before it is kept, and once the server has sent anything invalid
// the client refuses to go on, reporting the server as tampering.
package client
