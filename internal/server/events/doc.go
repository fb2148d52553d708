// Package events is the event bus behind the server's server-sent-events endpoint: handlers
// publish events (a certificate was added, a vlob changed, an invitation moved on...) and
// every connected client whose filter accepts an event receives it, in order, numbered.
//
// Bus is the interface; New returns the in-process implementation, for a server that runs as
// a single process. Package pgevents holds the bus of servers running as several processes
// on one PostgreSQL database, which delivers through a Fanout, the part of the in-process bus
// that every bus shares. This package imports no database driver.
//
// The bus never interprets an event: the payload is opaque (the protocol layer encodes it)
// and the audience is data that the bus carries without resolving it. Each subscriber brings
// a filter that the server built from what it knows of the subscriber (user, profile,
// realms); the bus only calls it. The bus never blocks a publisher on a subscriber: a
// subscriber that does not keep up is dropped, and reconnects with the ID of the last event
// it received.
package events
