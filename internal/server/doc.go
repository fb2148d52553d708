// Package server is the Parsec server: the HTTP API of the anonymous, invited and
// authenticated families, the administration API, the event stream, and the link redirect
// page.
//
// The server stores and orders what clients send, and enforces the same certificate rules the
// clients do (internal/certif), so that a well-behaved server refuses what an honest client
// would refuse. It never needs to trust a client and never decrypts anything: it parses only
// certificate envelopes and stores opaque encrypted data. Clients, in turn, never trust it.
//
// It sees storage, events and mail through their interfaces (metastore.Store,
// blockstore.Store, events.Bus, mail.Sender) and never opens a concrete backend: that wiring
// is internal/server/serve's.
package server
