package relay

import (
	"sync/atomic"

	"github.com/shardnet/shardnet/engine"
)

// direction relays one way of a pair, from src to dst. Loop only.
//
// Flow control is the engine's: bytes go to dst with Write, which queues
// what the socket does not take at once, and dst's notify-mode watermarks
// call OnHighWater and OnLowWater on the Proxy, which hold and unhold
// src. The direction only keeps why src is paused: reading resumes when
// no reason is left.
type direction struct {
	pr       *pair
	src, dst *engine.Conn
	eof      bool           // src's EOF was read and passed on
	tuned    bool           // dst's send queue is sized for bulk (tuneSocket)
	holds    uint8          // why src is paused (hold*), 0: it is read
	bytes    uint64         // bytes relayed, copied and spliced
	total    *atomic.Uint64 // the Proxy's counter for this way
	sp       spliceState    // the splice path's pipe
}

// The reasons a direction's source is not read.
const (
	holdConnect uint8 = 1 << iota // the client waits for its backend
	holdWater                     // dst's queued output is above its high mark
	holdStall                     // splice: the pipe waits for dst to take bytes
)

func (d *direction) init(pr *pair, src *engine.Conn, total *atomic.Uint64) {
	d.pr = pr
	d.src = src
	d.total = total
	d.sp.r, d.sp.w = -1, -1
}

// hold stops reading src for reason r.
func (d *direction) hold(r uint8) {
	if d.holds == 0 && d.src != nil && !d.src.Closed() {
		d.src.PauseRead()
	}
	d.holds |= r
}

// unhold drops reason r, and reads src again if no other is left.
func (d *direction) unhold(r uint8) {
	if d.holds&r == 0 {
		return
	}
	d.holds &^= r
	if d.holds == 0 && d.src != nil && !d.src.Closed() {
		d.src.ResumeRead()
	}
}

// relay moves what src has buffered to dst, and when splicing, what is
// still in src's socket as well.
func (d *direction) relay() {
	src := d.src
	if d.dst == nil || d.dst.Closed() {
		src.Discard(src.Buffered())
		return
	}
	b, _ := src.Next(src.Buffered())
	if !d.tuned && len(b) >= bulkRead {
		d.tuned = true
		tuneSocket(d.dst, d.pr.splice)
	}
	d.forward(b)
	// A lead shorter than the read buffer emptied the socket: splicing
	// would only hear EAGAIN. Small messages stay on the copy path, and so
	// does a pair with a TLS side (pair.splice).
	if d.pr.splice && len(b) >= spliceLeadRead {
		d.spliceMore()
	}
}

// forward queues b on dst (b is valid only during the callback). Past dst's
// high mark the engine calls OnHighWater, from inside Write.
func (d *direction) forward(b []byte) {
	if len(b) == 0 {
		return
	}
	if _, err := d.dst.Write(b); err != nil {
		d.broken()
		return
	}
	d.count(len(b))
}

// count adds n relayed bytes.
func (d *direction) count(n int) {
	d.bytes += uint64(n)
	d.total.Add(uint64(n))
}

// broken ends the pair after dst refused bytes (closed under us, or over
// the engine's queue cap): dropping them and going on would corrupt the
// stream, so both ends see a reset instead.
func (d *direction) broken() {
	d.src.Abort()
	d.dst.Abort()
}
