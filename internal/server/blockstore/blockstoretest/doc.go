// Package blockstoretest is the conformance suite that every implementation of
// blockstore.Store runs from its own tests, so that all of them behave alike.
//
// It only writes blocks under random block IDs, so it can run against a store that already
// holds data (a shared S3 bucket or database), and it never assumes anything about how a
// store lays blocks out.
package blockstoretest
