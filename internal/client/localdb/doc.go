// Package localdb is a device's local cache: a SQLite file holding the certificates the
// client has validated (and, later, manifests and file content). Stored values are encrypted
// with the device's local key, so the cache reveals nothing useful to someone who copies it
// without the device's password.
//
// It stores only what the client library already validated; it never decides anything.
package localdb
