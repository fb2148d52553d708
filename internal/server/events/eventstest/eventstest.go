// Package eventstest holds what the tests of every event bus use to publish and read events.
package eventstest

import (
	"fmt"

	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/server/events"
)

// Pending returns the events buffered in s, without waiting.
func Pending(s *events.Subscription) []events.Event {
	var evs []events.Event
	for {
		select {
		case ev, ok := <-s.C():
			if !ok {
				return evs
			}
			evs = append(evs, ev)
		default:
			return evs
		}
	}
}

// IDs returns the IDs of evs.
func IDs(evs []events.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// PublishN publishes n events named PINGED in org, whose payloads are "0", "1"..., and
// returns their IDs.
func PublishN(b events.Bus, org parsec.OrganizationID, n int) []uint64 {
	var out []uint64
	for i := range n {
		out = append(out, b.Publish(events.Event{Org: org, Name: "PINGED", Payload: []byte(fmt.Sprint(i))}))
	}
	return out
}
