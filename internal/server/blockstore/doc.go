// Package blockstore defines Store, the server's store of encrypted blocks, and is the home
// of its implementations (disk/ by default; object stores and PostgreSQL later). Every
// implementation runs the conformance suite in blockstoretest.
//
// A Store is a dumb, idempotent key-value store keyed by (organization, block ID). Blocks
// are encrypted by clients before they reach the server: a Store never sees plaintext and
// must never interpret, parse, compress, deduplicate or log the content of a block. Which
// blocks exist, who may read them and whether a block ID is new are questions for the
// metadata store (metastore), which records each block before or after its bytes land here;
// a Store only keeps bytes.
package blockstore
