package engine

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/shardnet/shardnet/shard"
	"golang.org/x/sys/unix"
)

// listener is one address the engine serves. In acceptor mode it has one
// listening socket watched by the engine's acceptor loop, which hands each
// accepted fd to the shard the balancer picks. With WithReusePort it has one
// SO_REUSEPORT socket per shard, each watched by its own shard: the kernel
// spreads connections and nothing is handed over.
type listener struct {
	e         *Engine
	addr      net.Addr
	isUnix    bool
	unlink    string // a unix socket path to remove on close
	acceptors []*acceptor
}

// acceptor drains one listening socket on one loop.
type acceptor struct {
	l       *listener
	loop    *shard.Loop
	fd      int
	shard   int // the shard that owns the loop, or -1 for the acceptor loop
	spare   int // a reserved fd, given up to accept-and-close on EMFILE
	backoff time.Duration
	warned  bool
	paused  *shard.Timer
}

// Listen starts serving addr ("tcp://host:port", "tcp4://…", "tcp6://…",
// "unix:///path" or a bare "host:port") and returns the bound address,
// which tells the port chosen for ":0". Any goroutine.
func (e *Engine) Listen(addr string) (net.Addr, error) {
	network, address, err := splitAddr(addr)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		return nil, ErrEngineStopped
	}
	l := &listener{e: e, isUnix: network == "unix"}
	n := 1
	if e.cfg.reusePort && !l.isUnix {
		n = len(e.shards)
	} else if err := e.startAcceptLoop(); err != nil {
		e.mu.Unlock()
		return nil, err
	}
	acceptLoop := e.acceptLoop
	e.mu.Unlock()
	// The sockets are made and watched without e.mu: watching waits for
	// the loops, and a shard may itself be waiting for e.mu (a callback
	// calling Listen too), which would deadlock.
	for i := 0; i < n; i++ {
		fd, bound, err := listenSocket(network, address, n > 1)
		if err != nil {
			l.close()
			return nil, err
		}
		if i == 0 {
			l.addr = bound
			if l.isUnix {
				l.unlink = address
			} else {
				address = bound.String() // the others bind the port the first got
			}
		}
		a := &acceptor{l: l, fd: fd, shard: -1, spare: -1, loop: acceptLoop}
		if n > 1 {
			a.shard, a.loop = i, e.shards[i].loop
		}
		if a.spare, err = unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
			unix.Close(fd)
			l.close()
			return nil, os.NewSyscallError("open", err)
		}
		l.acceptors = append(l.acceptors, a)
		if err := a.onLoop(func() error { return a.loop.Watch(a.fd, shard.EventRead, a) }); err != nil {
			l.close()
			return nil, err
		}
	}
	e.mu.Lock()
	if e.stopping {
		// Stop began meanwhile and did not see this listener.
		e.mu.Unlock()
		l.close()
		return nil, ErrEngineStopped
	}
	e.listeners = append(e.listeners, l)
	e.mu.Unlock()
	return l.addr, nil
}

// startAcceptLoop starts the loop that acceptor-mode listeners share. The
// caller holds e.mu.
func (e *Engine) startAcceptLoop() error {
	if e.acceptLoop != nil {
		return nil
	}
	loop, err := shard.New(shard.WithPanicHandler(e.loopPanic))
	if err != nil {
		return err
	}
	e.acceptLoop = loop
	e.acceptDone = make(chan struct{})
	go func() {
		defer close(e.acceptDone)
		_ = loop.Run()
	}()
	return nil
}

// onLoop runs fn on the acceptor's loop and returns its error. Called on
// that very loop (Listen from a callback of a reuse-port shard), it runs fn
// at once: waiting for a task the loop would run after the caller returns
// would wait forever.
func (a *acceptor) onLoop(fn func() error) error {
	if a.l.e.onShard(a.shard) {
		return fn()
	}
	errc := make(chan error, 1)
	if err := a.loop.Submit(func() { errc <- fn() }); err != nil {
		return mapSubmitErr(err)
	}
	return <-errc
}

// Serve is New followed by Listen on every address. On error nothing is
// left running.
func Serve(h Handler, addrs []string, opts ...Option) (*Engine, error) {
	e, err := New(h, opts...)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if _, err := e.Listen(a); err != nil {
			e.Stop(context.Background())
			return nil, err
		}
	}
	return e, nil
}

// Addrs returns the addresses the engine listens on. Any goroutine.
func (e *Engine) Addrs() []net.Addr {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]net.Addr, 0, len(e.listeners))
	for _, l := range e.listeners {
		out = append(out, l.addr)
	}
	return out
}

// HandleEvents accepts what is pending, up to a batch, and hands it on.
// Loop only (the acceptor's loop).
func (a *acceptor) HandleEvents(lfd int, _ shard.Events) {
	e := a.l.e
	if a.shard >= 0 {
		// A reuse-port listener opens its connections on its own shard:
		// what their OnOpen wrote leaves now, whichever way the batch
		// ends, not at the shard's next unrelated event.
		defer e.shards[a.shard].flushDirty()
	}
	for i := 0; i < 256; i++ {
		fd, peer, err := rawAccept(lfd)
		switch {
		case err == nil:
			a.backoff, a.warned = 0, false
			e.handoff(fd, peer, a.l.isUnix, a.shard)
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR || err == unix.ECONNABORTED:
			// The peer gave up before we took it; take the next.
		case err == unix.EMFILE || err == unix.ENFILE:
			// Out of fds: give up the spare to take the connection and
			// close it, so the peer hears at once instead of waiting in
			// the backlog; then rest so we do not spin.
			if !a.warned {
				e.cfg.logger.Warn("accept: out of file descriptors; closing new connections until fds free up",
					"addr", a.l.addr.String(), "err", err)
				a.warned = true
			}
			e.overLimit.Add(1)
			a.shedOne()
			a.pause()
			return
		default:
			e.cfg.logger.Error("accept failed", "addr", a.l.addr.String(), "err", err)
			a.pause()
			return
		}
	}
}

// shedOne accepts and closes one connection using the spare fd.
func (a *acceptor) shedOne() {
	if a.spare >= 0 {
		unix.Close(a.spare)
		a.spare = -1
	}
	if fd, _, err := unix.Accept4(a.fd, unix.SOCK_CLOEXEC); err == nil {
		unix.Close(fd)
	}
	if fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		a.spare = fd
	}
}

// pause stops watching the listener for a growing while (5 ms doubling to
// 500 ms) and then watches it again.
func (a *acceptor) pause() {
	a.backoff = min(max(2*a.backoff, 5*time.Millisecond), 500*time.Millisecond)
	if err := a.loop.Unwatch(a.fd); err != nil {
		return
	}
	a.paused = a.loop.AfterFunc(a.backoff, func() {
		a.paused = nil
		_ = a.loop.Watch(a.fd, shard.EventRead, a)
	})
}

// handoff gives an accepted fd to a shard: the balancer's pick, or its own
// shard for a reuse-port listener (then it runs on that shard's loop and
// registers at once). Any goroutine.
func (e *Engine) handoff(fd int, peer netip.AddrPort, isUnix bool, own int) {
	if !e.admit() {
		unix.Close(fd)
		return
	}
	if !isUnix {
		e.setConnOptions(fd)
	}
	idx := own
	if idx < 0 {
		idx = e.cfg.balancer.Pick(e.loads, peer)
	}
	s := e.shards[idx]
	// Count the connection now, not when the shard gets to it, so a burst
	// of accepts sees the loads it creates.
	s.live.Add(1)
	if own >= 0 {
		s.register(fd, e.h, isUnix)
		return
	}
	s.postHandoff(fd, isUnix)
}

// admit counts a new connection against WithMaxConns, or refuses it.
func (e *Engine) admit() bool {
	n := e.liveTotal.Add(1)
	if max := e.cfg.maxConns; max > 0 && n > int64(max) {
		e.liveTotal.Add(-1)
		e.overLimit.Add(1)
		return false
	}
	return true
}

func peerAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// close stops accepting: each acceptor's loop unwatches and closes its
// socket. It waits for that, so no accept happens after close returns.
func (l *listener) close() {
	var wg sync.WaitGroup
	for _, a := range l.acceptors {
		a := a
		if l.e.onShard(a.shard) {
			a.release() // on its own loop already: see onLoop
			continue
		}
		wg.Add(1)
		if a.loop.Submit(func() {
			defer wg.Done()
			a.release()
		}) != nil {
			wg.Done()
			a.release() // the loop is gone: nobody else touches a
		}
	}
	wg.Wait()
	l.acceptors = nil
	if l.unlink != "" {
		os.Remove(l.unlink)
	}
}

func (a *acceptor) release() {
	if a.paused != nil {
		a.paused.Stop()
		a.paused = nil
	}
	_ = a.loop.Unwatch(a.fd)
	unix.Close(a.fd)
	if a.spare >= 0 {
		unix.Close(a.spare)
		a.spare = -1
	}
}

// listenSocket opens a non-blocking listening socket. Go's net package
// resolves and binds it; the engine keeps a dup of the fd and closes Go's
// listener, so Go's poller never watches it.
func listenSocket(network, address string, reusePort bool) (int, net.Addr, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	if reusePort {
		lc.Control = func(_, _ string, c syscallRawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			})
			if err != nil {
				return err
			}
			return os.NewSyscallError("setsockopt", serr)
		}
	}
	ln, err := lc.Listen(context.Background(), network, address)
	if err != nil {
		return -1, nil, err
	}
	if ul, ok := ln.(*net.UnixListener); ok {
		ul.SetUnlinkOnClose(false) // the engine removes the path at Stop
	}
	defer ln.Close()
	fl, ok := ln.(interface{ File() (*os.File, error) })
	if !ok {
		return -1, nil, fmt.Errorf("engine: listener %T has no file", ln)
	}
	f, err := fl.File()
	if err != nil {
		return -1, nil, err
	}
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	f.Close()
	if err != nil {
		return -1, nil, os.NewSyscallError("fcntl", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, nil, os.NewSyscallError("fcntl", err)
	}
	return fd, ln.Addr(), nil
}
