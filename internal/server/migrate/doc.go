// Package migrate copies a deployment from one pair of stores to another (SQLite to
// PostgreSQL, disk to S3, or any other pair): every organization's metadata, then every
// block, and checks that both sides hold the same. It is what `parsec server migrate` runs.
//
// It must never change the source stores, and never leave an organization half copied in
// the target metadata store: each organization's metadata is written in one transaction,
// so that a copy interrupted and started again skips what is already there.
package migrate
