package relay

import (
	"github.com/shardnet/shardnet/internal/rawio"
	"golang.org/x/sys/unix"
)

// The splice path moves bytes socket -> pipe -> socket inside the kernel.
//
// The engine has no hook that tells a handler "src is readable" without
// reading it, so the relay rides on OnTraffic: the engine reads a small
// lead (spliceLeadRead, its read buffer size in this mode) and calls
// OnTraffic, which forwards the lead by copy and then splices whatever
// else the socket holds, up to spliceBudget. The EOF and socket errors
// stay sticky in the socket, so the engine's next read still sees them.
// Spliced bytes go into the shard's counters with Conn.CountBytes.
//
// When dst is full (EAGAIN with bytes left in the pipe) the relay stalls:
//
//	splicing ──dst EAGAIN──> stalled: src paused, dst.NotifyWritable
//	    ^                          │ the engine waits for EPOLLOUT on dst
//	    │                          v
//	    └──pipe emptied──── dst's OnDrained: the rest of the pipe is spliced
//	       (src resumed)    (EAGAIN again: stalled again)
//
// Nothing is copied out of the pipe: the bytes stay in the kernel until
// dst takes them. Splice needs both fds to be plaintext sockets: a TLS
// connection's bytes must pass through user space.

const (
	// spliceBudget caps the bytes one OnTraffic splices, so one busy pair
	// cannot starve the others on its shard.
	spliceBudget = 1 << 20
	// splicePipe is the pipe size asked for (F_SETPIPE_SZ); the kernel's
	// 64 KiB default is kept if it refuses.
	splicePipe = 256 << 10
	// spliceFlags keep every splice non-blocking, as rawio.Splice needs:
	// the sockets and the pipe are non-blocking too.
	spliceFlags = unix.SPLICE_F_NONBLOCK | unix.SPLICE_F_MOVE
)

func (s *spliceState) open() bool {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		return false
	}
	s.r, s.w = p[0], p[1]
	if sz, err := unix.FcntlInt(uintptr(s.w), unix.F_SETPIPE_SZ, splicePipe); err == nil {
		s.size = sz
	} else if sz, err := unix.FcntlInt(uintptr(s.w), unix.F_GETPIPE_SZ, 0); err == nil {
		s.size = sz
	} else {
		s.size = 64 << 10
	}
	return true
}

func (s *spliceState) close() {
	if s.r >= 0 {
		unix.Close(s.r)
		unix.Close(s.w)
		s.r, s.w, s.n = -1, -1, 0
	}
}

// spliceMore splices from src's socket to dst's while both allow it. It
// writes to dst's socket directly, so it runs only while dst has nothing
// queued in the engine: otherwise bytes would overtake each other.
func (d *direction) spliceMore() {
	dst := d.dst
	if d.holds != 0 || d.eof || d.sp.off || d.sp.stalled || dst.Closed() {
		return
	}
	if dst.OutboundBuffered() > 0 {
		// The lead went to dst's queue: send it now, splice if it left.
		// If dst is full, wait for the queue to leave rather than let the
		// engine read src a lead at a time.
		if dst.Flush() != nil {
			return
		}
		if dst.OutboundBuffered() > 0 {
			d.stall()
			return
		}
	}
	if d.sp.r < 0 && !d.sp.open() {
		d.sp.off = true
		return
	}
	srcFd := d.src.Fd()
	for moved := 0; moved < spliceBudget; {
		n, err := rawio.Splice(srcFd, d.sp.w, d.sp.size, spliceFlags)
		switch {
		case err == unix.EAGAIN:
			return
		case err == unix.EINVAL && !d.sp.used:
			d.sp.off = true // these fds cannot splice: copy
			return
		case err != nil:
			// Reset, say. The socket reports an error once, so the
			// engine's next read would see a plain EOF: end the pair
			// as the copy path does.
			d.src.Abort()
			return
		case n == 0:
			return // EOF stays readable: the engine's next read reports it
		}
		d.sp.used = true
		d.sp.n = n
		moved += n
		d.src.CountBytes(n, 0)
		if !d.drainPipe() {
			return
		}
	}
}

// drainPipe splices the pipe into dst's socket and reports whether it is
// empty. On EAGAIN it stalls; on an error it aborts dst (the pair follows
// in closed).
func (d *direction) drainPipe() bool {
	dstFd := d.dst.Fd()
	for d.sp.n > 0 {
		m, err := rawio.Splice(d.sp.r, dstFd, d.sp.n, spliceFlags)
		switch {
		case err == nil && m > 0:
			d.sp.n -= m
			d.dst.CountBytes(0, m)
			d.count(m)
			d.pr.p.spliced.Add(uint64(m))
		case err == unix.EAGAIN || err == nil:
			d.stall()
			return false
		default:
			d.dst.Abort()
			return false
		}
	}
	return true
}

// flushPipe copies what is left in the pipe into dst's engine queue, after
// src's EOF: nothing more will come to splice, and the engine then sends
// the rest and passes the half-close on after it.
func (d *direction) flushPipe() {
	d.sp.stalled = false
	if d.sp.n > 0 {
		d.copyPipe()
	}
}

// copyPipe is flushPipe's copy, out of line: its buffer escapes to the
// heap (16 KiB, zeroed), which a direction whose pipe is empty, every
// short connection's, must not pay at each EOF.
func (d *direction) copyPipe() {
	var buf [16 << 10]byte
	for d.sp.n > 0 {
		n, err := rawio.Read(d.sp.r, buf[:min(d.sp.n, len(buf))])
		if n <= 0 || err != nil {
			d.dst.Abort() // the pipe lost bytes: the stream is broken
			return
		}
		d.sp.n -= n
		d.forward(buf[:n])
	}
}
