package engine

import "fmt"

// WaterMode says what crossing a connection's high watermark does.
type WaterMode uint8

const (
	// WaterPause stops reading the connection while its queued output is
	// above the high watermark, and reads again, calling OnDrained, once
	// the output has fallen to the low one: libevent's write watermarks,
	// and what WithWatermarks sets for every connection.
	WaterPause WaterMode = iota
	// WaterNotify stops nothing: a handler that implements WaterNotifier
	// is told when the queued output passes the high watermark and when it
	// is back to the low one. A relay uses it to pause the other side of
	// the pair, not this one.
	WaterNotify
)

// WaterNotifier is implemented by handlers that want to hear about the
// watermarks of connections in WaterNotify mode. It is optional: the
// engine looks for it when a mark is crossed.
type WaterNotifier interface {
	// OnHighWater runs when c's queued output passes its high watermark;
	// it runs inside the Write (or AsyncWrite's arrival) that passed it.
	OnHighWater(c *Conn)
	// OnLowWater runs when c's queued output, after an OnHighWater, has
	// been sent down to its low watermark.
	OnLowWater(c *Conn)
}

// SetWatermarks gives the connection watermarks of its own, in place of
// WithWatermarks', and their mode (libevent's bufferevent_setwatermark is
// per bufferevent too). low must be in 0..high and high at most
// WithMaxQueuedOutput; otherwise it returns ErrInvalidOption and changes
// nothing. The new marks apply at once: output already past the new high
// mark pauses reading (or notifies) now. Loop only.
func (c *Conn) SetWatermarks(low, high int, mode WaterMode) error {
	if low < 0 || high < low || high > c.sh.e.cfg.maxQueued || mode > WaterNotify {
		return fmt.Errorf("%w: SetWatermarks(%d, %d, %d): want 0 <= low <= high <= the max queued output (%d) and a WaterMode",
			ErrInvalidOption, low, high, mode, c.sh.e.cfg.maxQueued)
	}
	if c.state == stateClosed {
		return ErrConnClosed
	}
	r := c.rares()
	r.lowWater, r.highWater = low, high
	c.flags |= flagOwnWater
	wasNotify := c.flags&flagWaterNotify != 0
	if mode == WaterNotify {
		c.flags |= flagWaterNotify
	} else {
		c.flags &^= flagWaterNotify
	}
	if c.flags&flagAboveHigh != 0 {
		// Past the old high mark: the new low mark or mode may end that.
		if c.outLen() <= low {
			c.belowLowWater()
			return nil
		}
		if wasNotify != (mode == WaterNotify) {
			c.updateInterest()
		}
		return nil
	}
	c.checkHighWater()
	return nil
}

// Watermarks reports the connection's watermarks and their mode: its own
// (SetWatermarks) or else the engine's (WithWatermarks, WithWaterMode).
// Loop only.
func (c *Conn) Watermarks() (low, high int, mode WaterMode) {
	if c.flags&flagWaterNotify != 0 {
		mode = WaterNotify
	}
	return c.lowWater(), c.highWater(), mode
}

// highWater is the connection's high watermark.
func (c *Conn) highWater() int {
	if c.flags&flagOwnWater != 0 {
		return c.extra.rare.highWater
	}
	return c.sh.e.cfg.highWater
}

// lowWater is the connection's low watermark.
func (c *Conn) lowWater() int {
	if c.flags&flagOwnWater != 0 {
		return c.extra.rare.lowWater
	}
	return c.sh.e.cfg.lowWater
}
