// Package metastore defines how the server keeps its metadata (organizations, users,
// devices, certificates, and later invitations, realms and vlobs) and the conformance suite
// every implementation passes (metastoretest). Implementations live in sub-packages:
// sqlite (the embedded default) and postgres (several server processes on one database);
// sqlrows holds the row mapping and migration reading both share.
//
// A store is a dumb, transactional keeper of records. It never decides whether an operation
// is allowed — the server's handlers do, once, for every backend — and it never decrypts or
// interprets certificate bytes: it stores what it is given next to the few clear fields the
// handlers extracted.
package metastore
