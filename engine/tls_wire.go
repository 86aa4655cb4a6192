package engine

import (
	"net"
	"time"

	"github.com/shardnet/shardnet/buffer"
)

// tlsWire is the net.Conn under a connection's tls.Conn: its ciphertext.
// It has two modes.
//
// While the handshake runs on its goroutine, Read parks (a blocking.Gate)
// until the shard has fed ciphertext (feed) or the connection ended
// (end), and Write hands a copy of the bytes to the shard's task queue,
// which queues them on the connection and flushes.
//
// Once the handshake is over (onLoop), only the shard touches the wire,
// without a lock: Read hands over the ciphertext kept from earlier
// reads (in) and then what the socket just gave (the shard's tlsSrc, in
// its read buffer), and when there is none it returns errWouldBlock, a
// temporary net.Error that crypto/tls does not store, so the next
// tls.Conn.Read resumes where this one stopped. Write appends to the
// outbound chain and never fails: crypto/tls keeps a write error for
// good.
//
// Read never hands over bytes past the end of the current record (cur),
// so crypto/tls holds at most one record, and whatever follows it, a
// close_notify's trailer included, stays here where the shard sees it.
//
// What only lives while the shard works on one connection (the
// ciphertext of the read being decrypted, the ciphertext of a WriteOwned
// being sealed) is the shard's, not the wire's: every idle TLS connection
// carries the wire, so each field here is paid per connection.
type tlsWire struct {
	c  *Conn
	hs *handshakeState // the handshake's state; nil once onLoop (handshakeDone drops it)

	// in holds unread ciphertext at in[off:] (pooled from c's shard; nil
	// when none). off is 32 bits, as every idle TLS connection holds one
	// and in never holds more than a shard read past holdHandshakeInput.
	// Both guarded by hs.mu until onLoop.
	in  []byte
	off int32

	cur    recordCursor // where the record being handed over ends
	onLoop bool         // set on the shard when the handshake has ended; read by the goroutine before that only
}

// holdHandshakeInput is how much ciphertext the shard buffers for a
// handshake that has not taken it before it stops reading the socket: a
// peer may send application data right behind its last flight, and it
// waits in the kernel (TCP's back-pressure) until the handshake is done,
// or until the handshake's goroutine has taken what is buffered and asks
// for more (a flight longer than this, with a long certificate chain).
const holdHandshakeInput = 64 << 10

// errWouldBlock is what the wire's Read says on the loop when it has no
// ciphertext left. crypto/tls stores every read error for good except a
// net.Error whose Temporary() is true (conn.go, readRecordOrCCS).
var errWouldBlock error = wouldBlockError{}

type wouldBlockError struct{}

func (wouldBlockError) Error() string   { return "engine: no TLS ciphertext buffered" }
func (wouldBlockError) Timeout() bool   { return false }
func (wouldBlockError) Temporary() bool { return true }

// Read gives crypto/tls ciphertext, up to the end of the current record.
func (w *tlsWire) Read(p []byte) (int, error) {
	if w.onLoop {
		return w.readLoop(p)
	}
	hs := w.hs
	hs.mu.Lock()
	defer hs.mu.Unlock()
	for {
		if w.unread() {
			return w.take(p), nil
		}
		if hs.end != nil {
			return 0, hs.end
		}
		if hs.held {
			// Everything buffered is taken and more is needed: the shard
			// reads again (unless the connection is gone: then finish
			// wakes us with its error).
			hs.held = false
			if w.c.sh.loop.Submit(hs.resumeFn) != nil {
				return 0, ErrEngineStopped
			}
		}
		hs.gate.Wait(&hs.mu)
	}
}

// take copies the next bytes of in, up to the record's end, into p. The
// caller holds hs.mu or the wire is on the loop.
func (w *tlsWire) take(p []byte) int {
	b := w.in[w.off:]
	n := w.cur.take(b[:min(len(p), len(b))])
	copy(p, b[:n])
	w.off += int32(n)
	if int(w.off) == len(w.in) {
		w.c.sh.pool.Put(w.in)
		w.in, w.off = nil, 0 // an idle connection holds no ciphertext buffer
	}
	return n
}

// unread reports whether in holds ciphertext not handed over yet. The
// caller holds hs.mu or the wire is on the loop.
func (w *tlsWire) unread() bool { return int(w.off) < len(w.in) }

// add appends b to in, after its unread part. The caller holds hs.mu or
// the wire is on the loop.
func (w *tlsWire) add(b []byte) {
	in, off := appendPooled(w.c.sh.pool, w.in, int(w.off), b)
	w.in, w.off = in, int32(off)
}

func (w *tlsWire) readLoop(p []byte) (int, error) {
	if w.unread() {
		return w.take(p), nil
	}
	src := w.src()
	if len(src) == 0 {
		return 0, errWouldBlock
	}
	n := w.cur.take(src[:min(len(p), len(src))])
	copy(p, src[:n])
	w.c.sh.tlsSrc = src[n:]
	return n, nil
}

// src returns the ciphertext of the shard's read in progress if it is
// this connection's (setSrc), else nil. Loop only.
func (w *tlsWire) src() []byte {
	if s := w.c.sh; s.tlsSrcOf == w.c {
		return s.tlsSrc
	}
	return nil
}

// setSrc makes b, just read into the shard's read buffer, the next
// ciphertext Read hands over, after what in holds. keepSrc must follow
// before the read buffer is reused. Loop only, once onLoop.
func (w *tlsWire) setSrc(b []byte) {
	s := w.c.sh
	s.tlsSrc, s.tlsSrcOf = b, w.c
}

// pending reports whether ciphertext waits to be handed over. Loop only,
// once onLoop.
func (w *tlsWire) pending() bool { return w.unread() || len(w.src()) > 0 }

// keepSrc copies what is left of the read setSrc gave into in, before the
// shard's read buffer is reused. Loop only, once onLoop.
func (w *tlsWire) keepSrc() {
	s := w.c.sh
	if s.tlsSrcOf != w.c {
		return
	}
	if len(s.tlsSrc) > 0 {
		w.add(s.tlsSrc)
	}
	s.tlsSrc, s.tlsSrcOf = nil, nil
}

// feed adds ciphertext the shard read for the handshake, and wakes its
// goroutine. It reports true when the handshake has holdHandshakeInput
// bytes or more buffered: the shard then stops reading until the
// goroutine asks for more (Read) or the handshake ends. Loop only.
func (w *tlsWire) feed(b []byte) (hold bool) {
	hs := w.hs
	hs.mu.Lock()
	w.add(b)
	hold = len(w.in)-int(w.off) >= holdHandshakeInput
	hs.held = hold
	hs.mu.Unlock()
	hs.gate.Wake()
	return hold
}

// firstRecordWhole reports whether the buffered ciphertext holds the
// client's whole first record, or enough to show it is not one crypto/tls
// would wait for (not a handshake record, or longer than any record may
// be): either way the handshake may start. Loop only, in the hello phase.
func (w *tlsWire) firstRecordWhole() bool {
	w.hs.mu.Lock()
	defer w.hs.mu.Unlock()
	b := w.in[w.off:]
	if len(b) < recordHeaderLen {
		return false
	}
	n := int(b[3])<<8 | int(b[4])
	return b[0] != recordTypeHandshake || n > maxRecordLen || len(b) >= recordHeaderLen+n
}

// finish ends the handshake's reads and writes with err (the connection
// closed) and wakes its goroutine. Loop only, before onLoop.
func (w *tlsWire) finish(err error) {
	hs := w.hs
	hs.mu.Lock()
	if hs.end == nil {
		hs.end = err
	}
	hs.mu.Unlock()
	hs.gate.Wake()
}

// release gives the wire's buffers back when the connection closes. Loop
// only; the handshake goroutine, if any, no longer reads in (finish ran).
func (w *tlsWire) release() {
	if hs := w.hs; hs != nil {
		hs.mu.Lock()
		defer hs.mu.Unlock()
	}
	w.c.sh.pool.Put(w.in)
	w.in, w.off = nil, 0
	if s := w.c.sh; s.tlsSrcOf == w.c {
		s.tlsSrc, s.tlsSrcOf = nil, nil
	}
}

// Write sends ciphertext crypto/tls made. It never fails on the loop.
func (w *tlsWire) Write(b []byte) (int, error) {
	if w.onLoop {
		switch s := w.c.sh; {
		case s.tlsOwnedOf == w.c:
			s.tlsOwned, _ = appendPooled(s.pool, s.tlsOwned, 0, b)
		case w.c.state != stateClosed:
			w.c.queueCopy(b)
		}
		return len(b), nil
	}
	return w.writeHandshake(b)
}

// writeHandshake hands a copy of b to the shard, which queues and sends it
// in order with the handshake's other writes (the task queue is FIFO) and
// before the handshake's end, whose task the goroutine posts last.
// Handshake goroutine only.
func (w *tlsWire) writeHandshake(b []byte) (int, error) {
	hs := w.hs
	hs.mu.Lock()
	err := hs.end
	hs.mu.Unlock()
	if err != nil {
		return 0, err
	}
	c := w.c
	cp := append([]byte(nil), b...)
	if c.sh.loop.Submit(func() {
		if c.state == stateClosed {
			return
		}
		c.queueCopy(cp)
		c.markDirty()
		c.sh.flushDirty()
	}) != nil {
		return 0, ErrEngineStopped
	}
	return len(b), nil
}

// Close does nothing: the engine closes the connection, and crypto/tls's
// Close is never called.
func (w *tlsWire) Close() error { return nil }

// LocalAddr returns nil: crypto/tls does not ask.
func (w *tlsWire) LocalAddr() net.Addr { return nil }

// RemoteAddr returns nil: crypto/tls does not ask.
func (w *tlsWire) RemoteAddr() net.Addr { return nil }

// SetDeadline does nothing: the handshake's bound is the connection's
// timer (WithHandshakeTimeout), and on the loop nothing blocks.
// crypto/tls's CloseWrite sets a write deadline around close_notify.
func (w *tlsWire) SetDeadline(time.Time) error { return nil }

// SetReadDeadline does nothing; see SetDeadline.
func (w *tlsWire) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline does nothing; see SetDeadline.
func (w *tlsWire) SetWriteDeadline(time.Time) error { return nil }

// appendPooled appends b to the unread part of buf (buf[off:]), moving it
// to a larger pooled block when it does not fit, and returns the new
// buffer and offset.
func appendPooled(pool *buffer.Pool, buf []byte, off int, b []byte) ([]byte, int) {
	buf, off = growPooled(pool, buf, off, len(b))
	return append(buf, b...), off
}

// growPooled makes room for extra more bytes after the unread part of buf
// (buf[off:]), moving it to a larger pooled block when it must.
func growPooled(pool *buffer.Pool, buf []byte, off, extra int) ([]byte, int) {
	if off > 0 && off == len(buf) {
		buf, off = buf[:0], 0
	}
	if len(buf)+extra <= cap(buf) {
		return buf, off
	}
	unread := len(buf) - off
	nb := pool.Get(max(2*(unread+extra), 4096))[:0]
	nb = append(nb, buf[off:]...)
	pool.Put(buf)
	return nb, 0
}

// The TLS record header: type (1 byte), version (2), length (2).
const (
	recordHeaderLen     = 5
	recordTypeHandshake = 22
	maxRecordLen        = 16384 + 2048 // the most any TLS version allows after the header
)

// recordCursor follows TLS record boundaries in the ciphertext handed to
// crypto/tls, so that a Read stops at the end of a record.
// It is 8 bytes, as every idle TLS connection holds one: a record's
// length fits 16 bits (the header's field is two bytes).
type recordCursor struct {
	hdr  [recordHeaderLen]byte
	hdrN uint8  // header bytes seen of the current record
	left uint16 // body bytes of the current record not yet handed over
}

// take returns how many of b's leading bytes may be handed over without
// passing the end of the current record, and counts them as handed over.
func (rc *recordCursor) take(b []byte) int {
	n := 0
	for n < len(b) {
		if rc.hdrN < recordHeaderLen {
			rc.hdr[rc.hdrN] = b[n]
			rc.hdrN++
			n++
			if rc.hdrN == recordHeaderLen {
				rc.left = uint16(rc.hdr[3])<<8 | uint16(rc.hdr[4])
				if rc.left == 0 {
					rc.hdrN = 0
					return n
				}
			}
			continue
		}
		k := min(int(rc.left), len(b)-n)
		n += k
		rc.left -= uint16(k)
		if rc.left == 0 {
			rc.hdrN = 0
			return n
		}
	}
	return n
}
