package engine

import (
	"net/netip"
	"time"

	"github.com/shardnet/shardnet/shard"
)

// sessionConfig is WithSessions' setting; max 0 means no sessions.
type sessionConfig struct {
	idle time.Duration
	max  int
}

func (c *sessionConfig) validate() error {
	if c.max < 0 || (c.max > 0 && c.idle <= 0) {
		return optionError("WithSessions", [2]any{c.idle, c.max}, "idle > 0 and max >= 1")
	}
	return nil
}

// WithSessions keeps per-peer state on each socket: a Session is made on
// the first datagram from an address and ends after idle without a
// datagram from it (or after Session.Close, or when the socket closes).
// Each socket holds at most max sessions (so a listener holds at most max
// per shard). At the cap the socket refuses new peers: their datagrams are
// dropped before OnDatagram and counted in PacketStats.SessionsRefused,
// while the peers that have a session keep it. Refusing, not evicting,
// means a flood of new source addresses cannot push out live peers; the
// flood's own sessions never form, and memory stays bounded by max. Default
// off.
func WithSessions(idle time.Duration, max int) PacketOption {
	return func(c *packetConfig) { c.sessions = sessionConfig{idle: idle, max: max} }
}

// SessionHandler is implemented by a PacketHandler that wants to know when
// sessions begin and end (WithSessions). Both run on the socket's shard.
type SessionHandler interface {
	// OnSessionOpen runs on the first datagram from a new peer, before
	// OnDatagram sees it. Returning an error refuses the peer: the
	// datagram is dropped (and counted in SessionsRefused), and the next
	// one from that peer asks again.
	OnSessionOpen(s *Session) error
	// OnSessionClose runs once when the session ends, with the reason:
	// an error satisfying errors.Is(err, ErrTimeout) when it expired,
	// ErrLocalClose after Close, ErrEngineStopped at Stop.
	OnSessionClose(s *Session, reason error)
}

// Session is the state of one peer of a socket with WithSessions. Its
// methods are loop only; a closed Session is never reused, so a pointer
// kept past the end only sees Closed() == true.
type Session struct {
	t       *sessionTable
	peer    netip.AddrPort
	local   netip.Addr // where the peer's datagrams come to, on a wildcard bind
	ifindex int32
	last    time.Duration // the loop's clock at the peer's last datagram
	timer   shard.Timer
	ctx     any
	closed  bool
}

// Peer returns the session's peer address.
func (s *Session) Peer() netip.AddrPort { return s.peer }

// Conn returns the socket the session belongs to.
func (s *Session) Conn() *PacketConn { return s.t.pc }

// Context returns the value set with SetContext.
func (s *Session) Context() any { return s.ctx }

// SetContext attaches a value of the handler's to the session.
func (s *Session) SetContext(v any) { s.ctx = v }

// Closed reports whether the session has ended.
func (s *Session) Closed() bool { return s.closed }

// Write queues p for the session's peer, from the address the peer sends
// to; see PacketConn.WriteTo. It returns ErrConnClosed once the session
// has ended. Writing does not keep a session alive: only the peer's
// datagrams do.
func (s *Session) Write(p []byte) error {
	if s.closed {
		return ErrConnClosed
	}
	return s.t.pc.queueDatagram(p, s.peer, s.local, s.ifindex)
}

// Close ends the session (OnSessionClose gets ErrLocalClose). The peer's
// next datagram opens a new one.
func (s *Session) Close() {
	if !s.closed {
		s.t.close(s, ErrLocalClose)
	}
}

// sessionTable is one socket's sessions. Loop only.
type sessionTable struct {
	pc     *PacketConn
	cfg    sessionConfig
	sh     SessionHandler // the handler as one, or nil
	byPeer map[netip.AddrPort]*Session
	now    time.Duration // the loop's clock, read once per received batch
}

func newSessionTable(pc *PacketConn, cfg sessionConfig) *sessionTable {
	t := &sessionTable{pc: pc, cfg: cfg, byPeer: make(map[netip.AddrPort]*Session)}
	t.sh, _ = pc.h.(SessionHandler)
	return t
}

// lookup returns the session of from, made now if it is new; nil when
// the peer is refused.
func (t *sessionTable) lookup(from netip.AddrPort, dst netip.Addr, ifindex int32) *Session {
	if s := t.byPeer[from]; s != nil {
		s.last = t.now
		return s
	}
	ps := t.pc.ps
	if len(t.byPeer) >= t.cfg.max {
		ps.sessionsRefused.Add(1)
		return nil
	}
	s := &Session{t: t, peer: from, local: dst, ifindex: ifindex, last: t.now}
	if t.sh != nil {
		if err := t.sh.OnSessionOpen(s); err != nil {
			s.closed = true // never was: a kept pointer must not write
			ps.sessionsRefused.Add(1)
			return nil
		}
	}
	t.byPeer[from] = s
	ps.sh.loop.InitTimer(&s.timer, s.expire)
	s.timer.Reset(t.cfg.idle)
	ps.sessions.Add(1)
	ps.sessionsOpened.Add(1)
	return s
}

// expire is the session's timer: idle timeouts are lazy, so a datagram
// costs no heap work; the timer re-arms for the rest of the interval if
// the peer sent meanwhile.
func (s *Session) expire() {
	t := s.t
	ps := t.pc.ps
	ps.enter()
	defer ps.leave()
	idle := ps.sh.loop.Now() - s.last
	if idle < t.cfg.idle {
		s.timer.Reset(t.cfg.idle - idle)
		return
	}
	ps.sessionsExpired.Add(1)
	t.close(s, errSessionTimeout)
}

// close ends s: bookkeeping first, then the handler.
func (t *sessionTable) close(s *Session, reason error) {
	s.closed = true
	s.timer.Stop()
	delete(t.byPeer, s.peer)
	t.pc.ps.sessions.Add(-1)
	if t.pc.cur == s {
		t.pc.cur = nil
	}
	if t.sh != nil {
		t.closeHook(s, reason)
	}
}

// closeHook runs OnSessionClose; a panic there is logged and counted and
// the other sessions still close.
func (t *sessionTable) closeHook(s *Session, reason error) {
	defer func() {
		if v := recover(); v != nil {
			t.pc.ps.panics.Add(1)
			t.pc.ps.sh.e.cfg.logger.Error("panic in OnSessionClose", "peer", s.peer.String(), "panic", v)
		}
	}()
	t.sh.OnSessionClose(s, reason)
}

// closeAll ends every session when the socket closes.
func (t *sessionTable) closeAll(reason error) {
	for _, s := range t.byPeer {
		t.close(s, reason)
	}
}
