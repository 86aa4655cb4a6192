package engine

import (
	"syscall"
	"time"

	"github.com/shardnet/shardnet/shard"
)

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
	batch   acceptBatch
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

// watch starts watching the listening socket. Loop only.
func (a *acceptor) watch() error {
	return a.loop.Watch(a.fd, shard.EventRead, a)
}

// watchLater has the acceptor's loop watch the socket without waiting for
// it: Listen called on one shard must not wait for another. A socket the
// loop cannot watch is closed, so the kernel stops giving it connections
// (a reuse-port group spreads them over its open sockets only), and the
// listener carries on with the others. If the loop is gone, the engine is
// stopping and Listen's own check closes the listener.
func (a *acceptor) watchLater() {
	_ = a.loop.Submit(func() {
		if a.fd < 0 {
			return // closed before the loop got here
		}
		if err := a.watch(); err != nil {
			a.l.e.cfg.logger.Error("listen: a shard cannot watch its socket; closed it, the others serve",
				"addr", a.l.addr.String(), "shard", a.shard, "err", err)
			a.release()
		}
	})
}

// HandleEvents accepts what is pending, up to a batch (acceptBatch sizes
// it; what it leaves, the next poll reports), and hands it on. Loop only
// (the acceptor's loop).
func (a *acceptor) HandleEvents(lfd int, _ shard.Events) {
	e := a.l.e
	if a.shard >= 0 {
		// A reuse-port listener opens its connections on its own shard:
		// what their OnOpen wrote leaves now, whichever way the batch
		// ends, not at the shard's next unrelated event.
		defer e.shards[a.shard].flushDirty()
	}
	for i, n := 0, a.batch.size(); i < n; i++ {
		if a.l.lc.tls != nil && !e.hsCPU.paceAccept() {
			a.paceRest() // the rest waits in the kernel's backlog (tls_accept.go)
			return
		}
		fd, peer, err := rawAccept(lfd)
		switch {
		case err == nil:
			a.backoff, a.warned = 0, false
			if a.l.lc.tls != nil && e.refuseTLS(fd) {
				if a.holdTLS() {
					return
				}
				continue
			}
			if a.l.lc.tls != nil {
				a.handoffTLS(fd, peer) // counted for the pace (tls_accept.go)
				continue
			}
			e.handoff(fd, peer, a.l.isUnix, a.shard, &a.l.lc)
		case err == syscall.EAGAIN:
			a.batch.drained(i)
			return
		case err == syscall.EINTR || err == syscall.ECONNABORTED:
			// The peer gave up before we took it; take the next.
		case err == syscall.EMFILE || err == syscall.ENFILE:
			// Out of fds: give up the spare to take the connection and
			// close it, so the peer hears at once instead of waiting in
			// the backlog; then rest so we do not spin.
			if !a.warned {
				e.cfg.logger.Warn("accept: out of file descriptors; closing new connections until fds free up",
					"addr", a.l.addr.String(), "err", err)
				a.warned = true
			}
			e.overLimit.Add(uint64(a.shedPending()))
			a.pause()
			return
		default:
			e.cfg.logger.Error("accept failed", "addr", a.l.addr.String(), "err", err)
			a.pause()
			return
		}
	}
	a.batch.filled()
}

// shedPending accepts and closes the connections waiting in the backlog,
// up to a batch, with the fd the spare frees, and returns how many: each
// peer hears at once that it was refused, instead of waiting in the
// backlog for the back-off to end.
func (a *acceptor) shedPending() int {
	if a.spare >= 0 {
		closeFd(a.spare)
		a.spare = -1
	}
	n := 0
	for n < 256 && acceptAndClose(a.fd) {
		n++
	}
	if fd, err := openSpare(); err == nil {
		a.spare = fd
	}
	return n
}

// pause stops watching the listener for a growing while (5 ms doubling to
// 500 ms) and then watches it again.
func (a *acceptor) pause() {
	a.backoff = min(max(2*a.backoff, 5*time.Millisecond), 500*time.Millisecond)
	a.rest(a.backoff)
}

// rest stops watching the listener for d and then watches it again, and
// reports whether it stopped: meanwhile new connections wait in the
// kernel's backlog. A listener the loop cannot watch again is logged: it
// accepts nothing more until it is closed. Loop only (the acceptor's).
func (a *acceptor) rest(d time.Duration) bool {
	if err := a.loop.Unwatch(a.fd); err != nil {
		return false
	}
	a.paused = a.loop.AfterFunc(d, func() {
		a.paused = nil
		if err := a.loop.Watch(a.fd, shard.EventRead, a); err != nil {
			a.l.e.cfg.logger.Error("accept: cannot watch the listener again after a pause",
				"addr", a.l.addr.String(), "err", err)
		}
	})
	return true
}

func (a *acceptor) release() {
	if a.paused != nil {
		a.paused.Stop()
		a.paused = nil
	}
	if a.fd < 0 {
		return // released already (a failed watchLater)
	}
	_ = a.loop.Unwatch(a.fd)
	closeFd(a.fd)
	a.fd = -1
	if a.spare >= 0 {
		closeFd(a.spare)
		a.spare = -1
	}
}
