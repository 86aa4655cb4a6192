package netconn

import (
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/internal/blocking"
)

// Conn is a shard connection seen as a net.Conn. Every method is safe from
// any goroutine; Read and Write are each safe from many goroutines at once
// (callers of one kind take turns, as on a net.TCPConn).
//
// The shard owns the connection; Conn keeps only what the goroutines
// share with it, under mu: the input the shard has read and Read has not
// yet taken, how much output Write has queued, why the connection ended,
// and the deadlines. The shard fills and wakes; the goroutines park and
// take (engine/internal/blocking, the layer netpollconn shares). Neither
// ever waits for the other while holding mu.
//
// A server holds a Conn per idle connection, so its fields are laid out
// to fit 192 bytes (a size class of the allocator) with the read Gate
// inside: the write Gate is made only when a writer must park or a write
// deadline is set (an idle keep-alive connection never has either), the
// network is asked of laddr, the unread input is resliced rather than
// indexed, and the sizes are int32.
type Conn struct {
	h     engine.Handle
	ops   *writeOps
	laddr net.Addr
	raddr net.Addr

	rmu sync.Mutex // held by the Read in progress: readers take turns
	wmu sync.Mutex // held by the Write in progress: writers take turns

	// rgate and wgate are where the reader and the writer park (at most
	// one of each, under rmu and wmu), with their deadlines; their
	// deadline fields are guarded by mu. wgate is guarded by mu and nil
	// until writeGate makes it.
	rgate blocking.Gate
	wgate *blocking.Gate

	mu       sync.Mutex
	in       []byte        // guarded by mu: the unread input; nil when none (or the parked reader's buffer: see direct)
	rerr     error         // guarded by mu: what Read returns once in is empty (io.EOF, a reset, the engine's stop)
	werr     error         // guarded by mu: what Write returns (the connection failed or is half-closed)
	flow     blocking.Flow // guarded by mu: pauses the shard while the reader lags
	inflight int32         // guarded by mu: bytes handed to AsyncWrite whose done has not run yet
	high     int32         // the write buffer (WithWriteBuffer), cut to fit the engine's cap
	chunk    int32         // guarded by wmu: the chunk size, cut to fit the engine's cap
	closed   bool          // guarded by mu: Close was called
	// direct is set while a Read is parked with in as its own buffer
	// (p[:0:len(p)]): the shard appends what arrives straight into p,
	// with no buffer of ours between, and Read returns it where it lies.
	// Input larger than p makes append move it all to an array of its
	// own, which Read then takes as usual. Guarded by mu.
	direct bool
	// pooled is set while in starts at a block of ops.bufs that holds
	// input nobody has read yet (it came before the reader parked): the
	// Read that takes all of it gives the block back. A Read that takes
	// part reslices in, and the block is then left to the GC. Guarded by
	// mu.
	pooled bool
}

// newConn makes the Conn of ec. Loop only (it asks ec for its addresses).
func newConn(ec *engine.Conn, cfg *config, ops *writeOps) *Conn {
	h, _ := ec.Engine().Conn(ec.ID()) // registered before OnOpen runs
	c := &Conn{
		h:     h,
		ops:   ops,
		laddr: ec.LocalAddr(),
		raddr: ec.RemoteAddr(),
		flow:  blocking.NewFlow(cfg.maxBuffered),
	}
	// Write posts a chunk only while less than high is in flight, so at
	// most high+chunk bytes are queued: keep that under the engine's cap
	// and the shard never refuses a chunk (which would lose it after
	// later ones had gone). Both fit an int32, and so does their sum
	// (inflight's bound).
	limit := min(ec.Engine().MaxQueuedOutput(), math.MaxInt32)
	high := max(min(cfg.writeHigh, limit/2), 1)
	c.high = int32(high)
	c.chunk = int32(max(min(cfg.chunk, limit-high), 1))
	return c
}

// ID returns the engine connection's ID. Any goroutine.
func (c *Conn) ID() uint64 { return c.h.ID() }

// Handle returns the engine's handle on the connection, for work that must
// run on its shard (Handle.Do). Any goroutine.
func (c *Conn) Handle() engine.Handle { return c.h }

// LocalAddr returns the local address. Any goroutine.
func (c *Conn) LocalAddr() net.Addr { return c.laddr }

// RemoteAddr returns the peer's address. Any goroutine.
func (c *Conn) RemoteAddr() net.Addr { return c.raddr }

func (c *Conn) opErr(op string, err error) error {
	network := "tcp"
	if c.laddr != nil {
		network = c.laddr.Network()
	}
	return opError(op, network, c.laddr, c.raddr, err)
}

// Read reads what has arrived into p, parking the goroutine until at least
// one byte is there, the peer has closed its side (io.EOF), the read
// deadline passes (an error for which errors.Is(err,
// os.ErrDeadlineExceeded) holds; the connection stays usable), or Close
// is called (an error wrapping net.ErrClosed). When the engine closes the
// connection itself (Engine.Stop, its idle or linger timeout), Read and
// Write fail with an error wrapping net.ErrClosed and the engine's reason,
// whose Timeout() is false: only the caller's own deadlines read as
// timeouts. As on net, a deadline
// already past fails the call before it looks at the input. Bytes that
// arrived before the connection ended are read before its error.
func (c *Conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.mu.Lock()
	for {
		switch {
		case c.closed:
			c.mu.Unlock()
			return 0, c.opErr("read", net.ErrClosed)
		case c.rgate.Expired():
			c.mu.Unlock()
			return 0, c.opErr("read", errDeadline)
		case len(p) == 0:
			c.mu.Unlock()
			return 0, nil
		case len(c.in) > 0:
			n := copy(p, c.in)
			if n == len(c.in) {
				c.dropInput() // an idle connection holds no input buffer
			} else {
				c.in = c.in[n:]
				c.pooled = false
			}
			resume := c.flow.Took(len(c.in))
			c.mu.Unlock()
			if resume {
				_ = c.h.ResumeRead()
			}
			return n, nil
		case c.rerr != nil:
			err := c.rerr
			c.mu.Unlock()
			return 0, err
		}
		if n, ok := c.waitDirect(p); ok {
			return n, nil
		}
	}
}

// waitDirect parks the reader with p as the input's buffer (direct). It
// reports the bytes the shard put into p, unlocking mu, when there are
// some; otherwise it returns with mu held for Read to look again (the
// wake-up was for EOF, a deadline or Close, or more arrived than p holds
// and now waits in in as usual). The caller holds mu and has seen no
// input, no error and a non-empty p.
func (c *Conn) waitDirect(p []byte) (int, bool) {
	c.in = p[:0:len(p)] // never past len(p): the rest of p's array is the caller's
	c.direct = true
	c.rgate.Wait(&c.mu)
	c.direct = false
	n := len(c.in)
	if n == 0 {
		c.in = nil
		return 0, false
	}
	if &c.in[0] != &p[0] {
		return 0, false // append moved it: more than p holds
	}
	c.in = nil
	resume := c.flow.Took(0)
	c.mu.Unlock()
	if resume {
		_ = c.h.ResumeRead()
	}
	return n, true
}

// Write queues all of b on the connection and returns len(b), or fewer
// bytes and the error that stopped it: the write deadline (errors.Is(err,
// os.ErrDeadlineExceeded); the connection stays usable, and the n bytes
// reported are queued and will be sent), Close (net.ErrClosed), CloseWrite
// or a failed connection. Write copies b, which may be reused as soon as
// it returns; "queued" means the shard has the copy, not that the kernel
// has taken it. Write blocks while more than the write buffer
// (WithWriteBuffer) is queued and not yet sent, and hands a large b over
// in chunks (WithWriteChunk), blocking between them.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n := 0
	waitEmpty := false // the engine's cap refused a chunk: wait until ours are sent
	c.mu.Lock()
	for {
		switch {
		case c.closed:
			c.mu.Unlock()
			return n, c.opErr("write", net.ErrClosed)
		case c.werr != nil:
			err := c.werr
			c.mu.Unlock()
			return n, err
		case c.wgate != nil && c.wgate.Expired():
			c.mu.Unlock()
			return n, c.opErr("write", errDeadline)
		case n == len(b):
			c.mu.Unlock()
			return n, nil
		case c.inflight >= c.high || waitEmpty && c.inflight > 0:
			c.writeGate().Wait(&c.mu)
			continue
		}
		waitEmpty = false
		size := min(len(b)-n, int(c.chunk))
		c.inflight += int32(size)
		c.mu.Unlock()
		err := c.post(b[n : n+size])
		c.mu.Lock()
		switch {
		case err == nil:
			n += size
		case errors.Is(err, engine.ErrOutputFull):
			c.inflight -= int32(size)
			if c.inflight == 0 {
				if c.chunk == 1 {
					c.fail(c.opErr("write", err))
				}
				c.chunk = max(c.chunk/2, 1) // the engine's cap is under our chunk
			}
			waitEmpty = true
		default:
			c.inflight -= int32(size)
			c.fail(c.writeErr(err))
		}
	}
}

// post hands a copy of p to the shard. Its done callback, on the shard,
// calls wrote.
func (c *Conn) post(p []byte) error {
	op := c.ops.get(c, p)
	err := c.h.AsyncWrite(op.buf, op.done)
	if err != nil {
		op.drop()
	}
	return err
}

// wrote takes size bytes that the shard has sent (or dropped, with err)
// off inflight and wakes the writer. On the shard.
func (c *Conn) wrote(size int, err error) {
	c.mu.Lock()
	c.inflight -= int32(size)
	if err != nil {
		c.fail(c.writeErr(err))
	}
	wg := c.wgate
	c.mu.Unlock()
	if wg != nil {
		wg.Wake()
	}
}

// writeGate returns the write Gate, making it on first use. The caller
// holds mu.
func (c *Conn) writeGate() *blocking.Gate {
	if c.wgate == nil {
		c.wgate = blocking.NewGate()
	}
	return c.wgate
}

// wakeWriter wakes a parked writer, if a write Gate was ever made. The
// caller holds mu.
func (c *Conn) wakeWriter() {
	if c.wgate != nil {
		c.wgate.Wake()
	}
}

// fail records why writes end, keeping the first reason. The caller holds
// mu.
func (c *Conn) fail(err error) {
	if c.werr == nil {
		c.werr = err
	}
}

// writeErr maps an engine error of a write to what net would return.
func (c *Conn) writeErr(err error) error {
	switch {
	case errors.Is(err, engine.ErrEngineStopped), errors.Is(err, engine.ErrUnknownConn):
		return c.opErr("write", errors.Join(net.ErrClosed, err))
	case errors.Is(err, engine.ErrConnClosed):
		return c.opErr("write", syscall.EPIPE)
	}
	return c.opErr("write", err)
}

// Close closes the connection: blocked and later Reads and Writes fail
// with an error wrapping net.ErrClosed, and the shard sends what Write
// had queued, then closes gracefully (engine.Conn.Close). Input not yet
// read is dropped. Closing again returns an error wrapping net.ErrClosed.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	c.closed = true
	c.dropInput()
	c.stopGates()
	c.mu.Unlock()
	c.rgate.Wake()
	_ = c.h.Close() // fails only when the connection or the engine is gone already
	return nil
}

// CloseWrite shuts down the writing side once what Write queued has been
// sent: the peer reads EOF, and this side goes on reading. Writes after
// it fail.
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	c.fail(c.opErr("write", syscall.EPIPE))
	c.wakeWriter()
	c.mu.Unlock()
	// Write's chunks were posted before this task, and the shard takes
	// them in order, so they go out before the shutdown.
	err := c.h.Do(func(ec *engine.Conn) { _ = ec.CloseWrite() })
	if err != nil {
		return c.opErr("close", errors.Join(net.ErrClosed, err))
	}
	return nil
}

// The shard's side. Each runs on the connection's shard.

// feed takes what the shard has buffered for ec into the input and wakes
// the reader; past WithMaxBuffered unread bytes it stops reading ec. It
// reports whether a reader was parked, for the shard's yield
// (engine.Conn.YieldToWoken).
func (c *Conn) feed(ec *engine.Conn) (woke bool) {
	b, _ := ec.Next(ec.Buffered())
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return false // nobody will read it
	}
	c.add(b)
	pause := c.flow.Fed(len(c.in))
	woke = c.rgate.Parked()
	c.mu.Unlock()
	if pause {
		ec.PauseRead()
	}
	c.rgate.Wake()
	return woke
}

// add appends b to the input. With no reader parked and nothing unread,
// b goes in a pooled block, which the Read that takes it all gives back:
// a request that comes before its reader leaves no garbage. Otherwise
// append writes into the parked reader's buffer (direct) or the tail of
// the input's array, or moves it all to a new array once the tail is full
// (a pooled block left behind goes back to the pool). The caller holds
// mu.
func (c *Conn) add(b []byte) {
	if len(b) == 0 {
		return
	}
	if c.in == nil {
		c.in = c.ops.bufs.Get(len(b))
		copy(c.in, b)
		c.pooled = true
		return
	}
	old := c.in
	c.in = append(c.in, b...)
	if c.pooled && &c.in[0] != &old[0] {
		c.ops.bufs.Put(old)
		c.pooled = false
	}
}

// dropInput empties the input, giving its block back if it is a whole
// pooled one. The caller holds mu.
func (c *Conn) dropInput() {
	if c.pooled {
		c.ops.bufs.Put(c.in)
		c.pooled = false
	}
	c.in = nil
}

// readEOF records the peer's half-close.
func (c *Conn) readEOF() {
	c.mu.Lock()
	if c.rerr == nil {
		c.rerr = io.EOF
	}
	c.mu.Unlock()
	c.rgate.Wake()
}

// ended records that the engine has closed the connection, for the reason
// it gives, and wakes every parked call.
func (c *Conn) ended(reason error) {
	var err error
	switch {
	case errors.Is(reason, engine.ErrEngineStopped), errors.Is(reason, engine.ErrTimeout):
		// The engine closed it: Stop, or one of the engine's own timeouts
		// (idle, linger). The calls see a closed connection, never a
		// timeout: a net.Error with Timeout() true would read as their
		// own deadline, which leaves a connection usable.
		err = &engineClosedError{reason}
	case errors.Is(reason, engine.ErrPeerClosed), errors.Is(reason, engine.ErrLocalClose):
		err = io.EOF
	default:
		err = reason
	}
	c.mu.Lock()
	if c.rerr == nil {
		if err == io.EOF {
			c.rerr = io.EOF
		} else {
			c.rerr = c.opErr("read", err)
		}
	}
	if err == io.EOF {
		c.fail(c.opErr("write", syscall.EPIPE))
	} else {
		c.fail(c.opErr("write", err))
	}
	c.stopGates()
	c.mu.Unlock()
	c.rgate.Wake()
}

// stopGates drops both deadlines' timers and wakes a parked writer (the
// caller wakes the reader once it has let go of mu, as the shard's other
// wake-ups do; a writer parks only under a bulk load, rarely enough to
// wake it here). The caller holds mu.
func (c *Conn) stopGates() {
	c.rgate.Stop()
	if c.wgate != nil {
		c.wgate.Stop()
		c.wgate.Wake()
	}
}

// SetDeadline sets the read and write deadlines, as SetReadDeadline and
// SetWriteDeadline do.
func (c *Conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// SetReadDeadline makes the Read in progress and later ones fail once t
// has passed, with an error for which errors.Is(err,
// os.ErrDeadlineExceeded) holds and whose Timeout() is true; the
// connection stays usable, and a later deadline (or the zero time, for
// none) lets Read wait again. A t already past fails a parked Read at
// once.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.setDeadline(false, t) }

// SetWriteDeadline is SetReadDeadline for Write. A Write that times out
// has queued the bytes it reports and no others.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.setDeadline(true, t) }

func (c *Conn) setDeadline(write bool, t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.opErr("set deadline", net.ErrClosed)
	}
	switch {
	case !write:
		c.rgate.SetDeadline(&c.mu, t)
	case t.IsZero() && c.wgate == nil:
		// No write deadline to clear and no writer parked: nothing to
		// make a Gate for.
	default:
		c.writeGate().SetDeadline(&c.mu, t)
	}
	return nil
}
