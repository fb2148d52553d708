package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"time"

	"github.com/parsec-go/parsec/internal/client"
	"github.com/parsec-go/parsec/internal/parsec"
)

// loadDevice is one simulated device: it runs its commands one after another, and
// records what it measured for the summary, which reads it once the device stopped.
type loadDevice struct {
	index    int
	label    string
	user     int
	peers    []int // the devices of the same user, this one included
	c        *client.Client
	ws       *client.Workspace
	rng      *mrand.Rand
	fileSize int

	samples []sample
	errs    []string
	written []written // the files this device wrote, with when the write ended

	connected chan struct{} // closed at the first connection of the event stream
	events    []received    // written by the event stream's goroutine
	streams   int           // (re)connections of the event stream
	watchErr  error
}

type sample struct {
	cmd int // index in loadCommands
	d   time.Duration
	err bool
}

type written struct {
	vlob    parsec.VlobID
	version uint64
	at      time.Time // when the push started
}

type received struct {
	vlob    parsec.VlobID
	version uint64
	at      time.Time
}

func (d *loadDevice) folder(index int) string { return fmt.Sprintf("/d%03d", index) }

func (d *loadDevice) filePath(f int) string { return fmt.Sprintf("%s/f%d.bin", d.folder(d.index), f) }

// source is a new random content for a file of this device.
func (d *loadDevice) source(p string) client.FileSource {
	data := make([]byte, d.fileSize)
	for i := 0; i < len(data); i += 8 {
		v := d.rng.Uint64()
		for j := 0; j < 8 && i+j < len(data); j++ {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	return client.FileSource{Path: p, Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
}

// run starts commands until the deadline, pausing between them.
func (d *loadDevice) run(ctx context.Context, deadline time.Time, interval time.Duration) {
	total := 0
	for _, c := range loadCommands {
		total += c.weight
	}
	for {
		pause := time.Duration(d.rng.ExpFloat64() * float64(interval))
		if time.Now().Add(pause).After(deadline) {
			return
		}
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return
		}
		pick := d.rng.IntN(total)
		cmd := 0
		for pick >= loadCommands[cmd].weight {
			pick -= loadCommands[cmd].weight
			cmd++
		}
		start := time.Now()
		err := loadCommands[cmd].run(d, ctx)
		d.samples = append(d.samples, sample{cmd: cmd, d: time.Since(start), err: err != nil})
		if err != nil && ctx.Err() == nil {
			d.errs = append(d.errs, fmt.Sprintf("%s on %s: %v", loadCommands[cmd].name, d.label, err))
		}
	}
}

// peer is a device of the same user, picked at random (possibly this one).
func (d *loadDevice) peer() int { return d.peers[d.rng.IntN(len(d.peers))] }

// list lists the folder of a device of the same user, as `parsec ls` does: the
// workspace's changes first.
func (d *loadDevice) list(ctx context.Context) error {
	entries, err := d.ws.ListAt(ctx, d.folder(d.peer()), 0)
	if err == nil && len(entries) != filesPerDevice {
		err = fmt.Errorf("listed %d files, want %d", len(entries), filesPerDevice)
	}
	return err
}

func (d *loadDevice) sync(ctx context.Context) error { return d.ws.Sync(ctx) }

// read reads a file of a device of the same user, as this device last saw it.
func (d *loadDevice) read(ctx context.Context) error {
	p := fmt.Sprintf("%s/f%d.bin", d.folder(d.peer()), d.rng.IntN(filesPerDevice))
	n := &countWriter{}
	if err := d.ws.ReadFile(ctx, p, n); err != nil {
		return err
	}
	if n.n != int64(d.fileSize) {
		return fmt.Errorf("read %d bytes of %s, want %d", n.n, p, d.fileSize)
	}
	return nil
}

// write replaces one of this device's files and sends it, as `parsec cp` does.
func (d *loadDevice) write(ctx context.Context) error {
	f := d.rng.IntN(filesPerDevice)
	p := d.filePath(f)
	if err := d.ws.WriteFiles(ctx, []client.FileSource{d.source(p)}, nil); err != nil {
		return err
	}
	sent := time.Now()
	if err := d.ws.Push(ctx); err != nil {
		return err
	}
	entries, err := d.ws.List(d.folder(d.index))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Path == p {
			d.written = append(d.written, written{vlob: e.ID, version: e.Version, at: sent})
		}
	}
	return nil
}

// event hears the device's event stream: a zero change after each (re)connection, since
// no certificate changes during the load.
func (d *loadDevice) event(ch client.Change) {
	switch {
	case ch == client.Change{}:
		if d.streams++; d.streams == 1 {
			close(d.connected)
		}
	case !ch.Vlob.IsZero():
		d.events = append(d.events, received{vlob: ch.Vlob, version: ch.Version, at: time.Now()})
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}
