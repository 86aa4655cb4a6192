//go:build linux

package main

import "github.com/shardnet/shardnet/engine"

// direction relays one way of a pair, from src to dst, with back-pressure.
// Loop only.
//
// Flow control: bytes go to dst with Write while dst has nothing queued (the
// engine then writes large chunks straight from the read buffer); once dst
// has a queue, they are copied into pooled buffers handed over with
// WriteOwned, whose release tells when each buffer has left. Past proxyHigh
// queued bytes src is paused; the release that brings the queue under
// proxyLow resumes it. A pause always has an owned buffer outstanding, so a
// release is sure to come. The engine's OnDrained would not do: it comes
// with the engine pausing dst itself, which stalls the other direction.
type direction struct {
	p        *pair
	src, dst *engine.Conn
	eof      bool // src's EOF was read and passed on
	paused   bool // src is paused because dst's queue passed proxyHigh

	owned      [][]byte // buffers handed to dst with WriteOwned, oldest first from ownedHead
	ownedHead  int
	ownedBytes int // capacity of the outstanding owned buffers
	onSent     func(sent bool)

	sp spliceState // the -splice path's pipe
}

func (d *direction) init(p *pair, src *engine.Conn) {
	d.p = p
	d.src = src
	d.onSent = d.sent
	d.sp.r, d.sp.w = -1, -1
}

// relay moves what src has buffered to dst, and with -splice what is still
// in src's socket as well.
func (d *direction) relay() {
	src := d.src
	if d.dst == nil || d.dst.Closed() {
		src.Discard(src.Buffered())
		return
	}
	b, _ := src.Next(src.Buffered())
	d.forward(b)
	// A lead shorter than the read buffer emptied the socket: splicing
	// would only hear EAGAIN. Small messages stay on the copy path.
	if d.p.h.splice && len(b) >= spliceLeadRead {
		d.spliceMore()
	}
}

// forward queues b on dst (b is valid only during the callback) and pauses
// src if dst's queue is over the bound.
func (d *direction) forward(b []byte) {
	dst := d.dst
	if len(b) == 0 {
		return
	}
	if dst.OutboundBuffered() == 0 {
		if _, err := dst.Write(b); err != nil {
			d.broken()
			return
		}
	} else {
		for len(b) > 0 && !dst.Closed() {
			buf := d.p.pool.get(len(b))
			n := copy(buf, b)
			b = b[n:]
			d.writeOwned(buf)
		}
	}
	if !d.paused && (dst.OutboundBuffered() > proxyHigh || d.ownedBytes > proxyHigh) {
		d.pause()
	}
}

// writeOwned hands buf to dst; its release comes back through sent.
func (d *direction) writeOwned(buf []byte) {
	d.owned = append(d.owned, buf)
	d.ownedBytes += cap(buf)
	if err := d.dst.WriteOwned(buf, d.onSent); err != nil {
		// Not queued, so no release will come: take it back.
		d.owned = d.owned[:len(d.owned)-1]
		d.ownedBytes -= cap(buf)
		d.p.pool.put(buf)
		d.broken()
	}
}

// broken ends the pair after dst refused bytes (closed under us, or over
// the engine's queue cap): dropping them and going on would corrupt the
// stream, so both ends see a reset instead.
func (d *direction) broken() {
	d.src.Abort()
	d.dst.Abort()
}

// sent is the release of the oldest owned buffer: dst has sent it (or
// closed). Releases come in the order the buffers were queued.
func (d *direction) sent(sent bool) {
	if d.ownedHead == len(d.owned) {
		panic("proxy: release without an outstanding owned buffer")
	}
	buf := d.owned[d.ownedHead]
	d.owned[d.ownedHead] = nil
	d.ownedHead++
	if d.ownedHead == len(d.owned) {
		d.owned, d.ownedHead = d.owned[:0], 0
	}
	d.ownedBytes -= cap(buf)
	d.p.pool.put(buf)
	if d.sp.stalled {
		return // dst's OnDrained resumes (unstall)
	}
	if d.paused && (d.ownedHead == len(d.owned) || d.dst.OutboundBuffered() <= proxyLow) {
		d.paused = false
		if !d.src.Closed() {
			d.src.ResumeRead()
		}
	}
}

// pause stops reading src until dst's queue drains. Without an owned buffer
// outstanding nothing would resume it, so then it does not pause (the
// queue is one plain write, under the bound by construction).
func (d *direction) pause() {
	if d.ownedHead == len(d.owned) {
		return
	}
	d.paused = true
	d.src.PauseRead()
}

// release frees what the direction holds once both connections are closed.
// Owned buffers come back through sent when the engine drops them.
func (d *direction) release() { d.sp.close() }

// relayPool recycles a shard's relay buffers in three size classes. Loop
// only: one per shard, like the pairs that use it. It keeps at most
// poolKeep bytes per class; the rest goes to the garbage collector.
type relayPool struct {
	free [len(relayClasses)][][]byte
}

// relayClasses are the buffer sizes: small chunks do not pin large
// buffers, and no chunk needs more than the engine's 64 KiB read buffer.
var relayClasses = [...]int{4 << 10, 16 << 10, 64 << 10}

const poolKeep = 4 << 20

// get returns a buffer of length min(n, 64 KiB).
func (p *relayPool) get(n int) []byte {
	c := len(relayClasses) - 1
	for i, size := range relayClasses {
		if n <= size {
			c = i
			break
		}
	}
	n = min(n, relayClasses[c])
	if l := len(p.free[c]); l > 0 {
		b := p.free[c][l-1]
		p.free[c] = p.free[c][:l-1]
		return b[:n]
	}
	return make([]byte, n, relayClasses[c])
}

// put takes a buffer back.
func (p *relayPool) put(b []byte) {
	for i, size := range relayClasses {
		if cap(b) == size {
			if len(p.free[i])*size < poolKeep {
				p.free[i] = append(p.free[i], b[:0])
			}
			return
		}
	}
}
