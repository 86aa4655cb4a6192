package engine

import (
	"sync/atomic"
	"time"

	"github.com/shardnet/shardnet/shard"
)

// Loop lag is sampled, not measured per event: every WithLagSampling
// period each shard arms a one-shot timer on its own heap and, when it
// fires, records how late it fired. That lateness is what any event
// arriving at the same moment waits before the shard gets to it — the
// rest of the round in progress (a handler that blocks, a long dispatch
// of ready fds), then the timers and tasks ahead of it — so a blocked
// shard shows up as samples as long as the block, while an idle one shows
// the wake-up latency of epoll_wait (its timeout is in whole
// milliseconds, so samples under about 1 ms are at its resolution, not
// work). The per-message path does not change: one atomic add per sample.

// lagBounds are the upper bounds of the lag histogram's buckets: from the
// wake-up latency of an idle loop to a shard stuck for seconds.
func lagBounds() []time.Duration {
	return []time.Duration{
		100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
		time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
		10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2500 * time.Millisecond, 5 * time.Second,
	}
}

// numLagBounds is len(lagBounds()); TestLagBounds keeps the two in step.
const numLagBounds = 15

// LagHistogram is a snapshot of a shard's loop-lag samples (see
// WithLagSampling): how late a timer due on the shard ran.
type LagHistogram struct {
	// Bounds are the buckets' upper bounds, ascending; the same for every
	// shard and every snapshot.
	Bounds []time.Duration
	// Counts holds the samples per bucket, not cumulative: Counts[i]
	// counts the samples in (Bounds[i-1], Bounds[i]], and the last entry,
	// Counts[len(Bounds)], those above the last bound.
	Counts []uint64
	// Count is the number of samples: the sum of Counts.
	Count uint64
	// Sum is the samples' total.
	Sum time.Duration
}

// lagHistogram is a shard's loop-lag histogram. The shard's loop writes
// it (one sample per period); Stats reads it from any goroutine.
type lagHistogram struct {
	buckets [numLagBounds + 1]atomic.Uint64
	sum     atomic.Int64 // nanoseconds
}

// record adds one sample. Loop only (one writer), but atomic for Stats.
func (h *lagHistogram) record(d time.Duration, bounds []time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(bounds) && d > bounds[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sum.Add(int64(d))
}

// snapshot returns the histogram's counts now. Any goroutine; each bucket
// is read atomically, the set is not one instant, and Count is the sum of
// the counts read, so a scrape's buckets always add up to its count.
func (h *lagHistogram) snapshot(bounds []time.Duration) LagHistogram {
	// bounds is the caller's copy: the engine's own, which record reads,
	// never leaves the package.
	s := LagHistogram{Bounds: bounds, Counts: make([]uint64, len(h.buckets))}
	for i := range h.buckets {
		s.Counts[i] = h.buckets[i].Load()
		s.Count += s.Counts[i]
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// startLagSampling arms the shard's lag timer. Loop only (a task New
// queues), like every timer on the shard's heap; the loop's Close drops
// it with the rest.
func (s *shardCtx) startLagSampling(period time.Duration) {
	bounds := s.e.lagBounds
	due := s.loop.Now() + period
	var t *shard.Timer
	t = s.loop.AfterFunc(period, func() {
		now := s.loop.Now()
		s.lag.record(now-due, bounds)
		// Re-armed from now rather than periodic: the deadline is then
		// known here exactly (due is taken just before Reset reads its
		// clock, so a sample errs by nanoseconds, late), and after a long
		// block the next sample still comes a whole period later.
		due = now + period
		t.Reset(period)
	})
}
