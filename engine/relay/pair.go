package relay

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// pair is one client and its backend connection. Loop only: both live on
// the client's shard, which alone touches the pair.
type pair struct {
	p        *Proxy
	client   *engine.Conn
	upstream *engine.Conn // nil until connected
	up       direction    // client -> upstream
	down     direction    // upstream -> client
	onDial   func(*engine.Conn, error)
	opened   time.Time // for WithOnDone only, as peer
	peer     string    // the client's address, kept for WithOnDone

	pool     *Pool
	backend  *backend // the one dialed or relayed to; nil before
	start    int      // the backend the policy chose first
	attempts int      // backends considered so far, from start on
	tries    int      // connects started
	lastErr  error    // the last connect error, for the log line
	reason   error    // the first close reason, for Done

	sniffing  bool // the Router has not chosen yet
	dialing   bool // a connect is in flight: its callback will come
	clientEOF bool // the client half-closed before the backend was there
	splice    bool // WithSplice, and both sides are plaintext sockets
	tls       bool // either side is TLS
	ended     bool // the pair's end was accounted for
}

// sniff shows the client's head to the Router; eof says the client has
// half-closed.
func (pr *pair) sniff(eof bool) {
	c := pr.client
	head, _ := c.Peek(c.Buffered())
	pool, err := pr.p.cfg.router(c, head, eof)
	switch {
	case errors.Is(err, ErrNeedMore):
		if eof || c.Buffered() >= pr.p.cfg.sniffMax {
			pr.refuse(fmt.Errorf("%w: %d bytes", ErrSniffLimit, c.Buffered()))
		}
		return
	case err != nil:
		pr.refuse(err)
		return
	case pool == nil:
		pool = pr.p.cfg.pools[0]
	case !pr.p.knows(pool):
		pr.refuse(ErrUnknownPool)
		return
	}
	pr.sniffing = false
	pr.clientEOF = eof
	c.SetReadDeadline(time.Time{})
	pr.route(pool)
}

// refuse closes a client before it had a backend.
func (pr *pair) refuse(why error) {
	pr.reason = why
	pr.p.cfg.logger.Info("relay: client refused", "client", pr.client.RemoteAddr(), "reason", why)
	pr.client.Close()
}

// route starts dialing pool's backends for the client, which is not read
// meanwhile.
func (pr *pair) route(pool *Pool) {
	pr.pool = pool
	pr.up.hold(holdConnect)
	var peer netip.AddrPort
	if pool.usesPeer {
		peer = peerOf(pr.client)
	}
	pr.start = pool.pick(peer)
	pr.dial()
}

// dial connects to the next backend in rotation, on the client's shard,
// from start on. When none is left the client is closed.
func (pr *pair) dial() {
	p, pool := pr.p, pr.pool
	n := len(pool.backends)
	now := time.Now()
	for pr.attempts < n && pr.tries <= pool.cfg.retries {
		b := pool.backends[(pr.start+pr.attempts)%n]
		pr.attempts++
		if !b.available(now) {
			continue
		}
		if pr.tries > 0 {
			p.retries.Add(1)
		}
		pr.tries++
		pr.backend = b
		b.active.Add(1)
		err := p.eng.Dial(b.addr, pr.onDial, pool.dialOptions(pr.client.Shard(), &p.up)...)
		if err == nil {
			pr.dialing = true
			return
		}
		b.active.Add(-1)
		pr.lastErr = err
		if errors.Is(err, engine.ErrEngineStopped) {
			break
		}
	}
	pr.backend = nil
	why := ErrNoBackend
	if pr.lastErr != nil {
		why = fmt.Errorf("%w: last error: %w", ErrNoBackend, pr.lastErr)
	}
	p.noBackend.Add(1)
	p.cfg.logger.Warn("relay: no backend answered; closing the client",
		"client", pr.client.RemoteAddr(), "pool", pool.cfg.name, "tried", pr.tries, "err", why)
	pr.reason = why
	pr.client.Close()
}

// dialed runs on the client's shard when a connect ends.
func (pr *pair) dialed(up *engine.Conn, err error) {
	pr.dialing = false
	b := pr.backend
	if err != nil {
		b.active.Add(-1)
		if errors.Is(err, engine.ErrEngineStopped) || pr.client.Closed() {
			pr.maybeEnd()
			return
		}
		pr.lastErr = err
		if !errors.Is(err, engine.ErrTooManyConns) {
			b.connectFailed(err)
		}
		pr.dial()
		return
	}
	b.connected()
	if pr.client.Closed() {
		b.active.Add(-1)
		pr.backend = nil
		up.Abort()
		pr.maybeEnd()
		return
	}
	if err := pr.p.notify(up); err != nil {
		b.active.Add(-1)
		pr.backend = nil
		up.Abort()
		pr.reason = err
		pr.client.Abort()
		return
	}
	pr.p.relayed.Add(1)
	pr.upstream = up
	// A TLS side's socket carries records, not the stream: such a pair
	// relays by copy, where the records are opened and sealed. So does a
	// rate-limited one: the buckets count what the engine reads and writes.
	_, clientTLS := pr.client.TLS()
	_, upTLS := up.TLS()
	pr.tls = clientTLS || upTLS
	pr.splice = pr.p.cfg.splice && !pr.tls && !pr.p.cfg.rated()
	up.SetContext(pr)
	pr.up.dst = up
	pr.down.src = up
	pr.down.dst = pr.client
	if v := pr.p.cfg.sendProxy; v != 0 {
		if err := writeProxyHeader(up, pr.client, v); err != nil {
			pr.reason = err
			up.Abort()
			return
		}
	}
	// What the client sent while the Router read it waits in its buffer:
	// it goes first.
	if pr.client.Buffered() > 0 {
		pr.up.relay()
	}
	if pr.clientEOF {
		pr.readEOF(&pr.up)
		return
	}
	pr.up.unhold(holdConnect)
}

// drained runs when c, the destination of a stalled splicing direction,
// can take bytes again.
func (pr *pair) drained(c *engine.Conn) {
	for _, d := range [...]*direction{&pr.up, &pr.down} {
		if d.dst == c && d.sp.stalled {
			d.unstall()
		}
	}
}

// readEOF handles the half-close of d's source: it is passed on once what
// came before it has been sent, and when both directions are done the
// pair closes.
func (pr *pair) readEOF(d *direction) {
	d.eof = true
	d.flushPipe()
	if pr.up.eof && pr.down.eof {
		// Close sends what dst has queued and then its FIN, as
		// CloseWrite would: a half-close first would only cost a
		// shutdown(2) before the close(2).
		pr.client.Close()
		pr.upstream.Close()
		return
	}
	switch {
	case d.dst == nil || d.dst.Closed():
	case pr.tls:
		// close_notify is written by CloseWrite, and only an engine
		// entry point flushes what a callback wrote: not a timer's.
		d.dst.CloseWrite()
	default:
		pr.p.passHalfClose(d)
	}
}

// closed runs when either connection of the pair is closed: the other one
// follows, gracefully if this one ended cleanly (its queued bytes still go
// out), at once if it failed.
func (pr *pair) closed(c *engine.Conn, reason error) {
	if pr.reason == nil {
		pr.reason = reason
	}
	other := pr.upstream
	if c == pr.upstream {
		other = pr.client
	}
	if other != nil && !other.Closed() {
		if errors.Is(reason, engine.ErrPeerClosed) || errors.Is(reason, engine.ErrLocalClose) ||
			errors.Is(reason, engine.ErrEngineStopped) {
			other.Close()
		} else {
			other.Abort()
		}
	}
	pr.maybeEnd()
}

// maybeEnd accounts for the pair's end once both connections are closed
// and no connect is in flight.
func (pr *pair) maybeEnd() {
	if pr.ended || pr.dialing || !pr.client.Closed() || (pr.upstream != nil && !pr.upstream.Closed()) {
		return
	}
	pr.ended = true
	pr.up.sp.close()
	pr.down.sp.close()
	var backend string
	if pr.upstream != nil && pr.backend != nil {
		pr.backend.active.Add(-1)
		pr.backend.bytesUp.Add(pr.up.bytes)
		pr.backend.bytesDown.Add(pr.down.bytes)
		backend = pr.backend.addr
	}
	pr.p.active.Add(-1)
	if fn := pr.p.cfg.onDone; fn != nil {
		fn(Done{
			Client:    pr.peer,
			Backend:   backend,
			BytesUp:   pr.up.bytes,
			BytesDown: pr.down.bytes,
			Duration:  time.Since(pr.opened),
			Err:       pr.reason,
		})
	}
	pr.p.releasePair(pr)
}

// peerOf is the client's address, for a policy that hashes it.
func peerOf(c *engine.Conn) netip.AddrPort {
	type addrPorter interface{ AddrPort() netip.AddrPort }
	if a, ok := c.RemoteAddr().(addrPorter); ok {
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

func addrString(c *engine.Conn) string {
	if a := c.RemoteAddr(); a != nil {
		return a.String()
	}
	return ""
}

// knows reports whether pool was given to New.
func (p *Proxy) knows(pool *Pool) bool {
	for _, q := range p.cfg.pools {
		if q == pool {
			return true
		}
	}
	return false
}
