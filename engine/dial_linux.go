package engine

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/shardnet/shardnet/shard"
	"golang.org/x/sys/unix"
)

// dialState is a connect in progress, watched for writability.
type dialState struct {
	s      *shardCtx
	fd     int
	isUnix bool
	h      Handler
	cb     func(*Conn, error)
	timer  *shard.Timer
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
	if network == "unix" {
		return e.dialSockaddr(&unix.SockaddrUnix{Name: address}, true, netip.AddrPort{}, cfg, cb)
	}
	ap, err := netip.ParseAddrPort(address)
	if err == nil {
		return e.dialSockaddr(sockaddrOf(ap), false, ap, cfg, cb)
	}
	// A host name: resolve off the shards, then dial.
	return e.Offload(func() {
		taddr, err := net.ResolveTCPAddr(network, address)
		if err != nil {
			e.runDialCallback(cfg, cb, err)
			return
		}
		ap := taddr.AddrPort()
		if err := e.dialSockaddr(sockaddrOf(ap), false, ap, cfg, cb); err != nil {
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

func sockaddrOf(ap netip.AddrPort) unix.Sockaddr {
	a := ap.Addr().Unmap()
	if a.Is4() {
		return &unix.SockaddrInet4{Addr: a.As4(), Port: int(ap.Port())}
	}
	return &unix.SockaddrInet6{Addr: a.As16(), Port: int(ap.Port())}
}

func (e *Engine) dialSockaddr(sa unix.Sockaddr, isUnix bool, peer netip.AddrPort, cfg dialConfig, cb func(*Conn, error)) error {
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
	return mapSubmitErr(s.loop.Submit(func() { s.startDial(sa, isUnix, cfg, cb) }))
}

// startDial opens the socket and starts the connect. Loop only.
func (s *shardCtx) startDial(sa unix.Sockaddr, isUnix bool, cfg dialConfig, cb func(*Conn, error)) {
	family := unix.AF_INET
	switch sa.(type) {
	case *unix.SockaddrInet6:
		family = unix.AF_INET6
	case *unix.SockaddrUnix:
		family = unix.AF_UNIX
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		cb(nil, os.NewSyscallError("socket", err))
		return
	}
	if !isUnix {
		s.e.setConnOptions(fd)
	}
	d := &dialState{s: s, fd: fd, isUnix: isUnix, h: cfg.h, cb: cb}
	err = unix.Connect(fd, sa)
	switch err {
	case nil:
		d.connected()
		return
	case unix.EINPROGRESS, unix.EINTR:
	default:
		unix.Close(fd)
		cb(nil, &net.OpError{Op: "dial", Net: "tcp", Addr: sockaddrToAddr(sa), Err: os.NewSyscallError("connect", err)})
		return
	}
	if err := s.loop.Watch(fd, shard.EventWrite, d); err != nil {
		unix.Close(fd)
		cb(nil, err)
		return
	}
	s.dialing[fd] = d
	d.timer = s.loop.AfterFunc(cfg.timeout, func() { d.fail(errConnectTimeout) })
}

// HandleEvents completes the connect when the socket turns writable.
func (d *dialState) HandleEvents(fd int, _ shard.Events) {
	soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soerr != 0 {
		err = syscall.Errno(soerr)
	}
	if err != nil {
		d.fail(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", err)})
		return
	}
	d.s.loop.Unwatch(fd)
	delete(d.s.dialing, fd)
	d.timer.Stop()
	d.connected()
}

func (d *dialState) connected() {
	s := d.s
	if s.e.admit() {
		s.live.Add(1)
		c := s.register(d.fd, d.h, d.isUnix)
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
	unix.Close(d.fd)
	d.cb(nil, ErrTooManyConns)
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
	s.loop.Unwatch(d.fd)
	unix.Close(d.fd)
	d.timer.Stop()
	d.cb(nil, err)
}

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
	if err := rc.Control(func(fd uintptr) {
		dup, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return err
	}
	if derr != nil {
		return os.NewSyscallError("fcntl", derr)
	}
	nc.Close()
	_, isUnix := nc.(*net.UnixConn)
	return e.EnrollFd(dup, isUnix)
}

// EnrollFd serves an open, connected stream socket fd on a shard. The
// engine owns fd from then on (it sets it non-blocking, and closes it).
// Any goroutine.
func (e *Engine) EnrollFd(fd int, isUnix bool) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return os.NewSyscallError("fcntl", err)
	}
	var sa unix.Sockaddr
	if !isUnix {
		sa, _ = unix.Getpeername(fd)
	}
	// As in Dial: hand off before Stop's close-all pass, or not at all.
	e.gate.RLock()
	defer e.gate.RUnlock()
	if e.closing {
		unix.Close(fd)
		return ErrEngineStopped
	}
	e.handoff(fd, peerAddrPort(sa), isUnix, -1)
	return nil
}
