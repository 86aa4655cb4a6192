package engine

import (
	"fmt"

	"syscall"
)

// directWriteMin is the size from which Write on an idle connection goes
// straight to the socket from the caller's slice: large payloads skip the
// copy, small ones are gathered into one writev at the end of the callback
// (measured on this machine: gathering helps small pipelined messages and
// hurts large ones).
const directWriteMin = 4096

// directWriteAlways is the size from which Write goes straight to the
// socket whenever nothing is queued, even after an earlier direct write in
// the same callback: copying that much to gather it costs more than the
// syscall it would save. Between directWriteMin and it, a write goes
// direct only while the handler has no input left unread, so that it is
// the callback's only answer: a handler answering pipelined requests one
// by one, 4 KiB each, has the next ones unread when it answers the first,
// and all its answers leave in one writev (a direct first one made that
// two system calls per batch, and the peer then read the batch in two).
const directWriteAlways = 64 << 10

// Write queues b for sending and returns len(b), or an error if the
// connection is closed or closing, or b would take the queued output past
// WithMaxQueuedOutput (ErrOutputFull; nothing is queued then). b may be
// reused as soon as Write returns. Loop only.
func (c *Conn) Write(b []byte) (int, error) {
	if err := c.writable(len(b)); err != nil {
		return 0, err
	}
	if c.flags&flagTLS != 0 {
		c.tlsQueue(c.extra.tls, b)
		return len(b), nil
	}
	if c.goesDirect(len(b)) {
		n, err := rawWrite(int(c.fd), b)
		if !c.sentDirect(n, err) {
			return 0, ErrConnClosed
		}
		if n == len(b) {
			c.markDirty() // see sentDirect
			return n, nil
		}
		c.queueCopy(b[max(n, 0):])
		c.waitWritable()
		return len(b), nil
	}
	c.queueCopy(b)
	c.markDirty()
	return len(b), nil
}

// WriteString is Write for a string. Loop only.
func (c *Conn) WriteString(s string) (int, error) {
	if err := c.writable(len(s)); err != nil {
		return 0, err
	}
	if c.flags&flagTLS != 0 {
		c.tlsQueueString(c.extra.tls, s)
		return len(s), nil
	}
	c.queueString(s)
	c.markDirty()
	return len(s), nil
}

// Writev writes the slices of bs in order, as one write, and returns their
// total length, or an error as Write does. It is codec.VectorSink's
// Writev, so an encoder hands a header and its payload over in one call.
// Like Write, it goes straight to the socket, in one writev from the
// caller's slices, when nothing is queued and the total is large (as for
// Write). A smaller one goes straight too when it is the callback's whole
// answer: nothing queued or written before it in this callback and no
// input left unread (see sendsAlone). Otherwise the slices are copied and
// leave with the callback's other output. Either way bs and its slices may
// be reused as soon as Writev returns. Loop only.
func (c *Conn) Writev(bs [][]byte) (int, error) {
	total := 0
	for _, b := range bs {
		total += len(b)
	}
	if err := c.writable(total); err != nil {
		return 0, err
	}
	if c.flags&flagTLS != 0 {
		for _, b := range bs {
			c.tlsQueue(c.extra.tls, b)
		}
		return total, nil
	}
	if len(bs) <= maxIovecs && c.sendsAlone(total) {
		return c.writevAlone(bs, total)
	}
	if len(bs) <= maxIovecs && c.goesDirect(total) {
		n, err := c.sh.iov.writev(int(c.fd), bs)
		return c.sentVector(bs, total, n, err)
	}
	for _, b := range bs {
		if len(b) > 0 {
			c.queueCopy(b)
		}
	}
	c.markDirty()
	return total, nil
}

// goesDirect reports whether a write of n bytes goes straight to the
// socket from the caller's memory: large payloads skip the copy when
// nothing is queued ahead of them and, below directWriteAlways, nothing is
// left to answer (see directWriteMin and directWriteAlways).
func (c *Conn) goesDirect(n int) bool {
	return c.outLen() == 0 && c.flags&(flagWantWrite|flagRated) == 0 &&
		(n >= directWriteMin && c.flags&flagDirty == 0 && c.sh.alone != c && c.Buffered() == 0 || n >= directWriteAlways)
}

// sendsAlone reports whether a Writev of n bytes below directWriteMin
// goes straight to the socket: when it is the callback's whole answer so
// far and nothing is left to answer (nothing queued, nothing written yet in
// this callback, no input unread). A vector write is one message by its
// contract, so such a write is most often the callback's only one, and
// sending it at once skips copying it into the output queue, taking and
// returning the queue's pooled block and the flush's bookkeeping (tools/rpc
// at 64 B and a fixed rate: one answer per callback; benchmarks/results/
// rpc-15f). A handler that writes again in the same callback has that
// write gathered as before (markSentAlone), so it costs one system call
// more than gathering both; Write keeps gathering small writes.
func (c *Conn) sendsAlone(n int) bool {
	return n < directWriteMin && c.flags&(flagWantWrite|flagRated|flagDirty) == 0 &&
		c.sh.alone != c && c.outLen() == 0 && c.Buffered() == 0
}

// writevAlone sends the small vector bs (total bytes) with one system call,
// as Writev does when sendsAlone holds: a vector that fits the shard's
// scratch is gathered there and leaves in one write, a larger one in one
// writev from the caller's slices. What the socket does not take is queued
// and waits for EPOLLOUT. Loop only.
func (c *Conn) writevAlone(bs [][]byte, total int) (int, error) {
	s := c.sh
	var n int
	var err error
	if total <= len(s.small) {
		k := 0
		for _, b := range bs {
			k += copy(s.small[k:], b)
		}
		n, err = rawWrite(int(c.fd), s.small[:k])
	} else {
		n, err = s.iov.writev(int(c.fd), bs)
	}
	if n == total && err == nil {
		c.sentDirect(n, nil)
		c.markSentAlone()
		return n, nil
	}
	return c.sentVector(bs, total, n, err)
}

// markSentAlone follows a lone answer that went out whole. Later writes
// of the same callback on c must be gathered, as after any direct write
// (sendsAlone and goesDirect), but c need not join the dirty list for
// that: it has nothing queued and is as it was before the write, so the
// flush at the end of the callback would only go through drained's
// bookkeeping for nothing. The shard notes c in alone instead, one
// connection a callback, which flushDirty clears. A second connection
// answering alone in the same callback, or one with a NotifyWritable
// pending (which drained answers at the end of the callback), is marked
// dirty as before. Loop only.
func (c *Conn) markSentAlone() {
	if s := c.sh; s.alone == nil && c.flags&flagNotifyWritable == 0 {
		s.alone = c
		return
	}
	c.markDirty()
}

// sentVector finishes a vector of total bytes written straight to the
// socket, n being what the system call sent and err its error: what the
// socket did not take is queued and waits for EPOLLOUT. It returns
// Writev's result. Loop only.
func (c *Conn) sentVector(bs [][]byte, total, n int, err error) (int, error) {
	if !c.sentDirect(n, err) {
		return 0, ErrConnClosed
	}
	if n == total {
		c.markDirty() // see sentDirect
		return n, nil
	}
	for _, b := range bs {
		if n >= len(b) {
			n -= len(b)
			continue
		}
		c.queueCopy(b[max(n, 0):])
		n = 0
	}
	c.waitWritable()
	return total, nil
}

// sentDirect accounts for the n bytes a direct write sent, err being the
// system call's error, and reports false if the write failed and closed
// the connection. After a full write the caller marks the connection dirty
// with nothing queued, so that later medium writes of this callback are
// gathered into one writev instead of a syscall each; after a short one it
// queues the rest and calls waitWritable.
func (c *Conn) sentDirect(n int, err error) bool {
	if err != nil && err != syscall.EAGAIN {
		c.closeNow(wrapSyscall("write", err))
		return false
	}
	if n > 0 {
		c.sh.bytesOut.Add(uint64(n))
		c.touchWrite()
	}
	return true
}

// waitWritable makes queued output wait for EPOLLOUT: the socket is full.
func (c *Conn) waitWritable() {
	c.flags |= flagWantWrite
	c.updateInterest()
	c.armWriteDeadline()
	c.checkHighWater()
}

// WriteOwned queues b without copying it: the engine owns b until release
// runs, exactly once, with true once b was sent or false if the connection
// closed first. For large payloads. Loop only.
//
// release runs on the shard, after the flush (or close) that finished
// with b has done its own bookkeeping, never in the middle of it: it may
// call anything a callback may on this connection or any other of the
// shard (Write, WriteOwned, Flush, Close, Abort). A panic in it aborts its
// connection, as in any callback, and no other; the other releases due
// still run, each once. If the connection is already closed, the panic is
// logged and counted instead. When a hook closes another connection, that
// connection's OnClose may run before the hooks of the output its close
// dropped (they run after the hook that is running, in order).
//
// On a TLS connection b is sealed into records at once, after the
// plaintext written before it, and release runs when the kernel has taken
// their ciphertext.
func (c *Conn) WriteOwned(b []byte, release func(sent bool)) error {
	if err := c.writable(len(b)); err != nil {
		return err
	}
	if c.flags&flagTLS != 0 {
		return c.tlsWriteOwned(c.extra.tls, b, nil, release)
	}
	c.queueOwned(b, release)
	c.markDirty()
	return nil
}

// Flush sends queued output now instead of at the end of the callback.
// Loop only.
func (c *Conn) Flush() error {
	if c.state == stateClosed {
		return ErrConnClosed
	}
	if c.flags&flagWantWrite == 0 {
		c.flush()
	}
	if c.state == stateClosed {
		return ErrConnClosed
	}
	return nil
}

func (c *Conn) writable(n int) error {
	if c.state != stateOpen || c.flags&(flagWriteShut|flagShutPend) != 0 {
		return ErrConnClosed
	}
	if c.flags&flagTLS != 0 {
		n += len(c.extra.tls.plain) // plaintext gathered for the next seal
	}
	if c.outLen()+n+int(c.asyncQueued.Load()) > c.sh.e.cfg.maxQueued {
		return fmt.Errorf("%w: %d queued + %d", ErrOutputFull, c.outLen(), n)
	}
	return nil
}

// markDirty schedules a flush at the end of the current callback.
func (c *Conn) markDirty() {
	if c.flags&(flagDirty|flagWantWrite) == 0 {
		c.flags |= flagDirty
		c.sh.dirty = append(c.sh.dirty, c)
	}
	c.checkHighWater()
}

func (c *Conn) checkHighWater() {
	if c.flags&flagAboveHigh == 0 && c.outLen() > c.highWater() {
		c.flags |= flagAboveHigh
		if c.flags&flagWaterNotify == 0 {
			c.updateInterest() // stop reading
		} else if n, ok := c.h.(WaterNotifier); ok {
			n.OnHighWater(c)
		}
	}
}

// flush writes queued output until it is gone or the socket is full.
func (c *Conn) flush() {
	s := c.sh
	if c.flags&flagTLS != 0 && !c.tlsSeal(c.extra.tls) {
		return
	}
	for c.outLen() > 0 {
		s.bufs = c.buf.out.Buffers(s.bufs[:0], maxIovecs)
		if c.flags&flagRated != 0 && !c.capWrite() {
			return // the write bucket is empty: the rate timer flushes
		}
		want := 0
		for _, b := range s.bufs {
			want += len(b)
		}
		n, err := s.iov.writev(int(c.fd), s.bufs)
		if n > 0 {
			c.sentOut(n)
			if c.flags&flagRated != 0 {
				c.wroteRated(n)
			}
			c.touchWrite()
			// What was sent is off the queue and counted: the release
			// hooks it finished (handler code) may run now.
			if s.runReleases(); c.state == stateClosed {
				return // a release closed it
			}
			if c.flags&flagAboveHigh != 0 && c.outLen() <= c.lowWater() {
				if c.belowLowWater(); c.state == stateClosed {
					return // OnDrained or OnLowWater closed it
				}
			}
		}
		if err != nil && err != syscall.EAGAIN {
			c.closeNow(wrapSyscall("writev", err))
			return
		}
		if err == syscall.EAGAIN || n < want {
			// The socket buffer is full: wait for EPOLLOUT rather than
			// spend a syscall to hear EAGAIN.
			c.waitWritable()
			return
		}
	}
	c.drained()
}

// armWriteDeadline runs when queued output starts waiting for EPOLLOUT. The
// timer only watches the write deadline while output is queued, so a
// deadline set while nothing was queued is armed here; otherwise output
// that stalls later would never time out.
func (c *Conn) armWriteDeadline() {
	if c.extra != nil && c.extra.writeDL != 0 {
		c.armTimer()
	}
}

// belowLowWater resumes reading after the output fell under the low
// watermark, and tells the handler.
func (c *Conn) belowLowWater() {
	c.flags &^= flagAboveHigh
	if c.flags&flagWaterNotify != 0 {
		if n, ok := c.h.(WaterNotifier); ok && c.state == stateOpen {
			n.OnLowWater(c)
		}
		return
	}
	c.updateInterest()
	c.readResumed()
	// With a NotifyWritable pending, its OnDrained (once the queue is
	// empty) stands for this one too: two calls, one with bytes still
	// queued, would be indistinguishable to the handler.
	if c.state == stateOpen && c.flags&flagNotifyWritable == 0 {
		c.h.OnDrained(c)
	}
}

// drained runs when the queued output is gone.
func (c *Conn) drained() {
	if c.state == stateClosed {
		return
	}
	c.updateInterest() // drop EPOLLOUT interest
	switch {
	case c.state == stateClosing:
		c.shutWriteThenLinger()
	case c.flags&flagShutPend != 0:
		c.shutWrite()
	}
	c.notifyWritable()
}

func (c *Conn) touchWrite() {
	if c.extra != nil {
		c.extra.last = c.sh.loop.Now()
	}
}
