package pgevents

import "context"

// Prune deletes the events older than the window now, for tests.
func (b *Bus) Prune(ctx context.Context) error { return b.prune(ctx) }

// PruneByHand stops the bus from pruning by itself: a test with a window of 0 prunes with
// Prune, when the bus has read what it published.
func PruneByHand() Option { return func(b *Bus) { b.pruneEvery = 0 } }
