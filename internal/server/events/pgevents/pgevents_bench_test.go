package pgevents_test

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/events"
)

// BenchmarkPostgresPublish publishes from concurrent requests of different organizations,
// on two processes (buses) of one database.
func BenchmarkPostgresPublish(b *testing.B) {
	buses := pgBuses(b, 2)
	var n atomic.Int64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		i := n.Add(1)
		bus := buses[i%2]
		org := parsec.OrganizationID("Org" + strconv.FormatInt(i, 10))
		for pb.Next() {
			if bus.Publish(events.Event{Org: org, Name: "PINGED", Audience: events.Audience{All: true}}) == 0 {
				b.Error("event lost")
			}
		}
	})
}
