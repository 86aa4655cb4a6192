package rpc

import "github.com/shardnet/shardnet/engine"

// The engine keeps its timer heap to itself (connections' deadlines and
// the tick), so per-call timeouts live in a deadline heap per client
// shard, swept on every engine tick (WithTimerResolution): loop only,
// like the shard's own heap, with no lock and O(log n) to add or remove a
// call. A call's deadline is checked at the first tick after it.

// clientShard is one client shard's state. Loop only.
type clientShard struct {
	heap  []*call       // min-heap on deadline; call.hidx is each one's index
	conns []*clientConn // the pool's connections on this shard
	_     [64]byte      // keep shards' state off one cache line
}

// clientHandler is the client engine's handler: only its tick matters,
// each connection has its own handler (clientConn).
type clientHandler struct {
	engine.BaseHandler
	cl *Client
}

// OnTick fails the calls past their deadline and redials lost connections.
func (h clientHandler) OnTick(shard int) {
	cl := h.cl
	sh := &cl.shards[shard]
	now := cl.now()
	for len(sh.heap) > 0 && sh.heap[0].deadline <= now {
		k := sh.heap[0]
		sh.remove(k)
		k.cc.take(k.id)
		cl.stats.timeouts.Add(1)
		cl.finish(k, nil, timeoutError{after: k.timeout.String()})
	}
	for _, cc := range sh.conns {
		cc.maybeRedial(now)
	}
}

func (sh *clientShard) less(i, j int) bool { return sh.heap[i].deadline < sh.heap[j].deadline }

func (sh *clientShard) swap(i, j int) {
	h := sh.heap
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}

// push adds k to the heap.
func (sh *clientShard) push(k *call) {
	k.hidx = len(sh.heap)
	sh.heap = append(sh.heap, k)
	sh.up(k.hidx)
}

// remove takes k out of the heap, if it is in it.
func (sh *clientShard) remove(k *call) {
	i := k.hidx
	if i < 0 {
		return
	}
	last := len(sh.heap) - 1
	if i != last {
		sh.swap(i, last)
	}
	sh.heap[last] = nil
	sh.heap = sh.heap[:last]
	k.hidx = -1
	if i != last {
		if !sh.down(i) {
			sh.up(i)
		}
	}
}

func (sh *clientShard) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !sh.less(j, i) {
			break
		}
		sh.swap(i, j)
		j = i
	}
}

// down moves the element at i down; it reports whether it moved.
func (sh *clientShard) down(i int) bool {
	start := i
	n := len(sh.heap)
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		j := l
		if r := l + 1; r < n && sh.less(r, l) {
			j = r
		}
		if !sh.less(j, i) {
			break
		}
		sh.swap(i, j)
		i = j
	}
	return i > start
}
