package engine

import (
	"time"

	"github.com/shardnet/shardnet/shard"
)

// connExtra is what few connections need, kept out of Conn so that an
// idle connection without deadlines costs its 80 bytes and no more: the
// one shard timer that serves all of a connection's deadlines, and a TLS
// connection's state. What fewer still need is one pointer further, in
// connRare, so that connExtra stays within the allocator's 128-byte
// class: every TLS connection holds one for its life.
//
// The timer is armed for the nearest deadline. Traffic only stamps last;
// when the timer fires for the idle timeout and there was traffic, it
// re-arms for the rest of the interval, so a busy connection costs no heap
// work per read.
type connExtra struct {
	t        shard.Timer
	last     time.Duration // the last traffic, on the loop's clock
	readDL   time.Duration // 0: none
	writeDL  time.Duration // 0: none
	lingerDL time.Duration // 0: none
	beat     time.Duration // next heartbeat; 0: none

	tls         *tlsConn      // a TLS connection's state (flagTLS)
	handshakeDL time.Duration // the TLS handshake's or PROXY header's deadline; 0: none
	rare        *connRare     // nil until one of its fields is needed (rares)

	// Set by SetIdleTimeout: idle replaces WithIdleTimeout's (0: the
	// engine's; < 0: none), counted from lastRead, or from last when
	// idleWrites.
	idle       time.Duration
	lastRead   time.Duration // the last input, on the loop's clock
	idleWrites bool
}

// connRare is what only connections using a feature of their own need:
// a rejection, a PROXY header, rate limits, their own watermarks.
type connRare struct {
	rejection error     // ErrRejected wrapping OnOpen's error, after reject
	proxy     *proxyIn  // a PROXY listener's connection: its header, then its addresses
	rate      *connRate // rate limits and group (flagRated)

	// Set by SetWatermarks (flagOwnWater): the connection's own marks.
	lowWater, highWater int
}

// extras returns the connection's connExtra, making it on first use.
func (c *Conn) extras() *connExtra {
	if c.extra == nil {
		now := c.sh.loop.Now()
		c.extra = &connExtra{last: now, lastRead: now}
		c.sh.loop.InitTimer(&c.extra.t, c.onTimer)
	}
	return c.extra
}

// rares returns the connection's connRare, making it (and connExtra) on
// first use.
func (c *Conn) rares() *connRare {
	ct := c.extras()
	if ct.rare == nil {
		ct.rare = &connRare{}
	}
	return ct.rare
}

// rare returns the connection's connRare, or nil if it has none.
func (c *Conn) rare() *connRare {
	if c.extra == nil {
		return nil
	}
	return c.extra.rare
}

// setDeadline stores an absolute deadline as a loop-clock one.
func (c *Conn) setDeadline(dl *time.Duration, t time.Time) {
	if c.state == stateClosed {
		return
	}
	if t.IsZero() {
		*dl = 0
	} else {
		*dl = max(c.sh.loop.Now()+time.Until(t), 1)
	}
	c.armTimer()
}

// armTimer schedules the timer for the nearest deadline, or stops it.
func (c *Conn) armTimer() {
	ct := c.extra
	if ct == nil || c.state == stateClosed {
		return
	}
	next := time.Duration(0)
	pick := func(d time.Duration) {
		if d != 0 && (next == 0 || d < next) {
			next = d
		}
	}
	pick(ct.readDL)
	if c.outLen() > 0 {
		pick(ct.writeDL)
	}
	pick(ct.lingerDL)
	pick(ct.handshakeDL)
	pick(ct.beat)
	if d, last := c.idleWindow(); d > 0 {
		pick(last + d)
	}
	if next == 0 {
		ct.t.Stop()
		return
	}
	ct.t.Reset(max(next-c.sh.loop.Now(), 0))
}

// onTimer runs when the nearest deadline may have passed.
func (c *Conn) onTimer() {
	if c.state == stateClosed {
		return
	}
	defer c.recoverPanic()
	ct := c.extra
	cfg := &c.sh.e.cfg
	now := c.sh.loop.Now()
	switch {
	case ct.lingerDL != 0 && now >= ct.lingerDL:
		c.closeNow(errLingerTimeout)
	case ct.handshakeDL != 0 && now >= ct.handshakeDL:
		if c.proxyReading() {
			c.closeNow(errProxyTimeout)
		} else {
			c.closeNow(errHandshakeTime)
		}
	case ct.readDL != 0 && now >= ct.readDL:
		c.closeNow(errReadTimeout)
	case ct.writeDL != 0 && now >= ct.writeDL && c.outLen() > 0:
		c.closeNow(errWriteTimeout)
	case c.idledOut(now):
		// Closing connections too: one whose peer went silent mid-close
		// need not wait out the whole linger timeout.
		c.closeNow(errIdleTimeout)
	default:
		if ct.beat != 0 && now >= ct.beat {
			ct.beat = now + cfg.heartbeat
			cfg.onHeartbeat(c)
		}
		c.armTimer()
	}
	c.sh.flushDirty()
}

// startTimers arms the idle timeout and heartbeat of a new connection.
func (c *Conn) startTimers() {
	cfg := &c.sh.e.cfg
	if cfg.idleTimeout == 0 && cfg.heartbeat == 0 {
		return
	}
	ct := c.extras()
	if cfg.heartbeat > 0 {
		ct.beat = ct.last + cfg.heartbeat
	}
	c.armTimer()
}

// idleWindow returns the connection's idle timeout (0: none) and the
// moment it counts from.
func (c *Conn) idleWindow() (d, last time.Duration) {
	ct := c.extra
	switch {
	case ct.idle == 0:
		return c.sh.e.cfg.idleTimeout, ct.last
	case ct.idle < 0:
		return 0, 0
	case ct.idleWrites:
		return ct.idle, ct.last
	case c.flags&flagUserPaused != 0 || c.flags&(flagAboveHigh|flagWaterNotify) == flagAboveHigh:
		// A read timeout waits while reading is paused (PauseRead, the
		// pause watermark), as libevent's does: no input is expected.
		return 0, 0
	}
	return ct.idle, ct.lastRead
}

// readResumed runs when reading resumes after a pause: it restarts a read
// timeout, and comes back for TLS records left waiting in the TLS layer
// and for bytes that came behind a PROXY header (no socket event would).
func (c *Conn) readResumed() {
	if ct := c.extra; ct != nil && ct.idle > 0 && !ct.idleWrites {
		ct.lastRead = c.sh.loop.Now()
		c.armTimer()
	}
	if tc := c.tlsConnOf(); tc != nil && tc.more && c.wantRead() {
		c.sh.requeueRead(c)
	}
	if c.proxyIn() != nil {
		c.proxyResumed()
	}
}

// idledOut reports whether the idle timeout has passed at now.
func (c *Conn) idledOut(now time.Duration) bool {
	d, last := c.idleWindow()
	return d > 0 && now-last >= d
}

// SetIdleTimeout closes the connection (reason: a timeout error,
// errors.Is(err, ErrTimeout)) once d passes without input, counted again
// from each read, and from each write too when writes is true: libevent's
// bufferevent_set_timeouts. It replaces WithIdleTimeout for this
// connection; d == 0 goes back to the engine's, d < 0 turns it off here.
// Unlike the deadlines (SetReadDeadline), traffic pushes it back. A
// timeout that only reads push back waits while reading is paused
// (PauseRead, or the WaterPause watermark), and counts again from when it
// resumes. Loop only.
func (c *Conn) SetIdleTimeout(d time.Duration, writes bool) {
	if c.state == stateClosed {
		return
	}
	ct := c.extras()
	ct.idle, ct.idleWrites = d, writes
	// The timeout counts from the call, as libevent's does, not from
	// traffic before it.
	now := c.sh.loop.Now()
	ct.last, ct.lastRead = now, now
	c.armTimer()
}
