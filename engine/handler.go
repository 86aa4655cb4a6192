package engine

// Handler receives a connection's events. Every method but OnBoot runs on
// the connection's shard goroutine and must not block it: hand blocking work
// to Engine.Offload and answer with AsyncWrite.
//
// A panic in a connection's callback aborts that connection (close reason
// wraps ErrPanic), is logged, and the shard carries on.
type Handler interface {
	// OnBoot runs once, when New has started the shards and before any
	// listener accepts or any OnTick runs, so it may set up the state
	// those use (per-shard tables sized by e.Shards()).
	OnBoot(e *Engine) error

	// OnOpen runs when a connection joins its shard. It may write (a
	// greeting) or reject the connection by returning an error: the
	// connection is then closed as by Close, so what OnOpen wrote before
	// refusing is sent first, and OnClose's reason wraps ErrRejected and
	// the error. To refuse without sending anything, Abort and return.
	OnOpen(c *Conn) error

	// OnTraffic runs when bytes have arrived. Read them with Peek, Next,
	// Discard or Read; what the handler leaves unread is kept for the next
	// call.
	OnTraffic(c *Conn)

	// OnReadEOF runs when the peer has half-closed (read returned EOF)
	// after every byte before the EOF went to OnTraffic. A handler that
	// still has to write may do so and close later; BaseHandler closes.
	OnReadEOF(c *Conn)

	// OnDrained runs when the connection's queued output has fallen under
	// the low watermark after having passed the high one, and reading has
	// resumed; and once after NotifyWritable, when the socket can take
	// bytes again.
	OnDrained(c *Conn)

	// OnClose runs once when the connection is closed, with the reason: an
	// error wrapping ErrPeerClosed, ErrLocalClose, ErrAborted,
	// ErrEngineStopped, ErrRejected, ErrTimeout or the socket error.
	OnClose(c *Conn, reason error)

	// OnTick runs on every shard every WithTick period.
	OnTick(shard int)
}

// BaseHandler is a Handler that does nothing but close on read EOF. Embed it
// and override what you need.
type BaseHandler struct{}

// OnBoot does nothing.
func (BaseHandler) OnBoot(*Engine) error { return nil }

// OnOpen accepts the connection.
func (BaseHandler) OnOpen(*Conn) error { return nil }

// OnTraffic discards what arrived.
func (BaseHandler) OnTraffic(c *Conn) { c.Discard(c.Buffered()) }

// OnReadEOF closes the connection once its queued output has been sent.
func (BaseHandler) OnReadEOF(c *Conn) { c.Close() }

// OnDrained does nothing.
func (BaseHandler) OnDrained(*Conn) {}

// OnClose does nothing.
func (BaseHandler) OnClose(*Conn, error) {}

// OnTick does nothing.
func (BaseHandler) OnTick(int) {}
