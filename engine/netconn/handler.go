package netconn

import "github.com/shardnet/shardnet/engine"

// connHandler is the shard's side of every Conn: it feeds arriving bytes
// to the Conn and tells it of EOF and close. accept, when set, decides
// whether a new connection is taken (the Listener's queue).
type connHandler struct {
	engine.BaseHandler
	cfg    config
	ops    *writeOps
	accept func(c *Conn) error
}

// OnOpen makes the connection's Conn.
func (h *connHandler) OnOpen(ec *engine.Conn) error {
	c := newConn(ec, &h.cfg, h.ops)
	ec.SetContext(c)
	// Reading and writing a net.Conn are independent: output above the
	// engine's high watermark must not stop reading (WaterPause), which
	// would hold back a reader while a writer is blocked. Write does its
	// own back-pressure; the marks here only notify, and nobody listens.
	// An engine made in notify mode (Listen's) has that already, and marks
	// of the connection's own would cost every idle connection the
	// engine's per-connection extras.
	if _, _, mode := ec.Watermarks(); mode != engine.WaterNotify {
		_ = ec.SetWatermarks(int(c.high)/2, int(c.high), engine.WaterNotify)
	}
	if h.accept != nil {
		return h.accept(c)
	}
	return nil
}

// OnTraffic hands what arrived to the Conn's readers.
func (h *connHandler) OnTraffic(ec *engine.Conn) {
	if c, ok := ec.Context().(*Conn); ok {
		if c.feed(ec) {
			// Let the reader run now, not when the runtime takes the
			// P from the sleeping shard.
			ec.YieldToWoken()
		}
		return
	}
	ec.Discard(ec.Buffered())
}

// OnReadEOF tells the Conn's readers; the connection stays open for
// writing until Close, as a net.TCPConn does.
func (h *connHandler) OnReadEOF(ec *engine.Conn) {
	if c, ok := ec.Context().(*Conn); ok {
		c.readEOF()
	}
}

// OnClose wakes the Conn's parked calls with the reason.
func (h *connHandler) OnClose(ec *engine.Conn, reason error) {
	if c, ok := ec.Context().(*Conn); ok {
		c.ended(reason)
	}
}
