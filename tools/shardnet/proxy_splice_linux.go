package main

import "golang.org/x/sys/unix"

// The -splice relay moves bytes socket -> pipe -> socket inside the kernel.
//
// The engine has no hook that tells a handler "src is readable" without
// reading it, nor one that watches a raw fd on a shard, so the relay rides
// on OnTraffic: the engine reads a small lead (spliceLeadRead, its read
// buffer size in this mode) and calls OnTraffic, which forwards the lead
// and then splices whatever else the socket holds, up to spliceBudget. The
// EOF and socket errors stay sticky in the socket, so the engine's next read
// still sees them. When dst is full the bytes left in the pipe are copied
// out and queued on dst like any relayed bytes (the engine then waits for
// EPOLLOUT, which the relay cannot), and src is paused until they leave.

const (
	// spliceLeadRead is the engine's read buffer in -splice mode: the
	// bytes each readiness costs a copy before splicing takes over. Reads
	// shorter than it emptied the socket and are relayed by copy, so small
	// messages never pay for splice's extra syscalls. Measured here (iperf3
	// and bench 64 B x 16 through the proxy): 16 KiB kept bulk at splice's
	// ~300 ms of proxy CPU per GB (copy: ~650) and small messages at the
	// copy path's rate, where 512 B cost them 40%.
	spliceLeadRead = 16 << 10
	// spliceBudget caps the bytes one OnTraffic splices, so one busy pair
	// cannot starve the others on its shard.
	spliceBudget = 1 << 20
	// splicePipe is the pipe size asked for (F_SETPIPE_SZ); the kernel's
	// 64 KiB default is kept if it refuses.
	splicePipe  = 256 << 10
	spliceFlags = unix.SPLICE_F_NONBLOCK | unix.SPLICE_F_MOVE
)

// spliceState is a direction's pipe. Loop only.
type spliceState struct {
	r, w int  // the pipe's ends, -1 until first used
	size int  // the pipe's capacity
	n    int  // bytes in the pipe
	off  bool // splice failed to start on these sockets: copy instead
	used bool // a splice from src has succeeded
}

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
	if d.paused || d.eof || d.sp.off || dst.Closed() {
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
			d.pause()
			return
		}
	}
	if d.sp.r < 0 && !d.sp.open() {
		d.sp.off = true
		return
	}
	srcFd, dstFd := d.src.Fd(), dst.Fd()
	for moved := 0; moved < spliceBudget; {
		if d.sp.n == 0 {
			n, err := unix.Splice(srcFd, nil, d.sp.w, nil, d.sp.size, spliceFlags)
			switch {
			case err == unix.EINTR:
				continue
			case err == unix.EAGAIN:
				return
			case err == unix.EINVAL && !d.sp.used:
				d.sp.off = true // these sockets cannot splice: copy
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
			d.sp.n = int(n)
		}
		m, err := unix.Splice(d.sp.r, nil, dstFd, nil, d.sp.n, spliceFlags)
		if m > 0 {
			d.sp.n -= int(m)
			moved += int(m)
		}
		switch {
		case err == unix.EINTR || (err == nil && m > 0):
		case err == unix.EAGAIN || err == nil:
			d.flushPipe()
			return
		case err != nil:
			dst.Abort() // the pair follows in closed
			return
		}
	}
}

// flushPipe copies what is left in the pipe into dst's engine queue and
// pauses src until it is sent: the engine then waits for dst to be
// writable, which the splice path has no way to do.
func (d *direction) flushPipe() {
	if d.sp.n == 0 {
		return
	}
	for d.sp.n > 0 {
		buf := d.p.pool.get(d.sp.n)
		n, err := unix.Read(d.sp.r, buf)
		if n <= 0 {
			d.p.pool.put(buf)
			if err == unix.EINTR {
				continue
			}
			d.dst.Abort() // the pipe lost bytes: the stream is broken
			return
		}
		d.sp.n -= n
		d.writeOwned(buf[:n])
	}
	if !d.paused {
		d.pause()
	}
}
