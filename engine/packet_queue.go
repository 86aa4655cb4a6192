package engine

import (
	"fmt"
	"net/netip"

	"github.com/shardnet/shardnet/shard"
)

// datagramOverhead is what one queued datagram counts against the
// WithPacketQueue bound on top of its bytes: its entry in the queue. It
// keeps a flood of empty datagrams bounded too.
const datagramOverhead = 64

// GSO limits: the kernel takes at most 64 segments per send
// (UDP_MAX_SEGMENTS before Linux 6.x), and a segment must fit the route's
// MTU; segments no larger than a 1,500-byte Ethernet frame allows fit every
// route worth using, so larger datagrams are sent one by one.
const (
	maxGSOSegments = 64
	maxGSOSegment4 = 1500 - 20 - 8
	maxGSOSegment6 = 1500 - 40 - 8
)

// outDatagram is one queued datagram: its bytes at buf[off:off+n].
type outDatagram struct {
	off, n  int
	to      netip.AddrPort
	src     netip.Addr // the source to send from, or invalid for the kernel's choice
	ifindex int32
}

// sendQueue holds a socket's datagrams until the kernel takes them. The
// bytes sit back to back in one arena, in order, so a run of datagrams to
// one peer is one contiguous slice: what GSO sends in one message. The
// arena and the entry slice are kept between batches, so a steady stream
// allocates nothing once they have grown to its size.
type sendQueue struct {
	buf   []byte
	items []outDatagram
	head  int // the first unsent entry
	size  int // what the unsent entries count against the bound
}

func (q *sendQueue) reset() {
	clear(q.items)
	q.buf, q.items, q.head, q.size = q.buf[:0], q.items[:0], 0, 0
}

// compact moves the unsent entries to the front once the sent ones are
// most of the arena, so a queue that waits for EPOLLOUT does not grow.
func (q *sendQueue) compact() {
	if q.head == 0 {
		return
	}
	if q.head == len(q.items) {
		q.reset()
		return
	}
	off := q.items[q.head].off
	n := copy(q.buf, q.buf[off:])
	q.buf = q.buf[:n]
	m := copy(q.items, q.items[q.head:])
	clear(q.items[m:])
	q.items = q.items[:m]
	for i := range q.items {
		q.items[i].off -= off
	}
	q.head = 0
}

// queueDatagram checks p and appends it to the socket's queue, then lists
// the socket for the end-of-callback flush.
func (pc *PacketConn) queueDatagram(p []byte, to netip.AddrPort, src netip.Addr, ifindex int32) error {
	if pc.closed {
		return ErrConnClosed
	}
	if pc.connected {
		if to.IsValid() && to != pc.peer {
			return fmt.Errorf("%w: %v on a socket connected to %v", ErrAddressFamily, to, pc.peer)
		}
		to, src = pc.peer, netip.Addr{}
	} else {
		to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
		if !to.Addr().IsValid() {
			return fmt.Errorf("%w: no address", ErrAddressFamily)
		}
		if !pc.v6 && !to.Addr().Is4() {
			return fmt.Errorf("%w: IPv6 peer %v on an IPv4 socket", ErrAddressFamily, to)
		}
		if !pc.wildcard || src.Is4() != to.Addr().Is4() {
			src, ifindex = netip.Addr{}, 0 // only a wildcard socket picks; a v6 source cannot reach a v4 peer
		}
	}
	if len(p) > maxDatagram(pc.v6 && !to.Addr().Is4()) {
		return fmt.Errorf("%w: %d bytes", ErrDatagramTooLarge, len(p))
	}
	q := &pc.q
	cost := len(p) + datagramOverhead
	if q.size+cost > pc.ps.sh.e.cfg.packetQueue && !pc.wantWrite && !pc.flushing {
		// The bound is for output the kernel cannot take yet, not for
		// what one callback writes: send what is queued now, and drop
		// only if the kernel's buffer is full.
		pc.flush()
	}
	if q.size+cost > pc.ps.sh.e.cfg.packetQueue {
		pc.ps.queueDrops.Add(1)
		return fmt.Errorf("%w: %d datagrams queued", ErrOutputFull, pc.Queued())
	}
	q.items = append(q.items, outDatagram{off: len(q.buf), n: len(p), to: to, src: src, ifindex: ifindex})
	q.buf = append(q.buf, p...)
	q.size += cost
	pc.markDirty()
	return nil
}

// markDirty lists the socket for the flush at the end of the running
// engine callback, or, when the write comes from code the packet path
// does not wrap (a TCP connection's callback, a shard task of the
// handler's), posts a flush task: it runs at the end of this round.
func (pc *PacketConn) markDirty() {
	if pc.dirty {
		return
	}
	pc.dirty = true
	ps := pc.ps
	ps.dirty = append(ps.dirty, pc)
	if ps.depth == 0 && !ps.flushPosted {
		ps.flushPosted = true
		if ps.sh.loop.Submit(ps.flushFn) != nil {
			ps.flushPosted = false // the loop is closing: Stop drops the queue
		}
	}
}

// flush sends the queued datagrams with sendmmsg, as many per call as the
// shard's send batch holds, runs of same-size datagrams to one peer as one
// GSO message. On EAGAIN it keeps the rest and waits for EPOLLOUT. A
// datagram the kernel refuses for another reason is dropped and counted;
// the rest still go, and the first such error reaches the handler once the
// queue's bookkeeping is done (handler code may write, which must not meet
// a flush half way). Loop only.
func (pc *PacketConn) flush() {
	if pc.flushing {
		return // a write from inside this flush: the running flush takes it
	}
	pc.flushing = true
	err := pc.flushQueue()
	pc.flushing = false
	if err != nil {
		pc.reportError(err)
	}
}

func (pc *PacketConn) flushQueue() (first error) {
	ps := pc.ps
	sb := ps.sendBatch()
	q := &pc.q
	for q.head < len(q.items) {
		sb.reset()
		spans := ps.spans[:0]
		for i := q.head; i < len(q.items) && !sb.full(); {
			j, seg := pc.gsoRun(i)
			first, last := q.items[i], q.items[j-1]
			sb.add(q.buf[first.off:last.off+last.n], first.to, pc.v6, pc.connected, first.src, first.ifindex, seg)
			spans = append(spans, j-i)
			i = j
		}
		ps.spans = spans
		for m := 0; m < sb.n; {
			k, err := sb.send(pc.fd, m)
			if err == nil {
				for ; k > 0; k-- {
					pc.sent(spans[m])
					m++
				}
				continue
			}
			if isAgain(err) {
				ps.sendWaits.Add(1)
				pc.waitWritable()
				q.compact()
				return first
			}
			if spans[m] > 1 && isGSOError(err) {
				// Turn GSO off and send what is left one by one.
				pc.feat.gso = false
				ps.gsoFailures.Add(1)
				ps.sh.e.cfg.logger.Warn("UDP GSO failed; off for this socket", "shard", ps.sh.idx, "err", err)
				break
			}
			ps.sendErrors.Add(uint64(spans[m]))
			pc.dropSent(spans[m])
			m++
			if first == nil {
				first = wrapSyscall("sendmmsg", err)
			}
		}
	}
	q.reset()
	return first
}

// dropSent takes n datagrams the kernel refused off the queue.
func (pc *PacketConn) dropSent(n int) {
	q := &pc.q
	for _, it := range q.items[q.head : q.head+n] {
		q.size -= it.n + datagramOverhead
	}
	q.head += n
}

// sent accounts for a message of n datagrams the kernel took.
func (pc *PacketConn) sent(n int) {
	q := &pc.q
	ps := pc.ps
	bytes := 0
	for _, it := range q.items[q.head : q.head+n] {
		bytes += it.n
	}
	q.head += n
	q.size -= bytes + n*datagramOverhead
	ps.datagramsOut.Add(uint64(n))
	ps.bytesOut.Add(uint64(bytes))
	if n > 1 {
		ps.gsoSends.Add(1)
	}
}

// gsoRun returns the end of the run of datagrams from i that one GSO
// message can carry (same peer and source, same size but a shorter last
// one, within the kernel's limits) and the segment size, 0 for a single
// datagram.
func (pc *PacketConn) gsoRun(i int) (end, seg int) {
	q := &pc.q
	first := q.items[i]
	limit := maxGSOSegment4
	if pc.v6 && !first.to.Addr().Is4() {
		limit = maxGSOSegment6
	}
	if !pc.feat.gso || first.n == 0 || first.n > limit {
		return i + 1, 0
	}
	total, max := first.n, maxDatagram(pc.v6 && !first.to.Addr().Is4())
	j := i + 1
	for j < len(q.items) && j-i < maxGSOSegments {
		nx := &q.items[j]
		if nx.n == 0 || nx.n > first.n || nx.to != first.to || nx.src != first.src || nx.ifindex != first.ifindex || total+nx.n > max {
			break
		}
		total += nx.n
		j++
		if nx.n < first.n {
			break // a shorter datagram ends a run
		}
	}
	if j-i == 1 {
		return j, 0
	}
	return j, first.n
}

// waitWritable watches the socket for EPOLLOUT: the kernel's send buffer
// is full.
func (pc *PacketConn) waitWritable() {
	if pc.wantWrite {
		return
	}
	if pc.ps.sh.loop.Modify(pc.fd, shard.EventRead|shard.EventWrite) == nil {
		pc.wantWrite = true
	}
}
