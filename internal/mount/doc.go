// Package mount shows workspaces as ordinary folders through FUSE (github.com/hanwen/go-fuse/v2):
// every workspace of a device as a folder of the mount point, or one workspace as the mount
// point itself.
//
// It is a thin skin over the client library: every change is one call of internal/client
// (Mkdir, Rename, Remove, WriteFiles, WriteContentSince, Reinstate, SetUpdated), saved on
// the device at once and sent by a background Sync, which also receives the others'
// changes when the server announces them (Client.Watch); conflicts are the library's. It must never hold
// transfer, merge or permission logic of its own, nor keep a cleartext copy of a file
// longer than needed: a file open for writing is spooled to a private temporary file (mode
// 0600) on the device, written as a new version when it is closed or fsynced, and removed
// when the last handle is released, unless its content could not be saved (the server
// unreachable): then it stays, noted, until this mount or the next one of the device saves
// it (spool.go). Errors become errnos in one place (errno).
package mount
