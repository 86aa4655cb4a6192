package engine

import (
	"time"

	"github.com/shardnet/shardnet/shard"
)

// connTimer multiplexes a connection's deadlines on one shard timer that is
// armed for the nearest of them. Traffic only stamps last; when the timer
// fires for the idle timeout and there was traffic, it re-arms for the rest
// of the interval, so a busy connection costs no heap work per read.
type connTimer struct {
	t        shard.Timer
	last     time.Duration // the last traffic, on the loop's clock
	readDL   time.Duration // 0: none
	writeDL  time.Duration // 0: none
	lingerDL time.Duration // 0: none
	beat     time.Duration // next heartbeat; 0: none
	rejected error         // OnClose's reason after reject
}

// timers returns the connection's timer block, making it on first use.
func (c *Conn) timers() *connTimer {
	if c.timer == nil {
		c.timer = &connTimer{last: c.sh.loop.Now()}
		c.sh.loop.InitTimer(&c.timer.t, c.onTimer)
	}
	return c.timer
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
	ct := c.timer
	if ct == nil || c.state == stateClosed {
		return
	}
	cfg := &c.sh.e.cfg
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
	pick(ct.beat)
	if cfg.idleTimeout > 0 {
		pick(ct.last + cfg.idleTimeout)
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
	ct := c.timer
	cfg := &c.sh.e.cfg
	now := c.sh.loop.Now()
	switch {
	case ct.lingerDL != 0 && now >= ct.lingerDL:
		c.closeNow(errLingerTimeout)
	case ct.readDL != 0 && now >= ct.readDL:
		c.closeNow(errReadTimeout)
	case ct.writeDL != 0 && now >= ct.writeDL && c.outLen() > 0:
		c.closeNow(errWriteTimeout)
	case cfg.idleTimeout > 0 && now-ct.last >= cfg.idleTimeout:
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
	ct := c.timers()
	if cfg.heartbeat > 0 {
		ct.beat = ct.last + cfg.heartbeat
	}
	c.armTimer()
}
