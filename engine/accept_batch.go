package engine

// acceptBatchMax bounds the accept4 calls of one wake-up of an acceptor, so
// that a flood of connections cannot hold its loop from the rest of its
// work.
const acceptBatchMax = 256

// acceptBatch sizes an acceptor's batches: how many accept4 calls one
// wake-up may make. A wake-up that reads the backlog until EAGAIN spends
// one failing call on it, a whole call per connection when wake-ups carry
// one each. The listening socket is watched level-triggered, so a batch
// may end before EAGAIN without leaving anyone waiting: the loop's next
// poll reports the listener again while the backlog holds connections, and
// the next batch takes them. The limit follows what recent wake-ups found:
// a wake-up that ends at EAGAIN after n calls sets it to n (the next one
// expecting as many stops before the failing call), and one that uses the
// whole limit doubles it, up to acceptBatchMax, so that a burst is taken
// in a few wake-ups. The first full batch after an EAGAIN does not grow
// it: it found what the limit predicted, and growing there would bring the
// failing call back every other wake-up. Loop only (the acceptor's).
type acceptBatch struct {
	limit int  // calls the next wake-up may make; 0 before the first
	held  bool // the last wake-up ended at EAGAIN
}

// size returns how many accept4 calls this wake-up may make.
func (b *acceptBatch) size() int {
	if b.limit < 1 {
		return 1
	}
	return b.limit
}

// drained records a wake-up that met EAGAIN after n calls (the failing
// one not counted).
func (b *acceptBatch) drained(n int) {
	b.limit, b.held = min(max(n, 1), acceptBatchMax), true
}

// filled records a wake-up that made all size() calls without meeting
// EAGAIN: more may be waiting.
func (b *acceptBatch) filled() {
	if b.held {
		b.held = false
		return
	}
	b.limit = min(2*b.size(), acceptBatchMax)
}
