package engine

// acceptBatchMax bounds the accept4 calls of one wake-up of an acceptor, so
// that a flood of connections cannot hold its loop from the rest of its
// work.
const acceptBatchMax = 256

// acceptPatienceMax bounds how many full batches in a row an acceptor waits
// for before it tries a larger one, after its tries have found nothing
// more: a burst that comes then waits at most that many rounds of the
// loop, a batch each, before the batches grow.
const acceptPatienceMax = 16

// acceptBatch sizes an acceptor's batches: how many accept4 calls one
// wake-up may make. A wake-up that reads the backlog until EAGAIN spends
// one failing call on it, a whole call per connection when wake-ups carry
// one each. The listening socket is watched level-triggered, so a batch
// may end before EAGAIN without leaving anyone waiting: the loop's next
// poll reports the listener again while the backlog holds connections, and
// the next batch takes them.
//
// The limit follows what recent wake-ups found. One that ends at EAGAIN
// after n calls sets it to n, so the next one that finds as many stops
// before the failing call. Full batches in a row (patience of them) double
// it, up to acceptBatchMax; a larger batch that is full again doubles it at
// once, so a burst is taken in a few wake-ups. A larger batch that ends at
// EAGAIN having found no more than the old limit was a wasted try: the
// patience doubles (up to acceptPatienceMax), so steady wake-ups of a few
// connections each rarely pay for a try. Loop only (the acceptor's).
type acceptBatch struct {
	limit    int // calls the next wake-up may make; 0 before the first
	full     int // full batches in a row
	patience int // full batches in a row that double the limit; 0: one
	tried    int // the limit before it last doubled, while that batch runs; else 0
}

// size returns how many accept4 calls this wake-up may make.
func (b *acceptBatch) size() int {
	return max(b.limit, 1)
}

// drained records a wake-up that met EAGAIN after n calls (the failing
// one not counted).
func (b *acceptBatch) drained(n int) {
	switch {
	case b.tried > 0 && n <= b.tried && b.patience >= 2:
		// A try after a wait found no more than the old limit.
		b.patience = min(2*b.patience, acceptPatienceMax)
	case b.tried > 0 && n > b.tried:
		b.patience = 2 // the try found more: try again soon
	case b.patience < 2:
		// After an EAGAIN the first full batch found what the limit
		// predicted; only a second in a row says more may be coming
		// (and a burst that ended is no failed try).
		b.patience = 2
	}
	b.limit, b.full, b.tried = min(max(n, 1), acceptBatchMax), 0, 0
}

// filled records a wake-up that made all size() calls without meeting
// EAGAIN: more may be waiting.
func (b *acceptBatch) filled() {
	if b.tried > 0 {
		b.patience = 1 // the larger batch was full too: keep doubling
	}
	b.full++
	b.tried = 0
	if b.full < max(b.patience, 1) || b.size() >= acceptBatchMax {
		return
	}
	b.tried, b.full = b.size(), 0
	b.limit = min(2*b.size(), acceptBatchMax)
}
