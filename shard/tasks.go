package shard

import (
	"sync"
	"sync/atomic"
)

// taskQueue is the loop's inbox from other goroutines: a mutex-guarded slice
// that the loop swaps with its own when it drains. Both slices keep their
// capacity, so a steady flow of tasks allocates nothing (a lock-free list
// would allocate a node per task).
//
// The queue is unbounded unless WithTaskQueueLimit is set; then Submit fails
// with ErrQueueFull while the limit is reached.
type taskQueue struct {
	mu      sync.Mutex
	pending []func() // guarded by mu
	closed  bool     // guarded by mu; set once by release

	// waiting counts tasks in pending. Producers add under mu; the loop
	// reads it without the lock to decide whether it may sleep.
	waiting atomic.Int64

	// left is how many tasks of the loop's batch have not run yet (those
	// held back by the per-round cap, between rounds). The loop writes it
	// when it takes a batch and after each run of tasks; Stats and the
	// queue limit read it.
	left atomic.Int64

	// Loop-only: the batch being run and the next task in it.
	batch []func()
	next  int
}

// Submit queues fn to run on the loop and wakes the loop if it may be asleep.
// Tasks from one goroutine run in the order they were submitted. Submit never
// blocks. It returns ErrClosed once Close has begun (fn will never run) and
// ErrQueueFull when the queue is bounded and full. Any goroutine, the loop's
// own included.
func (l *Loop) Submit(fn func()) error { return l.submit(fn, true) }

// submit is Submit; limited says whether the queue limit applies.
func (l *Loop) submit(fn func(), limited bool) error {
	q := &l.tasks
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	// The limit counts the tasks held back by the per-round cap too, so
	// that it bounds everything waiting, not just the inbox.
	if limited && l.cfg.queueLimit > 0 && len(q.pending)+int(q.left.Load()) >= l.cfg.queueLimit {
		q.mu.Unlock()
		return ErrQueueFull
	}
	q.pending = append(q.pending, fn)
	q.waiting.Add(1)
	// The eventfd is written under mu so that release, which takes mu
	// before closing it, can never race with this write to a reused fd.
	l.wakeLocked()
	q.mu.Unlock()
	return nil
}

// wakeLocked writes the eventfd if the loop may be asleep and no wake-up is
// already in flight. The caller holds tasks.mu and has checked closed.
func (l *Loop) wakeLocked() {
	if l.sleeping.Load() && l.wakeSent.CompareAndSwap(false, true) {
		l.poller.wake()
	}
}

// wake wakes the loop unless it is closed; used by Exit, Break and Close.
func (l *Loop) wake() {
	q := &l.tasks
	q.mu.Lock()
	if !q.closed {
		l.wakeLocked()
	}
	q.mu.Unlock()
}

// maxKeptTasks is the largest task slice kept for reuse after it is drained
// (128 KiB of func values).
const maxKeptTasks = 16 << 10

// hasTasks reports whether tasks are waiting, in the batch or the queue.
func (q *taskQueue) hasTasks() bool {
	return q.next < len(q.batch) || q.waiting.Load() > 0
}

// runTasks runs up to max tasks: first what is left of the current batch,
// then a new batch taken from the queue.
func (l *Loop) runTasks(max int) {
	l.taskBudget = max
	for !l.safely(l.runBatch, 0) {
	}
	l.stats.tasks.Add(uint64(max - l.taskBudget))
	l.tasks.left.Store(int64(len(l.tasks.batch) - l.tasks.next))
}

func (l *Loop) runBatch(int64) {
	q := &l.tasks
	for l.taskBudget > 0 && !l.breaking() {
		if q.next == len(q.batch) {
			if q.waiting.Load() == 0 {
				return
			}
			// The spent batch becomes the next inbox, so a steady flow
			// allocates nothing; one grown by a burst is let go instead
			// of pinning its memory for the loop's lifetime.
			spent := q.batch[:0]
			if cap(spent) > maxKeptTasks {
				spent = nil
			}
			q.mu.Lock()
			q.batch, q.pending = q.pending, spent
			q.waiting.Store(0)
			q.mu.Unlock()
			q.next = 0
			q.left.Store(int64(len(q.batch)))
		}
		fn := q.batch[q.next]
		q.batch[q.next] = nil
		q.next++
		l.taskBudget--
		fn()
	}
}

// drop discards every waiting task; release calls it after marking the
// queue closed. It returns how many were dropped.
func (q *taskQueue) drop() int {
	n := len(q.batch) - q.next + len(q.pending)
	clear(q.batch)
	clear(q.pending)
	q.batch, q.pending, q.next = nil, nil, 0
	q.waiting.Store(0)
	q.left.Store(0)
	return n
}
