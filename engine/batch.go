package engine

import "sync"

// batch carries items from any goroutine to a shard's loop: producers add
// under a mutex, and the first add after a drain tells its caller to post
// the drain task, so one task carries every item queued before it runs
// however many there are. The slice the loop drains is kept for the next
// batch, so a steady stream allocates nothing.
type batch[T any] struct {
	mu     sync.Mutex
	items  []T
	spare  []T
	posted bool // a drain task is queued
	closed bool // the loop is gone: add refuses
}

// add queues v. post says the caller must now submit the drain task; ok is
// false, and v not queued, once close has run.
func (b *batch[T]) add(v T) (post, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false, false
	}
	b.items = append(b.items, v)
	post = !b.posted
	b.posted = true
	return post, true
}

// take returns the queued items and lets the next add post again. Give
// the slice back with recycle once its items are handled.
func (b *batch[T]) take() []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	items := b.items
	b.items, b.spare = b.spare[:0], nil
	b.posted = false
	return items
}

// recycle keeps a drained slice, cleared so it holds no references, for a
// later batch.
func (b *batch[T]) recycle(items []T) {
	clear(items)
	b.mu.Lock()
	b.spare = items[:0]
	b.mu.Unlock()
}

// close refuses later adds and returns what was still queued.
func (b *batch[T]) close() []T {
	b.mu.Lock()
	defer b.mu.Unlock()
	items := b.items
	b.items, b.closed = nil, true
	return items
}
