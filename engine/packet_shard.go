package engine

import (
	"net/netip"
	"sync/atomic"
)

// packetShard is the datagram side of one shard: its receive and send
// batches, shared by the shard's UDP sockets, the sockets with output to
// flush, and the counters.
type packetShard struct {
	sh *shardCtx

	// Loop only.
	rb          *recvBatch    // made on the first socket: most engines have none
	sb          *sendBatch    // likewise
	spans       []int         // per message of sb: how many queued datagrams it carries
	conns       []*PacketConn // the open sockets, for Stop
	dirty       []*PacketConn // sockets with datagrams to flush
	dirtyNext   int           // the next dirty entry flushDirty takes
	depth       int           // packet callbacks running; the outermost flushes
	flushPosted bool          // a flush task is queued
	flushFn     func()        // made once: a method value per post would allocate

	// Counters: the loop writes, any goroutine reads.
	datagramsIn, datagramsOut atomic.Uint64
	bytesIn, bytesOut         atomic.Uint64
	queueDrops                atomic.Uint64
	sendErrors                atomic.Uint64
	sendWaits                 atomic.Uint64
	socketErrors              atomic.Uint64
	rcvbufDrops               atomic.Uint64
	truncated                 atomic.Uint64
	gsoSends, groBatches      atomic.Uint64
	gsoFailures               atomic.Uint64
	panics                    atomic.Uint64
	sessions                  atomic.Int64
	sessionsOpened            atomic.Uint64
	sessionsExpired           atomic.Uint64
	sessionsRefused           atomic.Uint64
}

func newPacketShard(sh *shardCtx) *packetShard {
	ps := &packetShard{sh: sh}
	ps.flushFn = ps.flushTask
	return ps
}

func (ps *packetShard) recvBatch() *recvBatch {
	if ps.rb == nil {
		cfg := &ps.sh.e.cfg
		ps.rb = newRecvBatch(cfg.packetSlots, cfg.packetSlotSize)
	}
	return ps.rb
}

func (ps *packetShard) sendBatch() *sendBatch {
	if ps.sb == nil {
		n := ps.sh.e.cfg.packetSlots
		ps.sb = newSendBatch(n)
		ps.spans = make([]int, 0, n)
	}
	return ps.sb
}

// enter and leave bracket every packet callback of the engine (readiness,
// timers, async drains): the outermost leave flushes what the handlers
// queued, datagrams and TCP output alike, so a round's writes leave
// together.
func (ps *packetShard) enter() { ps.depth++ }

func (ps *packetShard) leave() {
	ps.depth--
	if ps.depth == 0 {
		ps.flushDirty()
		ps.sh.flushDirty()
	}
}

func (ps *packetShard) flushTask() {
	ps.flushPosted = false
	ps.enter()
	ps.leave()
}

// flushDirty flushes every listed socket. Handler code it runs
// (OnPacketError) may list more; they are taken in the same pass.
func (ps *packetShard) flushDirty() {
	for ps.dirtyNext < len(ps.dirty) {
		pc := ps.dirty[ps.dirtyNext]
		ps.dirty[ps.dirtyNext] = nil
		ps.dirtyNext++
		pc.dirty = false
		if !pc.closed && !pc.wantWrite {
			pc.flush()
		}
	}
	ps.dirty = ps.dirty[:0]
	ps.dirtyNext = 0
}

// remove takes a closed socket out of the shard's list.
func (ps *packetShard) remove(pc *PacketConn) {
	for i, c := range ps.conns {
		if c == pc {
			last := len(ps.conns) - 1
			ps.conns[i] = ps.conns[last]
			ps.conns[last] = nil
			ps.conns = ps.conns[:last]
			return
		}
	}
}

// closeAll closes the shard's sockets for Stop. Loop only.
func (ps *packetShard) closeAll() {
	ps.enter()
	defer ps.leave()
	for len(ps.conns) > 0 {
		ps.conns[len(ps.conns)-1].closeWith(ErrEngineStopped)
	}
}

// stats is a snapshot of the counters.
func (ps *packetShard) stats() PacketStats {
	return PacketStats{
		DatagramsIn:     ps.datagramsIn.Load(),
		DatagramsOut:    ps.datagramsOut.Load(),
		BytesIn:         ps.bytesIn.Load(),
		BytesOut:        ps.bytesOut.Load(),
		QueueDrops:      ps.queueDrops.Load(),
		SendErrors:      ps.sendErrors.Load(),
		SendWaits:       ps.sendWaits.Load(),
		SocketErrors:    ps.socketErrors.Load(),
		RcvbufDrops:     ps.rcvbufDrops.Load(),
		Truncated:       ps.truncated.Load(),
		GSOSends:        ps.gsoSends.Load(),
		GROBatches:      ps.groBatches.Load(),
		GSOFailures:     ps.gsoFailures.Load(),
		Panics:          ps.panics.Load(),
		Sessions:        ps.sessions.Load(),
		SessionsOpened:  ps.sessionsOpened.Load(),
		SessionsExpired: ps.sessionsExpired.Load(),
		SessionsRefused: ps.sessionsRefused.Load(),
	}
}

// rxInfo is what the control messages of one received datagram said.
type rxInfo struct {
	dst     netip.Addr // the address the datagram came to (IP_PKTINFO / IPV6_PKTINFO), if asked for
	ifindex int32      // the interface it came in on, with dst
	ovfl    uint32     // SO_RXQ_OVFL: the socket's drop count so far
	hasOvfl bool
	seg     int // UDP_GRO: the size of the coalesced segments, 0 if not coalesced
}
