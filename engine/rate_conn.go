package engine

import (
	"math"
	"time"

	"github.com/shardnet/shardnet/shard"
)

// connRate is a rate-limited connection's state (flagRated): its own
// buckets, its group, and whether a bucket ran dry. Loop only.
type connRate struct {
	read, write  rateCfg // the connection's own limits; off: none
	rb, wb       bucket
	group        *RateGroup
	rm, wm       memberState // its use of the group's buckets
	readBlocked  bool        // a read bucket is empty: no read interest until the timer
	writeBlocked bool        // a write bucket is empty: no flush until the timer
	timer        shard.Timer // fires at the next tick while a bucket is empty
}

// SetRateLimit limits how fast the connection reads and writes, with a
// token bucket for each direction (libevent's
// bufferevent_set_rate_limit); a zero RateLimit leaves that direction
// unlimited, and two zero ones remove the limits. Reading stops while the
// read bucket is empty, so TCP pushes back on the peer; output waits in
// the queue while the write bucket is empty (watermarks then apply as
// usual). It returns an error wrapping ErrInvalidOption for a bad limit,
// ErrConnClosed on a closed connection. Loop only.
func (c *Conn) SetRateLimit(read, write RateLimit) error {
	rc, err := read.compile("SetRateLimit read")
	if err != nil {
		return err
	}
	wc, err := write.compile("SetRateLimit write")
	if err != nil {
		return err
	}
	if c.state == stateClosed {
		return ErrConnClosed
	}
	r := c.rates()
	now := c.sh.loop.Now()
	r.read, r.write = rc, wc
	r.rb, r.wb = rc.full(now), wc.full(now)
	c.rateSettled()
	return nil
}

// SetRateGroup makes the connection a member of g, whose buckets it then
// shares with the group's other members on any shard (libevent's
// bufferevent_add_to_rate_limit_group), leaving the group it was in; nil
// leaves it. A connection leaves its group when it closes. Loop only.
func (c *Conn) SetRateGroup(g *RateGroup) {
	if c.state == stateClosed {
		return
	}
	if r := c.rare(); r == nil || r.rate == nil {
		if g == nil {
			return
		}
	}
	r := c.rates()
	if r.group == g {
		return
	}
	if r.group != nil {
		r.group.read.members.Add(-1)
		r.group.write.members.Add(-1)
	}
	r.group = g
	r.rm, r.wm = memberState{tick: -1}, memberState{tick: -1}
	if g != nil {
		g.read.members.Add(1)
		g.write.members.Add(1)
	}
	c.rateSettled()
}

// rates returns the connection's rate state, making it on first use.
func (c *Conn) rates() *connRate {
	cr := c.rares()
	if cr.rate == nil {
		cr.rate = &connRate{rm: memberState{tick: -1}, wm: memberState{tick: -1}}
		c.sh.loop.InitTimer(&cr.rate.timer, c.rateTimer)
	}
	return cr.rate
}

// rateSettled sets flagRated from the connection's limits and group, and
// lets it read and write again at once under the new ones.
func (c *Conn) rateSettled() {
	r := c.extra.rare.rate
	limited := r.read.on() || r.write.on() || r.group != nil
	if limited {
		c.flags |= flagRated
	} else {
		c.flags &^= flagRated
	}
	r.timer.Stop()
	if r.readBlocked {
		r.readBlocked = false
		c.updateInterest()
	}
	if r.writeBlocked {
		r.writeBlocked = false
		c.markDirty()
	}
}

// readAllowance returns how many bytes the connection may read now.
func (c *Conn) readAllowance(r *connRate) int64 {
	now := c.sh.loop.Now()
	allow := int64(math.MaxInt64)
	if r.read.on() {
		r.rb.refill(&r.read, now)
		allow = r.rb.tokens
	}
	if g := r.group; g != nil && g.read.cfg.on() {
		allow = min(allow, g.read.grant(&r.rm, now))
	}
	return allow
}

// writeAllowance returns how many bytes the connection may write now.
func (c *Conn) writeAllowance(r *connRate) int64 {
	now := c.sh.loop.Now()
	allow := int64(math.MaxInt64)
	if r.write.on() {
		r.wb.refill(&r.write, now)
		allow = r.wb.tokens
	}
	if g := r.group; g != nil && g.write.cfg.on() {
		allow = min(allow, g.write.grant(&r.wm, now))
	}
	return allow
}

// ratedRead is readReady for a rate-limited open connection: it reads at
// most the allowance (a smaller read buffer and budget), takes what it
// read from the buckets, and stops reading when they are empty.
func (c *Conn) ratedRead(ev shard.Events) {
	r := c.extra.rare.rate
	allow := c.readAllowance(r)
	if allow <= 0 {
		c.rateBlock(r, true)
		return
	}
	s := c.sh
	full := s.readBuf
	lim := int(min(allow, int64(len(full))))
	defer func() { s.readBuf, s.readMax = full, 0 }() // also when the handler panics
	s.readBuf, s.readMax = full[:lim], lim
	before := s.bytesIn.Load()
	if c.flags&flagTLS != 0 {
		c.tlsReadReady(c.extra.tls, lim)
	} else {
		c.readPlain(ev, lim)
	}
	n := int64(s.bytesIn.Load() - before)
	if r.read.on() {
		r.rb.tokens -= n
	}
	if g := r.group; g != nil && g.read.cfg.on() {
		g.read.take(&r.rm, n)
	}
	if n >= allow && c.state == stateOpen {
		c.rateBlock(r, true) // spent: no wake-up only to hear that
	}
}

// capWrite trims the shard's iovecs (s.bufs) to the write allowance, or
// blocks the flush until the next tick and reports false when it is
// empty.
func (c *Conn) capWrite() bool {
	r := c.extra.rare.rate
	allow := c.writeAllowance(r)
	if allow <= 0 {
		c.rateBlock(r, false)
		return false
	}
	s := c.sh
	for i, b := range s.bufs {
		if int64(len(b)) >= allow {
			s.bufs[i] = b[:allow]
			s.bufs = s.bufs[:i+1]
			break
		}
		allow -= int64(len(b))
	}
	return true
}

// wroteRated takes n written bytes from the write buckets.
func (c *Conn) wroteRated(n int) {
	r := c.extra.rare.rate
	if r.write.on() {
		r.wb.tokens -= int64(n)
	}
	if g := r.group; g != nil && g.write.cfg.on() {
		g.write.take(&r.wm, int64(n))
	}
}

// rateBlock stops reading (read) or flushing until the next tick of the
// limits in force, when the timer resumes it.
func (c *Conn) rateBlock(r *connRate, read bool) {
	if read {
		r.readBlocked = true
		c.sh.rateWaitsRead.Add(1)
		c.updateInterest()
	} else {
		r.writeBlocked = true
		c.sh.rateWaitsWrite.Add(1)
	}
	now := c.sh.loop.Now()
	next := time.Duration(math.MaxInt64)
	for _, rc := range [...]*rateCfg{&r.read, &r.write} {
		if rc.on() {
			next = min(next, rc.nextTick(now))
		}
	}
	if g := r.group; g != nil {
		for _, rc := range [...]*rateCfg{&g.read.cfg, &g.write.cfg} {
			if rc.on() {
				next = min(next, rc.nextTick(now))
			}
		}
	}
	if next != time.Duration(math.MaxInt64) {
		r.timer.Reset(next)
	}
}

// rateTimer resumes what an empty bucket stopped, at the next tick.
func (c *Conn) rateTimer() {
	if c.state == stateClosed {
		return
	}
	defer c.sh.flushDirty()
	defer c.recoverPanic()
	r := c.extra.rare.rate
	if r.readBlocked {
		r.readBlocked = false
		c.updateInterest()
		if c.sh.e.cfg.edge && c.wantRead() {
			c.sh.requeueRead(c) // bytes that waited raise no new edge
		}
	}
	if r.writeBlocked {
		r.writeBlocked = false
		if c.outLen() > 0 || c.flags&flagTLS != 0 {
			c.markDirty()
		}
	}
}

// rateClosed leaves the group and stops the timer of a closing
// connection. Loop only, from closeNow.
func (c *Conn) rateClosed() {
	r := c.extra.rare.rate
	r.timer.Stop()
	if g := r.group; g != nil {
		g.read.members.Add(-1)
		g.write.members.Add(-1)
		r.group = nil
	}
}

// rateReadBlocked reports whether an empty read bucket holds the
// connection's reading.
func (c *Conn) rateReadBlocked() bool { return c.extra.rare.rate.readBlocked }

// ListenRateLimit limits every connection the listener accepts, from its
// first byte (before OnOpen; on a ListenProxyProto listener, once the
// header is read): each reads at most read and writes at most write (a
// zero RateLimit: no limit that way), and with a group, each joins it.
// The handler may change them with SetRateLimit and SetRateGroup. A bad
// limit makes Listen fail with an error wrapping ErrInvalidOption.
func ListenRateLimit(read, write RateLimit, group *RateGroup) ListenOption {
	return func(lc *listenConfig) {
		lr := &listenRate{group: group}
		if lr.read, lr.err = read.compile("ListenRateLimit read"); lr.err == nil {
			lr.write, lr.err = write.compile("ListenRateLimit write")
		}
		lc.rate = lr
	}
}

// listenRate is a listener's rate limits, checked once in Listen.
type listenRate struct {
	read, write rateCfg
	group       *RateGroup
	err         error
}

// applyListenRate gives a new connection its listener's limits. Loop only.
func (c *Conn) applyListenRate(lr *listenRate) {
	if c.state == stateClosed {
		return
	}
	if lr.read.on() || lr.write.on() {
		r := c.rates()
		now := c.sh.loop.Now()
		r.read, r.write = lr.read, lr.write
		r.rb, r.wb = lr.read.full(now), lr.write.full(now)
	}
	if lr.group != nil {
		c.SetRateGroup(lr.group)
	}
	if r := c.rare(); r != nil && r.rate != nil {
		c.rateSettled()
	}
}
