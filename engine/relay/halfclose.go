package relay

import "github.com/shardnet/shardnet/engine"

// halfCloses are one shard's half-closes put off to the end of the round
// in which their EOF was read (see pair.readEOF). Loop only: each shard has
// its own.
//
// A half-close passed on at once costs a shutdown(2), and its FIN wakes
// the peer; when the other side's EOF is read later in the same round (a
// client that closes as soon as its reply is complete, while its backend
// closes too), the pair then closes both sockets anyway, and close(2)
// would have sent that FIN itself. Waiting for the round's other events
// first, as HAProxy runs its streams after its I/O, turns those pairs into
// two closes; a lone half-close goes out microseconds later than it would
// have.
type halfCloses struct {
	dirs  []*direction  // directions whose dst gets CloseWrite
	timer *engine.Timer // due at once, so it runs after this round's events; nil until the first
	run   func()        // flush, made once
}

// passHalfClose closes d.dst's write side at the end of this round, unless
// the pair closes first.
func (p *Proxy) passHalfClose(d *direction) {
	i := d.dst.Shard()
	if i >= len(p.half) {
		d.dst.CloseWrite() // not booted on this engine's shards: no timer to use
		return
	}
	hc := &p.half[i]
	if len(hc.dirs) == 0 && !hc.arm(p.eng, i) {
		d.dst.CloseWrite()
		return
	}
	hc.dirs = append(hc.dirs, d)
}

// arm schedules flush for the end of this round: a timer due now runs
// after the round's fds. The shard's timer is made once and reset after.
func (hc *halfCloses) arm(e *engine.Engine, shard int) bool {
	if hc.timer != nil {
		hc.timer.Reset(0)
		return true
	}
	t, err := e.AfterFunc(shard, 0, hc.run)
	if err != nil {
		return false
	}
	hc.timer = t
	return true
}

// flush passes the round's half-closes on. A CloseWrite that fails closes
// its pair, which may not add to the list (only an EOF does), but the loop
// reads the length each time all the same.
func (hc *halfCloses) flush() {
	for i := 0; i < len(hc.dirs); i++ {
		d := hc.dirs[i]
		hc.dirs[i] = nil
		if d != nil && !d.dst.Closed() {
			d.dst.CloseWrite()
		}
	}
	hc.dirs = hc.dirs[:0]
}

// drop forgets the half-closes of pr, a pair that has ended: the pair is
// kept for another client, whose directions these are not.
func (hc *halfCloses) drop(pr *pair) {
	for i, d := range hc.dirs {
		if d != nil && d.pr == pr {
			hc.dirs[i] = nil
		}
	}
}

// bootHalfCloses makes the shards' lists, on OnBoot.
func (p *Proxy) bootHalfCloses(shards int) {
	p.half = make([]halfCloses, shards)
	p.freePairs = make([][]*pair, shards)
	for i := range p.half {
		hc := &p.half[i]
		hc.run = hc.flush
	}
}
