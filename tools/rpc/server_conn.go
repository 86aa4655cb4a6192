package rpc

import (
	"errors"
	"fmt"

	"github.com/shardnet/shardnet/codec"
	"github.com/shardnet/shardnet/engine"
)

// serverHandler is the server's engine.Handler: it frames requests,
// dispatches them and writes the answers. Every method runs on the
// connection's shard.
type serverHandler struct{ s *Server }

func (h serverHandler) OnBoot(e *engine.Engine) error {
	h.s.shards = make([]serverShard, e.Shards())
	for i := range h.s.shards {
		h.s.shards[i].out = make([]byte, 0, 4096)
	}
	return nil
}

func (serverHandler) OnOpen(*engine.Conn) error { return nil }

// OnTraffic serves every complete request that has arrived, in order. Fast
// handlers answer here; their answers leave together in one writev when the
// callback returns, or, when a read brought one request, its answer leaves
// at once in one write.
func (h serverHandler) OnTraffic(c *engine.Conn) {
	s := h.s
	for !c.Closed() {
		frame, n, err := s.framer.Decode(c)
		if err != nil {
			// The plain comparison first: ErrNeedMore ends every
			// OnTraffic, and errors.Is walks a chain.
			if err != codec.ErrNeedMore && !errors.Is(err, codec.ErrNeedMore) {
				h.reject(c, err)
			}
			return
		}
		hd, err := DecodeHeader(frame)
		if err == nil && hd.Flags&FlagResponse != 0 {
			err = fmt.Errorf("%w: a response frame (ID %d) sent to the server", ErrBadHeader, hd.ID)
		}
		if err != nil {
			h.reject(c, err)
			return
		}
		// Consumed before it is served: the frame's bytes stay where they
		// are until the callback returns (Next), and with no input left
		// the engine sends a lone answer at once instead of queueing it
		// (engine.Conn.Writev).
		if frame, err = c.Next(n); err != nil {
			h.reject(c, err)
			return
		}
		s.serve(c, hd, frame[HeaderSize:])
	}
}

// reject cuts c because its peer broke the protocol; nothing else it sent
// is served. It aborts rather than closes gracefully: the protocol's errors
// are per call and this one has no call to answer (a frame that lies about
// its length cannot be trusted for an ID), so there is nothing for the peer
// to read first, and a graceful close would keep reading and dropping the
// peer's bytes until its EOF or the linger timeout, holding the connection
// for a peer already known to be broken. The answers to its earlier calls
// still queued go with it: those calls fail on their side with the
// connection. OnClose's reason wraps engine.ErrAborted and err.
func (h serverHandler) reject(c *engine.Conn, err error) {
	h.s.stats.badFrames.Add(1)
	c.AbortWith(fmt.Errorf("rpc: closed for a bad frame: %w", err))
}

func (serverHandler) OnReadEOF(c *engine.Conn) { c.Close() }
func (serverHandler) OnDrained(*engine.Conn)   {}
func (serverHandler) OnTick(int)               {}

func (h serverHandler) OnClose(c *engine.Conn, reason error) {
	if h.s.cfg.onClose != nil {
		h.s.cfg.onClose(c.ID(), reason)
	}
}

// serve runs one request. Loop only.
func (s *Server) serve(c *engine.Conn, hd Header, req []byte) {
	if s.draining.Load() {
		s.stats.refused.Add(1)
		s.fail(c, hd, StatusShuttingDown, "the server is stopping")
		return
	}
	m, ok := s.lookup(hd.Method)
	if !ok {
		s.fail(c, hd, StatusUnknownMethod, "no handler for this method")
		return
	}
	if m.blocking {
		s.offloadCall(c, hd, m.fn, req)
		return
	}
	sh := &s.shards[c.Shard()]
	out, err := m.fn(req, sh.out[:0])
	if err != nil {
		s.fail(c, hd, StatusApplication, err.Error())
		return
	}
	if cap(out) > cap(sh.out) && cap(out) <= s.cfg.maxFrame {
		// Grow the scratch for the next answer, with memory of our own:
		// out may be the handler's, or alias req and so the engine's
		// read buffer.
		sh.out = make([]byte, 0, cap(out))
	}
	s.reply(c, sh, hd, StatusOK, out)
}

// reply writes one answer on the shard.
func (s *Server) reply(c *engine.Conn, sh *serverShard, hd Header, st Status, out []byte) {
	s.stats.calls.Add(1)
	if len(out)+HeaderSize > s.cfg.maxFrame {
		st, out = StatusApplication, []byte("answer longer than the frame limit")
	}
	if st != StatusOK {
		s.stats.errors.Add(1)
	}
	putHeader(sh.hdr[:], Header{ID: hd.ID, Method: hd.Method, Flags: FlagResponse, Status: st}, len(out))
	sh.iov[0], sh.iov[1] = sh.hdr[:], out
	_, _ = c.Writev(sh.iov[:])
	sh.iov[1] = nil
}

// fail answers with an error status and a message. Loop only.
func (s *Server) fail(c *engine.Conn, hd Header, st Status, msg string) {
	sh := &s.shards[c.Shard()]
	s.reply(c, sh, hd, st, append(sh.out[:0], msg...))
}
