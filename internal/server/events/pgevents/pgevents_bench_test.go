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

// BenchmarkPostgresPublishBatch publishes batches of 1,000 events, as a request that
// creates 1,000 files does.
func BenchmarkPostgresPublishBatch(b *testing.B) {
	bus := pgBuses(b, 1)[0]
	evs := make([]events.Event, 1000)
	for i := range evs {
		evs[i] = events.Event{Org: "Org", Name: "VLOB", Payload: make([]byte, 120), Audience: events.Audience{All: true}}
	}
	for b.Loop() {
		if ids := bus.PublishBatch(evs); ids[len(ids)-1] == 0 {
			b.Fatal("events lost")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*len(evs)), "µs/event")
}
