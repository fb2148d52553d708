package pgevents

import "context"

// Prune deletes the events older than the window now, for tests.
func (b *Bus) Prune(ctx context.Context) error { return b.prune(ctx) }
