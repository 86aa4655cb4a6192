package engine

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/shard"
)

// dialState is a connect in progress, watched for writability. It is
// taken from the engine's pool (Engine.dials) by Dial and given back when
// the connect ends, before its callback runs: a relay that dials a backend
// for each client then allocates no dial state, no task and no timer
// callback per connect (start and onTimeout are bound once per state).
type dialState struct {
	s      *shardCtx
	fd     int
	isUnix bool
	cb     func(*Conn, error)
	timer  shard.Timer    // the connect timeout
	peer   netip.AddrPort // the target, for errors
	path   string         // the unix socket's path, for errors
	// cfg is Dial's options, applied here: a config on Dial's stack would
	// move to the heap, since its address goes to the option functions.
	// Its tls is DialTLS's with ServerName set.
	cfg dialConfig

	// Kept across uses.
	e         *Engine
	start     func() // d.run, the task that starts the connect on its shard
	onTimeout func() // d.timedOut
}

// newDialState takes a dialState from the engine's pool. Any goroutine.
func (e *Engine) newDialState() *dialState {
	if d, ok := e.dials.Get().(*dialState); ok {
		return d
	}
	d := &dialState{e: e}
	d.start = d.run
	d.onTimeout = d.timedOut
	return d
}

// free gives d back to the engine's pool, cleared but for its bound
// methods. d's connect is over: its fd is no longer watched through d, its
// timer is stopped and it is out of s.dialing. The caller copies what it
// still needs first: another goroutine may take d at once. Loop only.
func (d *dialState) free() {
	e, start, onTimeout := d.e, d.start, d.onTimeout
	*d = dialState{e: e, start: start, onTimeout: onTimeout}
	e.dials.Put(d)
}

// Dial connects to addr ("tcp://ip:port", "unix:///path", a bare
// "host:port") without blocking any shard: the connect runs non-blocking
// inside the chosen shard's reactor, and cb runs there, once, with the open
// connection (after its handler's OnOpen) or the error: a timeout satisfies
// net.Error with Timeout() true and errors.Is(err, ErrTimeout); a refused
// connect wraps syscall.ECONNREFUSED. Host names are resolved on the
// offload pool, never on a shard. Any goroutine, callbacks included.
func (e *Engine) Dial(addr string, cb func(c *Conn, err error), opts ...DialOption) error {
	d := e.newDialState()
	cfg := &d.cfg
	*cfg = dialConfig{shard: -1, timeout: 10 * time.Second}
	for _, o := range opts {
		o(cfg)
	}
	err := e.dialWith(d, addr, cb)
	if err != nil {
		d.free()
	}
	return err
}

// dialWith is Dial once d holds the options; on error d was not handed to
// a shard.
func (e *Engine) dialWith(d *dialState, addr string, cb func(*Conn, error)) error {
	cfg := &d.cfg
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
		return e.dialTarget(d, netip.AddrPort{}, address, cb)
	}
	ap, err := netip.ParseAddrPort(address)
	if err == nil {
		return e.dialTarget(d, ap, "", cb)
	}
	// A host name: resolve off the shards, then dial with a state of its
	// own (d goes back to the pool on return).
	return e.dialHost(network, address, *cfg, cb)
}

// dialHost resolves a host name off the shards (on the offload pool), then
// dials.
func (e *Engine) dialHost(network, address string, cfg dialConfig, cb func(*Conn, error)) error {
	return e.Offload(func() {
		taddr, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			e.runDialCallback(cfg, cb, err)
			return
		}
		d := e.newDialState()
		d.cfg = cfg
		if err := e.dialTarget(d, taddr.AddrPort(), "", cb); err != nil {
			d.free()
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
// when path is empty, on the shard the options or the balancer pick, with
// d (holding the options). On error d was not handed to the shard.
func (e *Engine) dialTarget(d *dialState, peer netip.AddrPort, path string, cb func(*Conn, error)) error {
	idx := d.cfg.shard
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
	d.s, d.peer, d.path, d.isUnix, d.cb = s, peer, path, path != "", cb
	e.gate.RLock()
	defer e.gate.RUnlock()
	if e.closing {
		return ErrEngineStopped
	}
	return mapSubmitErr(s.loop.Submit(d.start))
}

// run opens the socket and starts the connect: Dial's task. Loop only.
func (d *dialState) run() {
	s := d.s
	fd, pending, err := connectStart(d.peer, d.path, &s.e.cfg)
	if err != nil {
		cb, err := d.cb, dialError(d.peer, d.path, err)
		d.free()
		cb(nil, err)
		return
	}
	d.fd = fd
	if !pending {
		d.connected(false)
		return
	}
	if err := s.loop.Watch(fd, shard.EventWrite, d); err != nil {
		closeFd(fd)
		cb := d.cb
		d.free()
		cb(nil, err)
		return
	}
	s.dialing[fd] = d
	s.loop.InitTimer(&d.timer, d.onTimeout)
	d.timer.Reset(d.cfg.timeout)
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
	s, fd, h, isUnix, tlsCfg, cb := d.s, d.fd, d.cfg.h, d.isUnix, d.cfg.tls, d.cb
	d.free()
	if s.e.admit() {
		s.live.Add(1)
		if tlsCfg != nil {
			if watched {
				s.loop.Unwatch(fd)
			}
			s.dialTLS(fd, h, isUnix, tlsCfg, cb) // cb runs after the handshake
			s.flushDirty()
			return
		}
		c := s.registerDialed(fd, h, isUnix, watched)
		switch {
		case c.state == stateOpen:
			deliverDialed(c, cb)
		case c.rejection() != nil:
			cb(nil, fmt.Errorf("engine: dial: %w", c.rejection()))
		default:
			cb(nil, fmt.Errorf("engine: dial: connection closed during OnOpen: %w", ErrConnClosed))
		}
		s.flushDirty()
		return
	}
	if watched {
		s.loop.Forget(fd)
	}
	closeFd(fd)
	cb(nil, ErrTooManyConns)
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

// deliverDialed runs the callback with the open connection. A panic there
// aborts that connection, as a panic in any of its handler's callbacks
// would, instead of reaching the shard's panic hook with the connection
// left open and nobody told.
func deliverDialed(c *Conn, cb func(*Conn, error)) {
	defer c.recoverPanic()
	cb(c, nil)
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
	cb := d.cb
	d.free()
	cb(nil, err)
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
