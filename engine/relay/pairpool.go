package relay

import (
	"time"

	"github.com/shardnet/shardnet/engine"
)

// maxFreePairs bounds each shard's list of ended pairs: enough for the
// churn of short connections, while a burst of clients that ends all at
// once leaves the rest to the garbage collector.
const maxFreePairs = 1024

// newPair returns a pair for the client c, an ended one of c's shard if
// there is one: a short connection then allocates no pair and no dial
// callback (pair.onDial is bound once per pair). Loop only.
func newPair(p *Proxy, c *engine.Conn) *pair {
	var pr *pair
	if i := c.Shard(); i < len(p.freePairs) && len(p.freePairs[i]) > 0 {
		free := p.freePairs[i]
		pr = free[len(free)-1]
		free[len(free)-1] = nil
		p.freePairs[i] = free[:len(free)-1]
		onDial := pr.onDial
		*pr = pair{onDial: onDial}
	} else {
		pr = new(pair)
		pr.onDial = pr.dialed
	}
	pr.p, pr.client = p, c
	pr.up.init(pr, c, &p.bytesUp)
	pr.down.init(pr, nil, &p.bytesDown)
	if p.cfg.onDone != nil {
		pr.opened = time.Now()
		pr.peer = addrString(c) // the fd is gone by the pair's end
	}
	return pr
}

// releasePair keeps an ended pair for the next client of its shard. The
// pair is cleared only when it is taken again (newPair): the callbacks
// that ended it may still be on the stack and read its fields (ended, and
// the closed connections), which then say the pair is over. Nothing takes
// a pair meanwhile: only a client's OnOpen does, and no pair's callback
// runs inside one. What still points at the pair is dropped first: its
// half-closes waiting for the round's end. Its connections keep it as
// their context, but a closed connection gets no more callbacks.
func (p *Proxy) releasePair(pr *pair) {
	i := pr.client.Shard()
	if i < len(p.half) {
		p.half[i].drop(pr)
	}
	if i < len(p.freePairs) && len(p.freePairs[i]) < maxFreePairs {
		p.freePairs[i] = append(p.freePairs[i], pr)
	}
}
