package engine

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/shard"
)

// dialState is a connect in progress, watched for writability.
type dialState struct {
	s      *shardCtx
	fd     int
	isUnix bool
	h      Handler
	cb     func(*Conn, error)
	timer  shard.Timer    // the connect timeout
	peer   netip.AddrPort // the target, for errors
	path   string         // the unix socket's path, for errors
	tls    *tls.Config    // DialTLS's, with ServerName set
}

// Dial connects to addr ("tcp://ip:port", "unix:///path", a bare
// "host:port") without blocking any shard: the connect runs non-blocking
// inside the chosen shard's reactor, and cb runs there, once, with the open
// connection (after its handler's OnOpen) or the error: a timeout satisfies
// net.Error with Timeout() true and errors.Is(err, ErrTimeout); a refused
// connect wraps syscall.ECONNREFUSED. Host names are resolved on the
// offload pool, never on a shard. Any goroutine, callbacks included.
func (e *Engine) Dial(addr string, cb func(c *Conn, err error), opts ...DialOption) error {
	cfg := dialConfig{shard: -1, timeout: 10 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cb == nil {
		return fmt.Errorf("%w: Dial with a nil callback", ErrInvalidOption)
	}
	if cfg.shard >= len(e.shards) || cfg.shard < -1 {
		return fmt.Errorf("%w: OnShard(%d): want 0..%d", ErrInvalidOption, cfg.shard, len(e.shards)-1)
	}
	if cfg.h == nil {
		cfg.h = e.h
	}
	network, address, err := splitAddr(addr)
	if err != nil {
		return err
	}
	if cfg.tls != nil && cfg.tls.ServerName == "" && network != "unix" {
		// As tls.Dial does: the host dialed is the one to verify.
		cfg.tls = cfg.tls.Clone()
		cfg.tls.ServerName = hostOf(address)
	}
	if network == "unix" {
		return e.dialTarget(netip.AddrPort{}, address, cfg, cb)
	}
	ap, err := netip.ParseAddrPort(address)
	if err == nil {
		return e.dialTarget(ap, "", cfg, cb)
	}
	// A host name: resolve off the shards, then dial.
	return e.Offload(func() {
		taddr, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			e.runDialCallback(cfg, cb, err)
			return
		}
		ap := taddr.AddrPort()
		if err := e.dialTarget(ap, "", cfg, cb); err != nil {
			e.runDialCallback(cfg, cb, err)
		}
	})
}

// runDialCallback reports a dial error on a shard, as Dial promises.
func (e *Engine) runDialCallback(cfg dialConfig, cb func(*Conn, error), err error) {
	idx := max(cfg.shard, 0)
	s := e.shards[idx]
	if s.loop.Submit(func() { cb(nil, err) }) != nil {
		cb(nil, ErrEngineStopped)
	}
}

// dialTarget starts a connect to the unix socket at path, or to peer
// when path is empty, on the shard the options or the balancer pick.
func (e *Engine) dialTarget(peer netip.AddrPort, path string, cfg dialConfig, cb func(*Conn, error)) error {
	idx := cfg.shard
	if idx < 0 {
		idx = e.cfg.balancer.Pick(e.loads, peer)
	}
	s := e.shards[idx]
	// Under e.gate, so that a Dial either queues its connect before
	// Stop's close-all pass (which then fails it with ErrEngineStopped if
	// it is still in progress) or is refused here. A connect queued later
	// would make a connection after the shard was emptied, which Stop
	// would wait for in vain, or be dropped unrun with the loop, its
	// callback never called.
	e.gate.RLock()
	defer e.gate.RUnlock()
	if e.closing {
		return ErrEngineStopped
	}
	return mapSubmitErr(s.loop.Submit(func() { s.startDial(peer, path, cfg, cb) }))
}

// startDial opens the socket and starts the connect. Loop only.
func (s *shardCtx) startDial(peer netip.AddrPort, path string, cfg dialConfig, cb func(*Conn, error)) {
	fd, pending, err := connectStart(peer, path, &s.e.cfg)
	if err != nil {
		cb(nil, dialError(peer, path, err))
		return
	}
	d := &dialState{s: s, fd: fd, isUnix: path != "", h: cfg.h, cb: cb, peer: peer, path: path, tls: cfg.tls}
	if !pending {
		d.connected(false)
		return
	}
	if err := s.loop.Watch(fd, shard.EventWrite, d); err != nil {
		closeFd(fd)
		cb(nil, err)
		return
	}
	s.dialing[fd] = d
	// In d, and a method value: one allocation for the timeout, not three.
	s.loop.InitTimer(&d.timer, d.timedOut)
	d.timer.Reset(cfg.timeout)
}

// dialError is a failed connect as net.Dial reports one.
func dialError(peer netip.AddrPort, path string, err error) error {
	var addr net.Addr = net.TCPAddrFromAddrPort(peer)
	network := "tcp"
	if path != "" {
		addr, network = &net.UnixAddr{Name: path, Net: "unix"}, "unix"
	}
	return &net.OpError{Op: "dial", Net: network, Addr: addr, Err: err}
}

// HandleEvents completes the connect when the socket turns writable. A
// failed connect is reported with EPOLLERR (and EPOLLHUP): only then is
// SO_ERROR read for the reason, so a connect that succeeded costs no
// getsockopt.
func (d *dialState) HandleEvents(fd int, ev shard.Events) {
	if ev&(shard.EventErr|shard.EventHup) != 0 {
		if err := connectResult(fd); err != nil {
			d.fail(dialError(d.peer, d.path, err))
			return
		}
	}
	delete(d.s.dialing, fd)
	d.timer.Stop()
	d.connected(true)
}

// connected makes the connection of a completed connect; watched says the
// socket is still watched for the connect (by d).
func (d *dialState) connected(watched bool) {
	s := d.s
	if s.e.admit() {
		s.live.Add(1)
		if d.tls != nil {
			if watched {
				s.loop.Unwatch(d.fd)
			}
			s.dialTLS(d.fd, d.h, d.isUnix, d.tls, d.cb) // cb runs after the handshake
			s.flushDirty()
			return
		}
		c := s.registerDialed(d.fd, d.h, d.isUnix, watched)
		switch {
		case c.state == stateOpen:
			d.deliver(c)
		case c.rejection() != nil:
			d.cb(nil, fmt.Errorf("engine: dial: %w", c.rejection()))
		default:
			d.cb(nil, fmt.Errorf("engine: dial: connection closed during OnOpen: %w", ErrConnClosed))
		}
		s.flushDirty()
		return
	}
	if watched {
		s.loop.Forget(d.fd)
	}
	closeFd(d.fd)
	d.cb(nil, ErrTooManyConns)
}

// registerDialed is register for a socket whose connect just completed.
// When the connect's watch is still in place (watched), the Conn takes it
// over (Loop.Handover) instead of the fd being unwatched and watched again:
// the interest OnOpen leaves then costs one EPOLL_CTL_MOD, or nothing, in
// place of a delete and an add. In edge-triggered mode the connect's
// level-triggered watch does not fit the Conn, which gets its own. Loop
// only.
func (s *shardCtx) registerDialed(fd int, h Handler, isUnix, watched bool) *Conn {
	if watched && s.e.cfg.edge {
		s.loop.Unwatch(fd)
		watched = false
	}
	if !watched {
		return s.register(fd, h, isUnix)
	}
	c := s.enterUnwatched(fd, h, isUnix)
	if err := s.loop.Handover(fd, shard.EventWrite, (*connEvents)(c)); err != nil {
		s.loop.Unwatch(fd)
	} else {
		c.flags |= flagWatched | flagPollWrite
	}
	// As registerWith from here on: OnOpen, then the interest it left.
	return c.openWith(h)
}

// deliver runs the callback with the open connection. A panic there
// aborts that connection, as a panic in any of its handler's callbacks
// would, instead of reaching the shard's panic hook with the connection
// left open and nobody told.
func (d *dialState) deliver(c *Conn) {
	defer c.recoverPanic()
	d.cb(c, nil)
}

func (d *dialState) fail(err error) {
	s := d.s
	if _, ok := s.dialing[d.fd]; !ok {
		return
	}
	delete(s.dialing, d.fd)
	s.loop.Forget(d.fd) // the close takes the socket out of the epoll set
	closeFd(d.fd)
	d.timer.Stop()
	d.cb(nil, err)
}

// timedOut fails a connect that took longer than its DialTimeout.
func (d *dialState) timedOut() { d.fail(errConnectTimeout) }

// abortDials fails every connect in progress (engine stop). Loop only.
func (s *shardCtx) abortDials(err error) {
	for _, d := range s.dialing {
		d.fail(err)
	}
}

// Enroll takes over an open connection: the engine dups its fd, closes nc,
// and serves the dup on a shard (the balancer's pick) with the engine's
// handler. Any goroutine.
func (e *Engine) Enroll(nc net.Conn) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return fmt.Errorf("engine: Enroll: %T has no file descriptor", nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	dup := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { dup, derr = dupFd(fd) }); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	nc.Close()
	_, isUnix := nc.(*net.UnixConn)
	return e.EnrollFd(dup, isUnix)
}

// EnrollFd serves an open, connected stream socket fd on a shard. The
// engine owns fd from then on (it sets it non-blocking, and closes it).
// Any goroutine.
func (e *Engine) EnrollFd(fd int, isUnix bool) error {
	if err := setNonblock(fd); err != nil {
		closeFd(fd)
		return err
	}
	var peer netip.AddrPort
	if !isUnix {
		peer = peerAddrPort(fd)
	}
	// As in Dial: hand off before Stop's close-all pass, or not at all.
	e.gate.RLock()
	defer e.gate.RUnlock()
	if e.closing {
		closeFd(fd)
		return ErrEngineStopped
	}
	e.handoff(fd, peer, isUnix, -1, nil)
	return nil
}
