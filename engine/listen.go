package engine

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"

	"github.com/shardnet/shardnet/shard"
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
	lc        listenConfig // TLS, PROXY header, rate limits: what its connections get
}

// ListenOption configures one listener in Listen, so that one engine can
// serve different kinds of listeners side by side (plaintext and TLS).
type ListenOption func(*listenConfig)

type listenConfig struct {
	tls   *tls.Config  // nil: plaintext
	proxy *proxyListen // nil: no PROXY header
	rate  *listenRate  // nil: no rate limits; see ListenRateLimit
}

// listenOptions applies and checks a listener's options (Listen's and
// ListenFiles').
func listenOptions(opts []ListenOption) (listenConfig, error) {
	var lc listenConfig
	for _, o := range opts {
		o(&lc)
	}
	if lc.rate != nil && lc.rate.err != nil {
		return lc, lc.rate.err
	}
	if lc.tls != nil && len(lc.tls.Certificates) == 0 && lc.tls.GetCertificate == nil && lc.tls.GetConfigForClient == nil {
		return lc, fmt.Errorf("%w: ListenTLS: the config has no certificate (Certificates, GetCertificate or GetConfigForClient)", ErrInvalidOption)
	}
	return lc, nil
}

// Listen starts serving addr ("tcp://host:port", "tcp4://…", "tcp6://…",
// "unix:///path" or a bare "host:port") and returns the bound address,
// which tells the port chosen for ":0". opts configure this listener
// only (ListenTLS, ListenProxyProto, ListenRateLimit). Any goroutine.
// Called on a shard with WithReusePort, it returns before the other shards
// have begun watching their sockets (a shard never waits for another);
// connections arriving meanwhile wait in the kernel's backlog.
func (e *Engine) Listen(addr string, opts ...ListenOption) (net.Addr, error) {
	network, address, err := splitAddr(addr)
	if err != nil {
		return nil, err
	}
	lc, err := listenOptions(opts)
	if err != nil {
		return nil, err
	}
	lc.tls = e.handshakeConfig(lc.tls)
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		return nil, ErrEngineStopped
	}
	l := &listener{e: e, isUnix: network == "unix", lc: lc}
	n := 1
	onShards := e.acceptsOnShards(l.isUnix)
	if onShards {
		n = len(e.shards)
	} else if err := e.startAcceptLoop(); err != nil {
		e.mu.Unlock()
		return nil, err
	}
	acceptLoop := e.acceptLoop
	e.mu.Unlock()
	// The sockets are made and watched without e.mu: watching waits for
	// the loops, and a shard may itself be waiting for e.mu (a callback
	// calling Listen too), which would deadlock. For the same reason a
	// shard calling Listen does not wait for another shard's loop: that
	// shard may be in Listen too, waiting for this one.
	onLoop := e.onLoop()
	for i := 0; i < n; i++ {
		fd, bound, err := listenSocket(network, address, e.cfg.reusePort && !l.isUnix)
		if err != nil {
			l.closeSoon()
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
		if onShards {
			a.shard, a.loop = i, e.shards[i].loop
		}
		if a.spare, err = openSpare(); err != nil {
			closeFd(fd)
			l.closeSoon()
			return nil, err
		}
		if err := l.start(a, onLoop); err != nil {
			return nil, err
		}
	}
	if err := l.publish(); err != nil {
		return nil, err
	}
	return l.addr, nil
}

// start adds a to the listener and has its loop watch the socket. onLoop
// says the caller is a shard: it then waits for no other shard's loop,
// which may be in Listen too, waiting for this one (watchLater). On an
// error the listener is closed.
func (l *listener) start(a *acceptor, onLoop bool) error {
	l.acceptors = append(l.acceptors, a)
	if onLoop && a.shard >= 0 && !l.e.onShard(a.shard) {
		a.watchLater()
		return nil
	}
	if err := a.onLoop(a.watch); err != nil {
		l.closeSoon()
		return err
	}
	return nil
}

// publish makes a started listener one Stop closes, or closes it if Stop
// began meanwhile and did not see it.
func (l *listener) publish() error {
	e := l.e
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		l.closeSoon()
		return ErrEngineStopped
	}
	e.listeners = append(e.listeners, l)
	e.mu.Unlock()
	return nil
}

// acceptsOnShards says whether a listener's sockets are watched by the
// shards themselves, with no acceptor loop and no hand-off: one
// SO_REUSEPORT socket per shard (WithReusePort, TCP), or the only shard's
// socket when there is one shard. There the acceptor loop would only put
// a second thread between accept and the shard: a wake-up of the other
// thread, and with GOMAXPROCS=1 a hand-over of the P, for every
// connection.
func (e *Engine) acceptsOnShards(isUnix bool) bool {
	return len(e.shards) == 1 || e.cfg.reusePort && !isUnix
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

// Unlisten stops serving the address Listen returned (compared as
// strings): the listening socket is closed, so new connections are
// refused by the kernel, and a unix socket's path is removed. Connections
// already accepted stay open. It returns ErrUnknownListener if the engine
// does not listen on addr (any more), ErrEngineStopped after Stop. Any
// goroutine, callbacks included: called on a shard it returns before the
// socket is closed (a shard must not wait for another, which may be
// waiting for it), and the close completes in the background; Stop waits
// for it.
func (e *Engine) Unlisten(addr net.Addr) error {
	e.mu.Lock()
	if e.stopping {
		e.mu.Unlock()
		return ErrEngineStopped
	}
	var found *listener
	for i, l := range e.listeners {
		if addr != nil && l.addr.String() == addr.String() {
			found = l
			e.listeners = append(e.listeners[:i], e.listeners[i+1:]...)
			e.unlistens.Add(1) // under mu, before Stop can look
			break
		}
	}
	e.mu.Unlock()
	if found == nil {
		return fmt.Errorf("%w: %v", ErrUnknownListener, addr)
	}
	// Without e.mu: close waits for the acceptors' loops.
	if e.onLoop() {
		go func() {
			defer e.unlistens.Done()
			found.close()
		}()
		return nil
	}
	defer e.unlistens.Done()
	found.close()
	return nil
}

// closeSoon closes l. Called on a shard, it returns at once and the close
// completes in the background, because a shard must not wait for another
// shard's loop (which may be waiting for it); Stop waits for that close
// unless it had already begun.
func (l *listener) closeSoon() {
	e := l.e
	if !e.onLoop() {
		l.close()
		return
	}
	e.mu.Lock()
	counted := !e.stopping
	if counted {
		e.unlistens.Add(1)
	}
	e.mu.Unlock()
	go func() {
		if counted {
			defer e.unlistens.Done()
		}
		l.close()
	}()
}

// close stops accepting: each acceptor's loop unwatches and closes its
// socket. It waits for that, so no accept happens after close returns.
func (l *listener) close() {
	var wg sync.WaitGroup
	for _, a := range l.acceptors {
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

// splitAddr parses "tcp://127.0.0.1:7000", "tcp4://…", "tcp6://[::1]:0",
// "unix:///run/x.sock" or a bare "host:port" (TCP).
func splitAddr(addr string) (network, address string, err error) {
	network, address, ok := strings.Cut(addr, "://")
	if !ok {
		return "tcp", addr, nil
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
		return network, address, nil
	}
	return "", "", fmt.Errorf("engine: address %q: unknown network %q (want tcp, tcp4, tcp6 or unix)", addr, network)
}
