package client_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
	"github.com/parsec-go/parsec/internal/protocol"
)

// laterClock is the system clock moved forward by an offset that a test changes.
type laterClock struct{ offset atomic.Int64 }

func (c *laterClock) Now() parsec.DateTime {
	return parsec.SystemClock{}.Now().Add(time.Duration(c.offset.Load()))
}

// A push seals the next batch of manifests while the one before is on its way; when that
// request was slow, the batch is stamped again before it is sent, so that its timestamps
// are those of when it leaves, not of when it was sealed.
func TestPushStampsAgainABatchSealedLongBefore(t *testing.T) {
	p := newPeople(t)
	ctx := t.Context()
	clock := &laterClock{}
	c, err := client.Open(ctx, p.alice.ConfigDir, p.alice.Device, client.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id, err := c.CreateWorkspace(ctx, "Many")
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Workspace(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// More files than one batch holds: the root folder goes in the second batch.
	files := map[string][]byte{}
	for i := range protocol.MaxBatchItems + 1 {
		files[fmt.Sprintf("/f%04d", i)] = []byte("x")
	}
	write(t, w, files)
	// The first batch's request takes a minute, by the client's clock.
	var writes atomic.Int32
	var jumped atomic.Int64 // the client's time once the first batch's answer is given
	p.srv.Lie = func(cmd string, reply []byte) []byte {
		if cmd == protocol.CmdVlobWrite && writes.Add(1) == 1 {
			time.Sleep(200 * time.Millisecond) // the next batch is sealed meanwhile
			clock.offset.Store(int64(time.Minute))
			jumped.Store(int64(clock.Now()))
		}
		return reply
	}
	if err := w.Push(ctx); err != nil {
		t.Fatal(err)
	}
	if writes.Load() != 2 {
		t.Fatalf("%d vlob_write requests, want 2", writes.Load())
	}
	versions, err := w.History(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if last, at := versions[len(versions)-1], parsec.DateTime(jumped.Load()); last.Timestamp < at {
		t.Errorf("the root folder was sent stamped %v, before the first batch's answer (%v)", last.Timestamp, at)
	}
}
