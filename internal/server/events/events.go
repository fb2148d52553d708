package events

import (
	"github.com/parsec-go/parsec/internal/parsec"
)

// Event is something that happened in an organization.
type Event struct {
	// ID is assigned by Bus.Publish: strictly increasing in the order of publication
	// within the organization, unique across the bus and, as long as the clock does not
	// go back, across restarts of the server (see New).
	ID  uint64
	Org parsec.OrganizationID
	// Name is the event's kind, as the protocol names it ("VLOB", "COMMON_CERTIFICATE"...).
	Name string
	// Payload is the event encoded by the protocol layer; the bus never reads it. The
	// bus shares it (like Audience.Users) between every receiver, which must not modify it.
	Payload  []byte
	Audience Audience
}

// Audience says who may receive an event. The bus does not resolve it: subscribers' filters
// do. An event reaches the union of the groups set, minus ExceptDevice.
type Audience struct {
	All    bool            // every user of the organization
	Users  []parsec.UserID // these users
	Admins bool            // the organization's administrators
	Realm  *parsec.VlobID  // the current members of this realm (workspace)
	// ExceptDevice, when not zero, is a device that must not receive the event: the
	// author of a change that already knows about it.
	ExceptDevice parsec.DeviceID
}

// Bus delivers events to the subscribers of their organization.
type Bus interface {
	// Publish numbers ev (its ID field is ignored), records it and delivers it to every
	// current subscriber of ev.Org whose filter accepts it. It returns the ID it gave the
	// event, or 0 if the bus is closed (the event is then dropped). It never waits for a
	// subscriber. The bus takes ownership of ev's slices.
	Publish(ev Event) uint64

	// PublishBatch publishes the events of evs, in order, each as Publish would, and returns
	// their IDs (0 for those dropped). A bus that records its events elsewhere records them
	// together, rather than waiting for a record of each in turn.
	PublishBatch(evs []Event) []uint64

	// Subscribe starts delivering the events of org that filter accepts (all of them if
	// filter is nil). The filter is called once per event, from the publishing goroutine
	// and possibly while the bus holds a lock: it must be quick, must not modify the
	// event and must not call the bus.
	//
	// lastEventID is the ID of the last event the subscriber received, from a previous
	// subscription. Three things might happen:
	//  - lastEventID is 0: the subscription delivers the events published from now on;
	//  - the bus still knows which events of org came after lastEventID (it is the ID of
	//    one of the last events of org that the bus retains, or the last ID the bus
	//    assigned): the subscription first delivers those events that filter accepts, in
	//    order, then the new ones, with neither gap nor duplicate;
	//  - otherwise (the ID is too old, from another server, or made up): Missed reports
	//    true and the subscription delivers the events published from now on. The
	//    subscriber must then resynchronize everything, as some events are lost to it.
	//
	// If the bus is closed, the subscription is already ended.
	Subscribe(org parsec.OrganizationID, lastEventID uint64, filter func(*Event) bool) *Subscription

	// Close ends every subscription (Err reports ErrBusClosed) and makes later calls to
	// Publish drop their event. It is safe to call more than once.
	Close()
}
