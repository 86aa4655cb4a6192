package engine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/shardnet/shardnet/shard"
)

// PacketOption configures one ListenPacket or DialPacket.
type PacketOption func(*packetConfig)

type packetConfig struct {
	shard    int // DialPacket: -1 for the balancer's pick
	sessions sessionConfig
}

// OnPacketShard puts a DialPacket socket on shard i (a proxy's backend
// socket on the shard of the client it serves). Default: the balancer's
// pick. ListenPacket ignores it: it opens a socket on every shard.
func OnPacketShard(i int) PacketOption { return func(c *packetConfig) { c.shard = i } }

// ListenPacket opens addr ("udp://host:port", "udp4://…", "udp6://…") on
// every shard: one SO_REUSEPORT socket per shard, all bound to the same
// address, and the kernel spreads datagrams over them by sender. h gets
// each socket's datagrams on that socket's shard. On a wildcard address
// replies leave from the address each datagram came to. Any goroutine;
// called on a shard, it returns before the other shards have begun
// watching their sockets (a shard never waits for another), and
// datagrams arriving meanwhile wait in the sockets' buffers.
func (e *Engine) ListenPacket(addr string, h PacketHandler, opts ...PacketOption) (*PacketListener, error) {
	network, address, err := splitPacketAddr(addr)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: ListenPacket with a nil handler", ErrInvalidOption)
	}
	pcfg := packetConfig{shard: -1}
	for _, o := range opts {
		o(&pcfg)
	}
	if err := pcfg.sessions.validate(); err != nil {
		return nil, err
	}
	l := &PacketListener{e: e}
	n := len(e.shards)
	for i := 0; i < n; i++ {
		fd, bound, v6, err := packetSocket(network, address, true)
		if err != nil {
			for _, pc := range l.conns {
				closeFd(pc.fd)
			}
			return nil, err
		}
		if i == 0 {
			l.addr = net.UDPAddrFromAddrPort(bound)
			address = bound.String() // the others bind the port the first got
		}
		pc := e.newPacketConn(i, fd, bound, h, pcfg)
		pc.v6 = v6
		pc.wildcard = bound.Addr().IsUnspecified()
		l.conns = append(l.conns, pc)
	}
	if err := e.registerPackets(l.conns); err != nil {
		return nil, err
	}
	return l, nil
}

// DialPacket opens a UDP socket connected to addr ("udp://ip:port",
// "udp4://…", "udp6://…" or a bare "ip:port"; a numeric address, so that no
// shard waits for a resolver) on the shard OnPacketShard names or the
// balancer picks. A connected socket only receives from its peer, and the
// kernel's ICMP errors about it (a refused port: syscall.ECONNREFUSED)
// reach a PacketErrorHandler. Write sends to the peer. Any goroutine;
// called on a shard for a socket on another shard, it returns before that
// shard watches the socket (as ListenPacket).
func (e *Engine) DialPacket(addr string, h PacketHandler, opts ...PacketOption) (*PacketConn, error) {
	_, address, err := splitPacketAddr(addr)
	if err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: DialPacket with a nil handler", ErrInvalidOption)
	}
	to, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("engine: DialPacket %q: want a numeric ip:port: %w", addr, err)
	}
	pcfg := packetConfig{shard: -1}
	for _, o := range opts {
		o(&pcfg)
	}
	if pcfg.shard >= len(e.shards) || pcfg.shard < -1 {
		return nil, fmt.Errorf("%w: OnPacketShard(%d): want 0..%d", ErrInvalidOption, pcfg.shard, len(e.shards)-1)
	}
	if err := pcfg.sessions.validate(); err != nil {
		return nil, err
	}
	idx := pcfg.shard
	if idx < 0 {
		idx = e.cfg.balancer.Pick(e.loads, to)
	}
	fd, local, err := packetDialSocket(to)
	if err != nil {
		return nil, err
	}
	pc := e.newPacketConn(idx, fd, local, h, pcfg)
	pc.connected = true
	pc.peer = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	pc.v6 = pc.peer.Addr().Is6()
	if err := e.registerPackets([]*PacketConn{pc}); err != nil {
		return nil, err
	}
	return pc, nil
}

func (e *Engine) newPacketConn(idx, fd int, local netip.AddrPort, h PacketHandler, pcfg packetConfig) *PacketConn {
	pc := &PacketConn{ps: e.packets[idx], h: h, fd: fd, local: local}
	pc.eh, _ = h.(PacketErrorHandler)
	pc.drainFn = pc.drainAsync
	if pcfg.sessions.max > 0 {
		pc.sessions = newSessionTable(pc, pcfg.sessions)
	}
	return pc
}

// registerPackets sets up and watches each socket on its shard, and waits
// for that. Under e.gate, as Dial: a socket is either watched before Stop's
// close pass, which then closes it, or refused here; never watched after
// it and left open. On error every socket is closed.
//
// Called on a shard, it does not wait for another shard's loop, which may
// be waiting for this one (both in ListenPacket, say): those sockets are
// watched later, and one that cannot be is closed, logged and reported to
// a PacketErrorHandler, as Listen does with its reuse-port sockets.
func (e *Engine) registerPackets(pcs []*PacketConn) error {
	errc := make(chan error, len(pcs))
	onLoop := e.onLoop()
	e.gate.RLock()
	closing := e.closing
	submitted := 0
	if !closing {
		for _, pc := range pcs {
			if e.onShard(pc.ps.sh.idx) {
				errc <- pc.register()
			} else if onLoop {
				if err := pc.ps.sh.loop.Submit(pc.registerLater); err != nil {
					errc <- mapSubmitErr(err)
					pc.closed = true
					closeFd(pc.fd)
				} else {
					continue
				}
			} else if err := pc.ps.sh.loop.Submit(func() { errc <- pc.register() }); err != nil {
				errc <- mapSubmitErr(err)
				pc.closed = true
				closeFd(pc.fd)
			}
			submitted++
		}
	}
	e.gate.RUnlock()
	if closing {
		for _, pc := range pcs {
			closeFd(pc.fd)
		}
		return ErrEngineStopped
	}
	var first error
	for range submitted {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		for _, pc := range pcs {
			_ = pc.ps.sh.loop.Submit(func() { pc.closeWith(ErrLocalClose) })
		}
	}
	return first
}

// registerLater is register for a socket whose opener did not wait: a
// failure has nobody to return to, so it is logged and reported to the
// handler. Loop only.
func (pc *PacketConn) registerLater() {
	err := pc.register()
	if err == nil || errors.Is(err, ErrEngineStopped) {
		return
	}
	pc.ps.sh.e.cfg.logger.Error("udp: a shard cannot watch its socket; closed it",
		"addr", pc.local.String(), "shard", pc.ps.sh.idx, "err", err)
	if pc.eh != nil {
		pc.eh.OnPacketError(pc, err)
	}
}

// register turns on the socket's options and watches it. Loop only.
func (pc *PacketConn) register() error {
	ps := pc.ps
	pc.feat = setupPacketSocket(pc.fd, pc.v6, pc.wildcard, &ps.sh.e.cfg)
	if err := ps.sh.loop.Watch(pc.fd, shard.EventRead, (*packetEvents)(pc)); err != nil {
		pc.closed = true
		closeFd(pc.fd)
		if errors.Is(err, shard.ErrClosed) {
			return ErrEngineStopped
		}
		return err
	}
	ps.conns = append(ps.conns, pc)
	return nil
}

// splitPacketAddr parses "udp://…", "udp4://…", "udp6://…" or a bare
// "host:port" (UDP).
func splitPacketAddr(addr string) (network, address string, err error) {
	network, address, ok := strings.Cut(addr, "://")
	if !ok {
		return "udp", addr, nil
	}
	switch network {
	case "udp", "udp4", "udp6":
		return network, address, nil
	}
	return "", "", fmt.Errorf("engine: address %q: unknown network %q (want udp, udp4 or udp6)", addr, network)
}
