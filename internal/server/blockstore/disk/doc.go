// Package disk implements blockstore.Store in a directory of the local file system, the
// default for a server running on one machine.
//
// Layout: <dir>/<organization ID>/<first two hex digits of the block ID>/<32 hex digits>,
// directories mode 0700, files mode 0600. Each block is written to a temporary file beside
// its final name (".tmp-" prefix), synced, then renamed over the final name and the
// directory synced, so a block is either absent or complete even if the process or the
// machine dies in the middle of a write. Temporary files never have a block's name, so
// they are never returned; Open removes the ones left over by a crash.
//
// PutBatch keeps that guarantee for many blocks at a lower cost: it writes every temporary
// file first (several at once), makes them all durable with one syncfs(2) of the file
// system (an fsync per file where syncfs does not exist), renames them, and makes the
// renames durable with a second syncfs. On Linux, a batch therefore also waits for
// whatever else was written to the same file system: keep the store on a file system of
// its own, or at least not one that takes heavy unrelated writes.
//
// Like every blockstore, it stores opaque encrypted bytes and never looks inside them.
//
// Organization IDs are used as directory names. They are validated upstream, but this
// package refuses on its own any ID that could name something outside its directory
// (".", "..", or one containing '/', '\\' or NUL). On a case-insensitive file system two
// organizations whose IDs differ only in case would share a directory: run it on one that
// is case-sensitive (any usual Linux file system).
package disk
