package engine

// connTable is a shard's live connections by ID: an open-addressing hash
// table of *Conn with linear probing, the key being the Conn's own id. It
// holds 8 bytes per slot and at most 3/4 of the slots, where a Go map of
// uint64 to *Conn holds 16 bytes and a control byte per slot; on a server
// with many idle connections that difference is a tenth of what each
// connection costs. The zero value is an empty table. Not safe for
// concurrent use: the shard guards it with its mutex.
type connTable struct {
	slots []*Conn // len is 0 or a power of two; nil marks a free slot
	n     int     // occupied slots
	shift uint    // 64 - log2(len(slots))
}

// home returns the slot where the probe for id starts. IDs differ mostly
// in their low bits (a counter), so Fibonacci hashing spreads them over
// the table by their high product bits.
func (t *connTable) home(id uint64) int {
	return int((id * 0x9e3779b97f4a7c15) >> t.shift)
}

// get returns the connection with the id, or nil.
func (t *connTable) get(id uint64) *Conn {
	if t.n == 0 {
		return nil
	}
	mask := len(t.slots) - 1
	for i := t.home(id); ; i = (i + 1) & mask {
		c := t.slots[i]
		if c == nil || c.id == id {
			return c
		}
	}
}

// put adds c, whose id must not be in the table.
func (t *connTable) put(c *Conn) {
	if 4*(t.n+1) > 3*len(t.slots) {
		t.grow()
	}
	mask := len(t.slots) - 1
	i := t.home(c.id)
	for t.slots[i] != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = c
	t.n++
}

// remove deletes the connection with the id and reports whether it was
// there. The entries after it in its probe run move back (backward-shift
// deletion), so the table needs no tombstones.
func (t *connTable) remove(id uint64) bool {
	if t.n == 0 {
		return false
	}
	mask := len(t.slots) - 1
	i := t.home(id)
	for {
		c := t.slots[i]
		if c == nil {
			return false
		}
		if c.id == id {
			break
		}
		i = (i + 1) & mask
	}
	// i is now free; find an entry further on that may fill it: one whose
	// home is not in (i, j] cyclically.
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		c := t.slots[j]
		if c == nil {
			break
		}
		h := t.home(c.id)
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			t.slots[i] = c
			i = j
		}
	}
	t.slots[i] = nil
	t.n--
	return true
}

// grow doubles the table (from 64 slots) and re-inserts every entry.
func (t *connTable) grow() {
	old := t.slots
	size := max(2*len(old), 64)
	t.slots = make([]*Conn, size)
	t.shift = 64
	for s := size; s > 1; s >>= 1 {
		t.shift--
	}
	t.n = 0
	for _, c := range old {
		if c != nil {
			t.put(c)
		}
	}
}

// appendAll appends every connection in the table to dst.
func (t *connTable) appendAll(dst []*Conn) []*Conn {
	for _, c := range t.slots {
		if c != nil {
			dst = append(dst, c)
		}
	}
	return dst
}

// register makes a Conn of a connected fd on this shard and opens it. Loop
// only.
func (s *shardCtx) register(fd int, h Handler, isUnix bool) *Conn {
	return s.registerWith(fd, h, isUnix, nil)
}

// registerWith is register for an accepted fd whose listener may limit
// its rates (lr, nil for none): they apply before OnOpen. Loop only.
//
// The fd is watched only once OnOpen has returned, with the interest
// OnOpen left: a handler that pauses reading there (a relay waiting for
// its backend) then costs no epoll_ctl until it resumes, instead of an
// add and a delete. Whatever OnOpen does that needs the poller (a queued
// write, NotifyWritable, a graceful Close) watches the fd itself.
func (s *shardCtx) registerWith(fd int, h Handler, isUnix bool, lr *listenRate) *Conn {
	c := s.enterUnwatched(fd, h, isUnix)
	if lr != nil {
		c.applyListenRate(lr)
	}
	return c.openWith(h)
}

// openWith starts c's timers, runs OnOpen with h and then watches what
// OnOpen left of interest: the end of registerWith and of a dial's
// handover. It returns c.
func (c *Conn) openWith(h Handler) *Conn {
	c.startTimers()
	c.flags |= flagOpened
	if err := c.open(h); err != nil {
		c.reject(err)
		return c
	}
	c.updateInterest()
	return c
}

// enter makes a Conn of a connected fd on this shard, puts it in the
// tables and watches it, without opening it (register and registerTLS
// do). Loop only.
func (s *shardCtx) enter(fd int, h Handler, isUnix bool) *Conn {
	c := s.enterUnwatched(fd, h, isUnix)
	c.updateInterest()
	return c
}

// enterUnwatched is enter without watching the fd: the caller does, with
// updateInterest. Loop only.
func (s *shardCtx) enterUnwatched(fd int, h Handler, isUnix bool) *Conn {
	s.nextID++
	c := &Conn{sh: s, h: h, fd: int32(fd), id: uint64(s.idx)<<48 | s.nextID}
	if s.e.cfg.waterMode == WaterNotify {
		c.flags |= flagWaterNotify
	}
	s.mu.Lock()
	s.byID.put(c)
	s.mu.Unlock()
	s.opened.Add(1)
	return c
}

// open runs OnOpen. A panic there aborts the connection (its OnClose gets
// ErrPanic) like a panic in any other callback; it must not escape into the
// shard's task, which would leave the connection registered and its fd
// open with nobody to close it.
func (c *Conn) open(h Handler) error {
	defer c.recoverPanic()
	return h.OnOpen(c)
}

// forget removes a closed connection from the shard's tables.
func (s *shardCtx) forget(c *Conn) {
	s.mu.Lock()
	ok := s.byID.remove(c.id)
	s.mu.Unlock()
	if !ok {
		return
	}
	s.live.Add(-1)
	s.e.liveTotal.Add(-1)
	s.closed.Add(1)
}

// snapshot returns the live connections. Loop only.
func (s *shardCtx) snapshot() []*Conn {
	s.mu.Lock()
	all := s.byID.appendAll(make([]*Conn, 0, s.byID.n))
	s.mu.Unlock()
	return all
}

// lookup returns the live connection with the ID, from any goroutine. The
// result may close at any moment; use it only through the shard's queue.
func (s *shardCtx) lookup(id uint64) (*Conn, bool) {
	s.mu.Lock()
	c := s.byID.get(id)
	s.mu.Unlock()
	return c, c != nil
}
