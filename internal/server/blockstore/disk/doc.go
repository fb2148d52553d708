// Package disk implements blockstore.Store in a directory of the local file system, the
// default for a server running on one machine.
//
// Small blocks (up to 64 KiB: the last block of a file, or a small file's only one) are
// packed in one SQLite database in the directory, small-blocks.db: one row per block, a
// batch in one transaction, committed with synchronous=FULL, so a block is acknowledged
// once it is on disk and a crash in the middle of a batch leaves none of its small blocks.
// Creating a file per block cost more than writing it: packed, a 4 KiB block costs about
// a seventh of the processor time (see BenchmarkPutBatchSmall). Larger blocks keep one file
// each, where the database would write every byte twice (log, then checkpoint).
//
// Layout of the files: <dir>/<organization ID>/<first two hex digits of the block
// ID>/<32 hex digits>, directories mode 0700, files (and the database) mode 0600. Each
// large block is written to a temporary file beside its final name (".tmp-" prefix),
// synced, then renamed over the final name and the directory synced, so a block is either
// absent or complete even if the process or the machine dies in the middle of a write.
// Temporary files never have a block's name, so they are never returned; Open removes the
// ones left over by a crash.
//
// PutBatch keeps that guarantee for many blocks at a lower cost: it writes every temporary
// file first (several at once), makes them all durable with one syncfs(2) of the file
// system (an fsync per file where syncfs does not exist), renames them, and makes the
// renames durable with a second syncfs; then it stores the batch's small blocks in one
// transaction. On Linux, a batch therefore also waits for whatever else was written to
// the same file system: keep the store on a file system of its own, or at least not one
// that takes heavy unrelated writes.
//
// Reads look in the database first (GetMany asks it for a hundred blocks per query: a
// query per block cost a download of small files 1.6 times the server's processor time),
// then for a file: a block put small after a large one hides the file (Delete removes
// both), and a large block put after a small one removes the row once its file is durable.
// A store written before small blocks were packed (one file per block) is therefore read
// as it is, with no migration; its small blocks move to the database only when they are
// put again. These rules are blockstore.Packing's, which also keeps the small blocks of an
// S3 store in PostgreSQL. The database only grows: space freed by deleted blocks is reused by later
// ones.
//
// Like every blockstore, it stores opaque encrypted bytes and never looks inside them.
//
// Organization IDs are used as directory names. They are validated upstream, but this
// package refuses on its own any ID that could name something outside its directory
// (".", "..", or one containing '/', '\\' or NUL), or the database's files. On a
// case-insensitive file system two organizations whose IDs differ only in case would share
// a directory: run it on one that is case-sensitive (any usual Linux file system).
package disk
