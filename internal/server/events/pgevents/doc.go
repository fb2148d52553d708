// Package pgevents is the event bus of servers running as several processes on one
// PostgreSQL database: events are recorded in a table of the metastore's schema, numbered in
// the order of their commits, and every process, woken by LISTEN/NOTIFY, reads them and
// delivers them to its own subscribers (through an events.Fanout).
//
// It implements events.Bus and adds nothing to what the bus promises but Observe, which lets
// the server learn of the events of the other processes. Like every bus it never interprets
// an event: it stores the payload and the audience as they come, and never blocks a
// publisher on a subscriber.
package pgevents
