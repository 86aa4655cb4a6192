package netpollconn

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/cloudwego/netpoll"
	"github.com/shardnet/shardnet/buffer"
	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/engine/internal/blocking"
)

// Conn is one shardnet connection seen as a netpoll.Reader and a
// netpoll.Writer. The reading side and the writing side each belong to one
// goroutine at a time (the OnRequest goroutine, or the shard for a loop
// connection), as with netpoll; the shard feeds the reading side
// concurrently, under mu.
type Conn struct {
	ec       *engine.Conn // its Conn methods are used only on the shard
	id       uint64
	blocking bool
	pool     *buffer.Pool

	mu   sync.Mutex
	in   buffer.View    // guarded by mu
	err  error          // guarded by mu: why no more bytes will come
	gate *blocking.Gate // where the reader parks; its deadline is guarded by mu

	readTimeout time.Duration // owned by the reader

	// Writing side, owned by the writer.
	pieces    [][]byte // what Flush sends, in order
	blocks    [][]byte // pooled blocks under pieces, returned after the write
	tail      []byte   // the current pooled block
	tailUsed  int      // bytes of tail handed out by Malloc
	tailPiece int      // index in pieces of the piece that ends at tailUsed, or -1
	mallocLen int
	done      chan error // Flush waits here for AsyncWritev's callback
}

const blockSize = 8 << 10

func newConn(ec *engine.Conn, pool *buffer.Pool, parks bool) *Conn {
	c := &Conn{ec: ec, id: ec.ID(), blocking: parks, pool: pool, gate: blocking.NewGate(), tailPiece: -1, done: make(chan error, 1)}
	c.in.Init(pool, blockSize)
	return c
}

// NewLoopConn wraps ec for a handler that runs on the shard: call Feed at
// the start of each OnTraffic, then read and write through the netpoll
// interfaces; reads never block (ErrWouldBlock), and Flush hands the bytes
// to the connection at once. Loop only.
func NewLoopConn(ec *engine.Conn, pool *buffer.Pool) *Conn {
	return newConn(ec, pool, false)
}

// Feed moves the bytes the engine has buffered for the connection into
// the reader's pinned buffer. Loop only.
func (c *Conn) Feed() int {
	b, _ := c.ec.Next(c.ec.Buffered())
	if len(b) == 0 {
		return 0
	}
	c.mu.Lock()
	c.in.Write(b)
	n := c.in.Len()
	c.mu.Unlock()
	c.wake()
	return n
}

// shutdown records why no more bytes will come and wakes the reader.
func (c *Conn) shutdown(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.wake()
}

func (c *Conn) wake() { c.gate.Wake() }

// ID returns the shardnet connection ID.
func (c *Conn) ID() uint64 { return c.id }

// Reader returns c as a netpoll.Reader.
func (c *Conn) Reader() netpoll.Reader { return c }

// Writer returns c as a netpoll.Writer.
func (c *Conn) Writer() netpoll.Writer { return c }

// SetReadTimeout bounds how long a blocking read waits (0: no bound). Reader
// only.
func (c *Conn) SetReadTimeout(d time.Duration) { c.readTimeout = d }

// Close closes the shardnet connection gracefully. Any goroutine.
func (c *Conn) Close() error {
	if h, ok := c.ec.Engine().Conn(c.id); ok {
		return h.Close()
	}
	return nil
}

// await holds mu and returns once at least n bytes are buffered, or with
// the error that says they will not come. The caller holds mu.
func (c *Conn) await(n int) error {
	if n < 0 {
		return fmt.Errorf("netpollconn: negative length %d", n)
	}
	armed := false
	for c.in.Len() < n {
		if c.err != nil {
			return c.err
		}
		if !c.blocking {
			return ErrWouldBlock
		}
		if !armed && c.readTimeout > 0 {
			// One bound for the whole call, however many wake-ups it
			// takes: netpoll's read timeout.
			c.gate.SetDeadline(&c.mu, time.Now().Add(c.readTimeout))
			defer c.gate.SetDeadline(&c.mu, time.Time{})
			armed = true
		}
		if c.gate.Expired() {
			return errReadTimeout
		}
		c.gate.Wait(&c.mu)
	}
	return nil
}

// Next returns the next n bytes and consumes them, blocking until they
// arrive. Valid until Release.
func (c *Conn) Next(n int) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.await(n); err != nil {
		return nil, err
	}
	return c.in.Next(n)
}

// Peek returns the next n bytes without consuming them. Valid until
// Release.
func (c *Conn) Peek(n int) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.await(n); err != nil {
		return nil, err
	}
	return c.in.Peek(n)
}

// Skip consumes n bytes.
func (c *Conn) Skip(n int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.await(n); err != nil {
		return err
	}
	return c.in.Skip(n)
}

// Until returns the bytes up to and including delim, blocking until delim
// arrives. If the connection ends first it returns what is left and the
// error. Valid until Release.
func (c *Conn) Until(delim byte) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		line, err := c.in.Until(delim)
		if err == nil {
			return line, nil
		}
		have := c.in.Len()
		if werr := c.await(have + 1); werr != nil {
			if werr == ErrWouldBlock || werr == errReadTimeout {
				return nil, werr // the bytes stay for the next try
			}
			rest, _ := c.in.Next(c.in.Len())
			return rest, werr
		}
	}
}

// ReadString returns the next n bytes as a string (a copy).
func (c *Conn) ReadString(n int) (string, error) {
	b, err := c.Next(n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ReadBinary returns a copy of the next n bytes.
func (c *Conn) ReadBinary(n int) ([]byte, error) {
	b, err := c.Next(n)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// ReadByte returns the next byte.
func (c *Conn) ReadByte() (byte, error) {
	b, err := c.Next(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// Slice returns a Reader over the next n bytes and releases c, as netpoll
// does. The bytes are copied into a netpoll LinkBuffer, which then owns
// them.
func (c *Conn) Slice(n int) (netpoll.Reader, error) {
	b, err := c.ReadBinary(n)
	if err != nil {
		return nil, err
	}
	lb := netpoll.NewLinkBuffer(len(b))
	if _, err := lb.WriteBinary(b); err != nil {
		return nil, err
	}
	if err := lb.Flush(); err != nil {
		return nil, err
	}
	return lb, c.Release()
}

// Release frees the blocks under the slices read so far; they must not be
// used after it.
func (c *Conn) Release() error {
	c.mu.Lock()
	c.in.Release()
	c.mu.Unlock()
	return nil
}

// Len returns the bytes buffered and not yet read.
func (c *Conn) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.in.Len()
}

// Malloc returns n bytes of pooled space that Flush will send. Valid until
// Flush.
func (c *Conn) Malloc(n int) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("netpollconn: Malloc(%d)", n)
	}
	c.mallocLen += n
	if c.tail != nil && len(c.tail)-c.tailUsed >= n {
		b := c.tail[c.tailUsed : c.tailUsed+n : c.tailUsed+n]
		if c.tailPiece >= 0 && c.tailPiece == len(c.pieces)-1 {
			p := c.pieces[c.tailPiece]
			c.pieces[c.tailPiece] = p[:len(p)+n]
		} else {
			// The piece keeps the block's capacity so the next Malloc
			// can grow it in place.
			c.pieces = append(c.pieces, c.tail[c.tailUsed:c.tailUsed+n])
			c.tailPiece = len(c.pieces) - 1
		}
		c.tailUsed += n
		return b, nil
	}
	size := max(n, blockSize)
	blk := c.pool.Get(size)
	c.blocks = append(c.blocks, blk)
	c.tail, c.tailUsed = blk[:cap(blk)], n
	c.pieces = append(c.pieces, c.tail[:n])
	c.tailPiece = len(c.pieces) - 1
	return c.tail[:n:n], nil
}

// MallocAck keeps the first n bytes written since the last Flush and drops
// the rest.
func (c *Conn) MallocAck(n int) error {
	if n < 0 || n > c.mallocLen {
		return fmt.Errorf("netpollconn: MallocAck(%d) with %d bytes written", n, c.mallocLen)
	}
	drop := c.mallocLen - n
	for drop > 0 {
		last := len(c.pieces) - 1
		p := c.pieces[last]
		if len(p) <= drop {
			drop -= len(p)
			c.pieces = c.pieces[:last]
			continue
		}
		c.pieces[last] = p[:len(p)-drop]
		drop = 0
	}
	c.mallocLen = n
	c.tailPiece = -1 // do not grow a piece that may have been cut
	return nil
}

// WriteBinary queues b without copying: leave it untouched until Flush
// returns.
func (c *Conn) WriteBinary(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.pieces = append(c.pieces, b)
	c.tailPiece = -1
	c.mallocLen += len(b)
	return len(b), nil
}

// WriteString queues s without copying.
func (c *Conn) WriteString(s string) (int, error) {
	return c.WriteBinary(unsafe.Slice(unsafe.StringData(s), len(s)))
}

// WriteByte queues one byte.
func (c *Conn) WriteByte(b byte) error {
	p, err := c.Malloc(1)
	if err != nil {
		return err
	}
	p[0] = b
	return nil
}

// WriteDirect inserts p, without copying, before the last remainCap bytes
// written since the last Flush, as netpoll's does: a large body can be
// placed inside Malloc'd space without a copy. As with netpoll's, p counts
// in MallocLen, and WriteDirect does not mix with WriteBinary or
// WriteString.
func (c *Conn) WriteDirect(p []byte, remainCap int) error {
	if remainCap < 0 || remainCap > c.mallocLen {
		return fmt.Errorf("netpollconn: WriteDirect with remainCap %d of %d", remainCap, c.mallocLen)
	}
	if len(p) == 0 {
		return nil
	}
	// The split point is MallocLen-remainCap bytes from the start of the
	// unflushed stream, earlier direct slices included: that is where
	// netpoll's LinkBuffer puts it, so codecs see the same bytes.
	pos := c.mallocLen - remainCap
	at := len(c.pieces)
	for i, q := range c.pieces {
		if pos == 0 {
			at = i
			break
		}
		if pos < len(q) {
			c.pieces = append(c.pieces, nil)
			copy(c.pieces[i+2:], c.pieces[i+1:])
			c.pieces[i], c.pieces[i+1] = q[:pos:pos], q[pos:]
			at = i + 1
			break
		}
		pos -= len(q)
	}
	c.pieces = append(c.pieces, nil)
	copy(c.pieces[at+1:], c.pieces[at:])
	c.pieces[at] = p
	c.tailPiece = -1
	c.mallocLen += len(p)
	return nil
}

// Append moves w's unflushed bytes behind c's. w must be a *Conn.
func (c *Conn) Append(w netpoll.Writer) error {
	o, ok := w.(*Conn)
	if !ok {
		return ErrUnsupportedWriter
	}
	c.pieces = append(c.pieces, o.pieces...)
	c.blocks = append(c.blocks, o.blocks...)
	c.mallocLen += o.mallocLen
	c.tailPiece = -1
	o.pieces, o.blocks, o.tail, o.tailUsed, o.tailPiece, o.mallocLen = o.pieces[:0], o.blocks[:0], nil, 0, -1, 0
	return nil
}

// MallocLen returns the bytes written since the last Flush.
func (c *Conn) MallocLen() int { return c.mallocLen }

// Flush sends what was written. A blocking connection waits until the
// kernel has the bytes (or the connection failed); a loop connection
// queues them on the connection at once.
func (c *Conn) Flush() error {
	if len(c.pieces) == 0 {
		return nil
	}
	var err error
	if c.blocking {
		if err = c.ec.AsyncWritev(c.pieces, c.flushed); err == nil {
			err = <-c.done
		}
	} else {
		_, err = c.ec.Writev(c.pieces)
	}
	clear(c.pieces)
	c.pieces = c.pieces[:0]
	for _, b := range c.blocks {
		c.pool.Put(b)
	}
	clear(c.blocks)
	c.blocks = c.blocks[:0]
	c.tail, c.tailUsed, c.tailPiece, c.mallocLen = nil, 0, -1, 0
	if err != nil {
		return fmt.Errorf("%w: %w", errConnClosed, err)
	}
	return nil
}

func (c *Conn) flushed(err error) { c.done <- err }

// ctxKey carries the Conn in OnRequest's context.
type ctxKey struct{}

// FromContext returns the Conn an OnRequest's context belongs to.
func FromContext(ctx context.Context) (*Conn, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Conn)
	return c, ok
}
