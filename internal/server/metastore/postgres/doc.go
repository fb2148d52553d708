// Package postgres is the metadata store on PostgreSQL (pgx), for deployments that outgrow one
// machine: several parsec server processes share one database. The schema is created and
// upgraded at open by embedded migrations, under a session advisory lock so that processes
// starting together apply each migration once.
//
// Write transactions keep the guarantee of the SQLite store's single writer across
// processes: an Update takes, before its first statement on an organization, a transaction
// advisory lock on that organization (pg_advisory_xact_lock), held until it commits or rolls
// back. Writers of one organization therefore run one after the other, in any process, and
// each statement (READ COMMITTED) sees everything committed before the lock was granted: a
// handler's read, check and write (the last timestamp of a topic, the last version of a vlob)
// cannot interleave with another's. Writers of different organizations run in parallel. A
// transaction is never replayed, so fn runs exactly once; a transaction touching several
// organizations in an order opposite to another's may fail with a deadlock error, which is
// returned. Views are REPEATABLE READ READ ONLY transactions over one snapshot, and take no
// lock.
//
// The store must never interpret what it keeps: like the SQLite store, it stores opaque
// bytes next to the clear fields the handlers extracted.
package postgres
