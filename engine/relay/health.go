package relay

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/shardnet/shardnet/engine"
)

// HealthCheck is a pool's active check, run on each backend every
// Interval from the engine's tick (see WithTick), by one shard per
// backend. With neither Send nor Expect it is a TCP connect check; with
// them it is an L7 check: Send is written once connected, and the check
// passes when the reply contains Expect within Timeout. A stopped process
// still completes TCP handshakes through the kernel's backlog, so only an
// L7 check sees it.
type HealthCheck struct {
	Interval time.Duration // between two checks of a backend; default 2 s
	Timeout  time.Duration // for the connect and the reply; default 1 s, at most Interval
	Fall     int           // failed checks in a row that take a backend out; default 3
	Rise     int           // passed checks in a row that bring it back; default 2
	Send     []byte        // written after connecting; may be empty
	Expect   []byte        // what the reply must contain; empty: connecting suffices (with Send empty)
}

// maxCheckReply bounds what an L7 check keeps of a reply while it looks
// for Expect.
const maxCheckReply = 16 << 10

// WithHealthCheck turns on active health checks for the pool's backends
// (zero fields take their defaults).
func WithHealthCheck(hc HealthCheck) PoolOption {
	return func(c *poolConfig) { c.health = &hc }
}

func (hc *HealthCheck) validate() error {
	if hc.Interval == 0 {
		hc.Interval = 2 * time.Second
	}
	if hc.Timeout == 0 {
		hc.Timeout = min(time.Second, hc.Interval)
	}
	if hc.Fall == 0 {
		hc.Fall = 3
	}
	if hc.Rise == 0 {
		hc.Rise = 2
	}
	switch {
	case hc.Interval < 0 || hc.Timeout < 0 || hc.Timeout > hc.Interval:
		return optionError("WithHealthCheck", [2]time.Duration{hc.Interval, hc.Timeout}, "0 < Timeout <= Interval")
	case hc.Fall < 1 || hc.Rise < 1:
		return optionError("WithHealthCheck", [2]int{hc.Fall, hc.Rise}, "Fall >= 1 and Rise >= 1")
	case len(hc.Expect) > maxCheckReply:
		return optionError("WithHealthCheck", len(hc.Expect), fmt.Sprintf("an Expect of at most %d bytes", maxCheckReply))
	}
	return nil
}

// errCheckReply is why an L7 check failed on what the backend sent.
var errCheckReply = errors.New("relay: health check: reply without the expected bytes")

// checkState is a backend's health checker: only the shard that owns the
// backend's checks (its index modulo the shards) touches it.
type checkState struct {
	next     time.Time // when the next check is due
	inFlight bool      // a check is running
	fails    int       // failed checks in a row
	passes   int       // passed checks in a row
}

// check is one health check in flight, the context of its connection.
type check struct {
	b       *backend
	reply   []byte
	decided bool
}

// tick starts the checks due on shard. Loop only (shard's).
func (p *Pool) tick(shard int, now time.Time) {
	hc := p.cfg.health
	if hc == nil || p.shards == 0 {
		return
	}
	px := p.owner.Load()
	for i, b := range p.backends {
		st := &b.hc
		if i%p.shards != shard || st.inFlight || now.Before(st.next) {
			continue
		}
		st.next = now.Add(hc.Interval)
		st.inFlight = true
		ck := &check{b: b}
		err := px.eng.Dial(b.addr, func(c *engine.Conn, err error) { ck.connected(c, err) },
			append(append([]engine.DialOption{}, p.cfg.dialOpts...),
				engine.OnShard(shard), engine.DialTimeout(hc.Timeout), engine.DialHandler(&px.check))...)
		if err != nil {
			st.inFlight = false // the engine is stopping: no more checks
		}
	}
}

// connected runs when the check's connect ends.
func (ck *check) connected(c *engine.Conn, err error) {
	if err != nil {
		if errors.Is(err, engine.ErrEngineStopped) {
			ck.b.hc.inFlight = false
			return
		}
		ck.done(err)
		return
	}
	hc := ck.b.pool.cfg.health
	if len(hc.Send) == 0 && len(hc.Expect) == 0 {
		ck.done(nil)
		c.Abort() // a check needs no orderly close; a reset spares the backend a TIME_WAIT
		return
	}
	c.SetContext(ck)
	c.SetReadDeadline(time.Now().Add(hc.Timeout))
	if v := ck.b.pool.owner.Load().cfg.sendProxy; v != 0 {
		if err := writeCheckHeader(c, v); err != nil {
			ck.done(err)
			c.Abort()
			return
		}
	}
	if len(hc.Send) > 0 {
		if _, err := c.Write(hc.Send); err != nil {
			ck.done(err)
			c.Abort()
			return
		}
	}
	if len(hc.Expect) == 0 {
		ck.done(nil) // the send went out; nothing to wait for
		c.Abort()
	}
}

// done records a check's result, and moves the backend in or out of the
// rotation when enough agree.
func (ck *check) done(err error) {
	if ck.decided {
		return
	}
	ck.decided = true
	b := ck.b
	st := &b.hc
	st.inFlight = false
	hc := b.pool.cfg.health
	b.checks.Add(1)
	log := b.pool.logger()
	if err != nil {
		b.checkFails.Add(1)
		st.passes = 0
		st.fails++
		if st.fails == hc.Fall && b.healthy.Load() {
			b.healthy.Store(false)
			b.downs.Add(1)
			log.Warn("relay: backend out of rotation: health checks failed",
				"pool", b.pool.cfg.name, "backend", b.addr, "in_a_row", st.fails, "err", err)
		}
		return
	}
	st.fails = 0
	st.passes++
	if st.passes == hc.Rise && !b.healthy.Load() {
		b.healthy.Store(true)
		b.ups.Add(1)
		log.Info("relay: backend back in rotation: health checks passed",
			"pool", b.pool.cfg.name, "backend", b.addr, "in_a_row", st.passes)
	}
}

// checkSide is the handler of health checks' connections.
type checkSide struct{ p *Proxy }

// OnBoot is never called for a Dial handler.
func (checkSide) OnBoot(*engine.Engine) error { return nil }

// OnOpen accepts.
func (checkSide) OnOpen(*engine.Conn) error { return nil }

// OnTraffic looks for the expected bytes in the reply.
func (checkSide) OnTraffic(c *engine.Conn) {
	ck, ok := c.Context().(*check)
	if !ok || ck.decided {
		c.Discard(c.Buffered())
		return
	}
	b, _ := c.Next(c.Buffered())
	ck.reply = append(ck.reply, b...)
	expect := ck.b.pool.cfg.health.Expect
	switch {
	case bytes.Contains(ck.reply, expect):
		ck.done(nil)
		c.Abort()
	case len(ck.reply) >= maxCheckReply:
		ck.done(fmt.Errorf("%w (%d bytes read)", errCheckReply, len(ck.reply)))
		c.Abort()
	}
}

// OnReadEOF fails a check whose reply ended without the expected bytes.
func (checkSide) OnReadEOF(c *engine.Conn) {
	if ck, ok := c.Context().(*check); ok {
		ck.done(fmt.Errorf("%w: closed after %d bytes", errCheckReply, len(ck.reply)))
	}
	c.Abort()
}

// OnDrained does nothing: a check writes one short request.
func (checkSide) OnDrained(*engine.Conn) {}

// OnClose fails a check still waiting: a timeout, a reset.
func (checkSide) OnClose(c *engine.Conn, reason error) {
	if ck, ok := c.Context().(*check); ok {
		ck.done(reason)
	}
}

// OnTick is not called for a Dial handler.
func (checkSide) OnTick(int) {}
