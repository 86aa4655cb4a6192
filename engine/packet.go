package engine

import (
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/shardnet/shardnet/shard"
)

// PacketHandler receives the datagrams of a PacketConn. OnDatagram runs on
// the socket's shard and must not block it.
//
// A panic in OnDatagram drops that datagram only: it is logged and counted
// (PacketStats.Panics), and the socket carries on with the next one.
type PacketHandler interface {
	// OnDatagram runs once per datagram that arrived on pc from from
	// (v4-mapped addresses unmapped). p is the datagram, a view into the
	// shard's receive batch, valid only until OnDatagram returns: copy
	// what must outlive the call. Replies written with pc.WriteTo leave
	// in one batch (sendmmsg) once the datagrams read with this one (one
	// recvmmsg) have been handled.
	OnDatagram(pc *PacketConn, p []byte, from netip.AddrPort)
}

// PacketErrorHandler is implemented by a PacketHandler that wants the
// errors the kernel reports on a socket: on a connected socket
// (DialPacket), ICMP errors such as syscall.ECONNREFUSED, and any send or
// receive error other than "would block". Without it the errors are only
// counted. Runs on the socket's shard.
type PacketErrorHandler interface {
	OnPacketError(pc *PacketConn, err error)
}

// PacketConn is one UDP socket on one shard: one of a PacketListener's
// sockets, or a connected socket from DialPacket. Its methods are loop only
// (its shard's goroutine, as in OnDatagram) unless they say otherwise.
type PacketConn struct {
	ps        *packetShard
	h         PacketHandler
	eh        PacketErrorHandler // h as one, or nil
	fd        int
	local     netip.AddrPort
	peer      netip.AddrPort // the connected peer, or zero
	v6        bool           // an AF_INET6 socket: v4 peers go through v4-mapped addresses
	wildcard  bool           // bound to the unspecified address: replies leave from the datagram's destination
	connected bool

	// Loop only.
	feat      socketFeatures
	q         sendQueue
	dirty     bool // listed in ps.dirty
	wantWrite bool // waiting for EPOLLOUT
	flushing  bool // flush is running: a nested one would reuse its batch
	closed    bool
	ovfl      uint32     // the last SO_RXQ_OVFL count seen
	curDst    netip.Addr // while OnDatagram runs: where the datagram came to
	curIf     int32      // and on which interface
	cur       *Session   // while OnDatagram runs: the sender's session, if sessions are on
	sessions  *sessionTable
	resume    int // the next batch slot to deliver after a recovered panic
	segOff    int // and where in it, when the kernel coalesced it (GRO)
	ctx       any

	// async carries AsyncWriteTo requests to the loop; asyncQueued counts
	// their bytes until they are queued, for the WithPacketQueue bound.
	async       batch[asyncDatagram]
	asyncQueued atomic.Int64
	drainFn     func()
}

// Shard returns the index of the socket's shard. Any goroutine.
func (pc *PacketConn) Shard() int { return pc.ps.sh.idx }

// LocalAddr returns the address the socket is bound to. Any goroutine.
func (pc *PacketConn) LocalAddr() netip.AddrPort { return pc.local }

// RemoteAddr returns the peer of a connected socket (DialPacket), else the
// zero AddrPort. Any goroutine.
func (pc *PacketConn) RemoteAddr() netip.AddrPort { return pc.peer }

// Context returns the value set with SetContext.
func (pc *PacketConn) Context() any { return pc.ctx }

// SetContext attaches a value of the handler's to the socket.
func (pc *PacketConn) SetContext(v any) { pc.ctx = v }

// Closed reports whether the socket was closed.
func (pc *PacketConn) Closed() bool { return pc.closed }

// Session returns the session of the datagram OnDatagram is handling, or
// nil outside OnDatagram or when the socket has no sessions (WithSessions).
func (pc *PacketConn) Session() *Session { return pc.cur }

// GSO reports whether the socket sends runs of same-size datagrams to one
// peer as one segmentation-offload write (UDP_SEGMENT). It is on where the
// kernel supports it and WithPacketOffload allows it, and goes off for
// good on the first error that says the kernel or the route cannot do it.
func (pc *PacketConn) GSO() bool { return pc.feat.gso }

// GRO reports whether the kernel may hand the socket coalesced runs of
// datagrams (UDP_GRO), which the engine splits before OnDatagram.
func (pc *PacketConn) GRO() bool { return pc.feat.gro }

// WriteTo queues p for to; the shard sends what its sockets queued in one
// batch (sendmmsg) when the current callback returns (in OnDatagram: once
// the batch of datagrams read with it is handled). p is copied: the caller
// may reuse it at once. On a wildcard bind a datagram written
// during OnDatagram leaves from the address that datagram came to (so a
// reply comes from the address the peer sent to); written elsewhere, the
// kernel picks the source. On a connected socket to must be the peer or
// the zero AddrPort.
//
// It returns ErrConnClosed after Close, ErrDatagramTooLarge past the UDP
// limit (65,507 bytes over IPv4), ErrAddressFamily for an IPv6 peer of an
// IPv4 socket, and ErrOutputFull (the datagram dropped and counted in
// PacketStats.QueueDrops) when the socket's queue is at its
// WithPacketQueue bound and the kernel cannot take more (a full queue is
// sent first when the socket can take it).
func (pc *PacketConn) WriteTo(p []byte, to netip.AddrPort) error {
	src, ifindex := pc.curDst, pc.curIf
	if pc.cur != nil {
		src, ifindex = pc.cur.local, pc.cur.ifindex
	}
	return pc.queueDatagram(p, to, src, ifindex)
}

// Write queues p for the peer of a connected socket; see WriteTo.
func (pc *PacketConn) Write(p []byte) error { return pc.WriteTo(p, pc.peer) }

// Flush sends what the socket has queued now instead of when the callback
// returns. It returns ErrConnClosed after Close.
func (pc *PacketConn) Flush() error {
	if pc.closed {
		return ErrConnClosed
	}
	if !pc.wantWrite {
		pc.flush()
	}
	return nil
}

// Queued returns the number of datagrams waiting to be sent.
func (pc *PacketConn) Queued() int { return len(pc.q.items) - pc.q.head }

// Close closes the socket: it tries once to send what is queued, drops the
// rest (counted in QueueDrops), ends the socket's sessions (reason
// ErrLocalClose) and fails its pending AsyncWriteTo calls with
// ErrConnClosed. A second Close returns ErrConnClosed. Closing one of a
// PacketListener's sockets leaves the others open.
func (pc *PacketConn) Close() error {
	if pc.closed {
		return ErrConnClosed
	}
	pc.closeWith(ErrLocalClose)
	return nil
}

// PacketListener is the set of SO_REUSEPORT sockets that ListenPacket
// opened, one per shard, all bound to one address: the kernel spreads the
// datagrams over them by a hash of the sender's address, so one peer's
// datagrams reach one shard. Its methods are safe from any goroutine.
type PacketListener struct {
	e     *Engine
	addr  *net.UDPAddr
	conns []*PacketConn
}

// Addr returns the bound address (the port chosen for ":0").
func (l *PacketListener) Addr() net.Addr { return l.addr }

// Conns returns the listener's sockets, index i on shard i. Use them from
// other goroutines only through AsyncWriteTo.
func (l *PacketListener) Conns() []*PacketConn { return l.conns }

// Close closes every socket of the listener on its shard (see
// PacketConn.Close) and waits for that, except when called from a shard's
// callback: then the sockets close in the background. Closing twice, or
// once Stop has begun (which closes them itself), does nothing more.
func (l *PacketListener) Close() error {
	if l.e.onLoop() {
		l.e.mu.Lock()
		if l.e.stopping {
			l.e.mu.Unlock()
			return nil // Stop closes the sockets
		}
		l.e.packetClosers.Add(1) // under mu, before Stop can wait
		l.e.mu.Unlock()
		go func() {
			defer l.e.packetClosers.Done()
			l.closeAll()
		}()
		return nil
	}
	l.closeAll()
	return nil
}

func (l *PacketListener) closeAll() {
	e := l.e
	// Under e.gate, as registerPackets: either these tasks are queued
	// before Stop's close pass (and so run before Stop frees the loops,
	// which would drop them unrun and leave this waiting), or Stop has
	// begun and closes the sockets itself.
	e.gate.RLock()
	if e.closing {
		e.gate.RUnlock()
		return
	}
	done := make(chan struct{}, len(l.conns))
	for _, pc := range l.conns {
		if pc.ps.sh.loop.Submit(func() {
			defer func() { done <- struct{}{} }()
			if !pc.closed {
				pc.closeWith(ErrLocalClose)
			}
		}) != nil {
			done <- struct{}{} // the shard is gone: Stop closed the socket
		}
	}
	e.gate.RUnlock()
	for range l.conns {
		<-done
	}
}

// packetEvents is a PacketConn seen as the shard's fd handler, so that
// HandleEvents stays out of PacketConn's exported methods.
type packetEvents PacketConn

// HandleEvents is the socket's readiness callback. Loop only.
func (pe *packetEvents) HandleEvents(_ int, ev shard.Events) {
	pc := (*PacketConn)(pe)
	ps := pc.ps
	ps.enter()
	defer ps.leave()
	if ev&shard.EventWrite != 0 && pc.wantWrite {
		pc.wantWrite = false
		_ = ps.sh.loop.Modify(pc.fd, shard.EventRead)
		pc.flush()
	}
	if ev&(shard.EventRead|shard.EventErr|shard.EventHup) != 0 && !pc.closed {
		pc.readBatches()
	}
}

// readBatches reads up to a few batches: level-triggered epoll reports the
// socket again next round if more is waiting, so one busy socket cannot
// starve the shard's others.
func (pc *PacketConn) readBatches() {
	rb := pc.ps.recvBatch()
	for range 4 {
		n, err := rb.recv(pc.fd)
		if pc.sessions != nil {
			pc.sessions.now = pc.ps.sh.loop.Now()
		}
		if err != nil {
			if isAgain(err) {
				return
			}
			pc.reportError(wrapSyscall("recvmmsg", err))
			if pc.closed {
				return
			}
			continue
		}
		pc.deliver(rb, n)
		// One sendmmsg per recvmmsg: the replies to this batch leave
		// before the next batch is read.
		pc.ps.flushDirty()
		if pc.closed || n < rb.slots() {
			return
		}
	}
}

// deliver hands the batch's n datagrams to the handler, resuming after a
// recovered panic with the next one.
func (pc *PacketConn) deliver(rb *recvBatch, n int) {
	for i := 0; i < n && !pc.closed; {
		i = pc.deliverFrom(rb, i, n)
	}
}

func (pc *PacketConn) deliverFrom(rb *recvBatch, i, n int) (next int) {
	defer func() {
		if v := recover(); v != nil {
			pc.cur, pc.curDst, pc.curIf = nil, netip.Addr{}, 0
			pc.ps.panics.Add(1)
			pc.ps.sh.e.cfg.logger.Error("panic in OnDatagram; datagram dropped", "shard", pc.ps.sh.idx, "panic", v)
			next = pc.resume
		}
	}()
	for ; i < n && !pc.closed; i++ {
		pc.resume = i + 1
		pc.handleSlot(rb, i)
	}
	return n
}

// handleSlot delivers batch slot i: dropped if the kernel cut it, split
// into its segments if GRO coalesced it.
func (pc *PacketConn) handleSlot(rb *recvBatch, i int) {
	ps := pc.ps
	p, from, trunc, info := rb.slot(i)
	if info.hasOvfl && info.ovfl != pc.ovfl {
		ps.rcvbufDrops.Add(uint64(info.ovfl - pc.ovfl))
		pc.ovfl = info.ovfl
	}
	if trunc {
		ps.truncated.Add(1)
		return
	}
	pc.curDst, pc.curIf = info.dst, info.ifindex
	if info.seg > 0 && len(p) > info.seg {
		// A coalesced run: after a panic in one of its datagrams,
		// delivery resumes with the next one of the run (segOff).
		off := pc.segOff
		if off == 0 {
			ps.groBatches.Add(1)
		}
		for off < len(p) && !pc.closed {
			k := min(info.seg, len(p)-off)
			if off+k < len(p) {
				pc.resume, pc.segOff = i, off+k
			} else {
				pc.resume, pc.segOff = i+1, 0
			}
			pc.handleOne(p[off:off+k], from)
			off += k
		}
		pc.segOff = 0
	} else {
		pc.handleOne(p, from)
	}
	pc.curDst, pc.curIf = netip.Addr{}, 0
}

func (pc *PacketConn) handleOne(p []byte, from netip.AddrPort) {
	ps := pc.ps
	ps.datagramsIn.Add(1)
	ps.bytesIn.Add(uint64(len(p)))
	if pc.sessions != nil {
		s := pc.sessions.lookup(from, pc.curDst, pc.curIf)
		if s == nil {
			return // refused at the cap, or by OnSessionOpen
		}
		pc.cur = s
		defer func() { pc.cur = nil }()
	}
	pc.h.OnDatagram(pc, p, from)
}

// reportError hands a socket error to the handler, if it wants them, and
// counts it.
func (pc *PacketConn) reportError(err error) {
	pc.ps.socketErrors.Add(1)
	if pc.eh != nil {
		pc.eh.OnPacketError(pc, err)
	}
}

// closeWith closes the socket on its shard. Loop only.
func (pc *PacketConn) closeWith(reason error) {
	if pc.closed {
		return
	}
	if !pc.wantWrite && !pc.flushing && pc.Queued() > 0 {
		// One try: the rest would wait for a reader that may never
		// come. Its errors are counted, not reported: the handler must
		// not run in the middle of the close.
		pc.flushing = true
		_ = pc.flushQueue()
		pc.flushing = false
	}
	pc.closed = true
	ps := pc.ps
	if n := pc.Queued(); n > 0 {
		ps.queueDrops.Add(uint64(n))
	}
	pc.q.reset()
	if pc.sessions != nil {
		pc.sessions.closeAll(reason)
	}
	_ = ps.sh.loop.Unwatch(pc.fd)
	closeFd(pc.fd)
	ps.remove(pc)
	pc.failAsync(ErrConnClosed)
}
