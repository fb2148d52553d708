// Package certif defines the certificates of an organization (users, devices, profile
// changes, revocations, realm roles, names, key rotations and archiving), how they are
// signed and encoded, and the engine that decides whether a certificate may follow the ones
// already accepted.
//
// Every security fact of the system is one of these certificates. The server stores and
// orders them, but it is not trusted: each client runs the same engine over everything the
// server hands it and refuses to go on at the first certificate it rejects. The server runs
// the engine too, over the State it reads from its database, so that an honest server never
// stores what an honest client would refuse.
//
// Signed certificate bytes are a 64-byte Ed25519 signature followed by the body, the
// deterministic CBOR encoding of the certificate (a map that includes its "type"). The
// signature covers the body in the domain "parsec/1/<type>", so a signature made for one
// kind of document never verifies as another.
//
// The package is pure: it must never do I/O (no network, no files, no clock, no logging),
// and it must never accept bytes it has not decoded strictly and canonically. The only
// state it keeps is the in-memory Memory, which its owner feeds.
package certif
