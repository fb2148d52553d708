// Package parsec holds the vocabulary shared by every part of the system: identifiers,
// timestamps, organization IDs, human handles, user profiles, realm roles with the rules of
// who may hold and give them (roles.go), and the kinds of error that the HTTP layer, the
// CLI and (later) the FUSE mount map to their own codes.
//
// It must stay small and free of I/O: no network, no storage, no cryptography beyond
// drawing random identifiers.
package parsec
