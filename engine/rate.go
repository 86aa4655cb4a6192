package engine

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Rate limits, libevent's bufferevent rate limits and rate limit groups:
// token buckets for reading and writing, per connection and per group of
// connections, that refill once per tick by the tick's share of the rate,
// up to the burst.
//
// A connection reads (or writes) at most what its own bucket holds and its
// share of its group's: the group's tokens for the tick divided among the
// members that asked for some in the tick before (at least minShare each),
// so connections that read flat out get the same, and an idle member
// leaves its part to the others. When either is empty the connection stops
// reading (its epoll interest drops, so TCP pushes back on the sender) or
// stops flushing, and a timer on its shard resumes it at the next tick.
//
// A group's bucket is shared by every shard, without a lock per byte: its
// tokens are an atomic counter that each read or write takes from with one
// atomic add, and the refill, once per tick, is the only step under the
// group's mutex. Shards that race may overdraw it by a read's worth; the
// debt is paid from the next refill, so the group's rate holds over time
// however its connections are spread.

// RateLimit is one token bucket's setting. The zero RateLimit means no
// limit.
type RateLimit struct {
	// Rate is the bytes per second the bucket lets through, on average.
	// 0: no limit.
	Rate int64
	// Burst is the most the bucket holds, that is the most that may pass
	// at once after a quiet spell; it also lets a connection whose timer
	// fired late (a busy machine) catch up on the ticks it missed. 0: five
	// ticks' worth (100 ms at the default tick). It must be at least one
	// tick's worth (Rate*Tick).
	Burst int64
	// Tick is how often the bucket refills. 0: 20 ms.
	Tick time.Duration
}

// defaultRateTick is RateLimit's Tick when it is zero.
const defaultRateTick = 20 * time.Millisecond

// defaultBurstTicks is RateLimit's Burst when it is zero, in ticks: enough
// for a shard whose timer fires up to four ticks late to catch up.
const defaultBurstTicks = 5

// minShare is the least a group member may take per tick when the
// group's tokens are split among many (libevent's min_share default).
const minShare = 64

// rateCfg is a RateLimit made ready for use: per tick, in bytes.
type rateCfg struct {
	perTick int64
	burst   int64
	tick    time.Duration
}

// on reports whether the setting limits anything.
func (rc *rateCfg) on() bool { return rc.perTick > 0 }

// compile checks rl and returns its per-tick form; name is for the error.
func (rl RateLimit) compile(name string) (rateCfg, error) {
	if rl.Rate == 0 && rl.Burst == 0 && rl.Tick == 0 {
		return rateCfg{}, nil
	}
	tick := rl.Tick
	if tick == 0 {
		tick = defaultRateTick
	}
	if rl.Rate <= 0 || tick < time.Millisecond || tick > time.Minute {
		return rateCfg{}, optionError(name, rl, "Rate > 0 and Tick 1ms..1m")
	}
	perTick := int64(float64(rl.Rate) * tick.Seconds())
	if perTick < 1 {
		return rateCfg{}, optionError(name, rl, "at least one byte per tick (Rate*Tick >= 1)")
	}
	burst := rl.Burst
	if burst == 0 {
		burst = defaultBurstTicks * perTick
	}
	if burst < perTick {
		return rateCfg{}, optionError(name, rl, fmt.Sprintf("Burst >= Rate*Tick (%d)", perTick))
	}
	return rateCfg{perTick: perTick, burst: burst, tick: tick}, nil
}

// full returns a bucket filled to the burst at now; an empty one when the
// setting is off.
func (rc *rateCfg) full(now time.Duration) bucket {
	if !rc.on() {
		return bucket{}
	}
	return bucket{tokens: rc.burst, tick: rc.tickOf(now)}
}

// tickOf returns the index of the tick that holds now. The setting must
// be on.
func (rc *rateCfg) tickOf(now time.Duration) int64 { return int64(now / rc.tick) }

// nextTick returns how long from now until the next tick begins.
func (rc *rateCfg) nextTick(now time.Duration) time.Duration {
	return time.Duration(rc.tickOf(now)+1)*rc.tick - now
}

// refilled returns the tokens a bucket holding tokens at tick from holds
// at tick to: one perTick per tick, up to the burst. A bucket in debt
// (tokens < 0) pays it first.
func (rc *rateCfg) refilled(tokens, from, to int64) int64 {
	if to <= from {
		return tokens
	}
	if n := to - from; n >= (rc.burst-min(tokens, 0))/rc.perTick+1 {
		return rc.burst // long idle: full (and no overflow from n*perTick)
	}
	return min(rc.burst, tokens+(to-from)*rc.perTick)
}

// bucket is a connection's own token bucket. Loop only.
type bucket struct {
	tokens int64
	tick   int64 // the tick of the last refill
}

// refill brings b up to now's tick.
func (b *bucket) refill(rc *rateCfg, now time.Duration) {
	t := rc.tickOf(now)
	b.tokens = rc.refilled(b.tokens, b.tick, t)
	b.tick = t
}

// RateGroup is a group of connections that share read and write buckets
// (libevent's bufferevent_rate_limit_group): together they read and write
// at most the group's rates, each connection getting a fair share, on
// whichever shards they are. Make one with NewRateGroup and add
// connections with Conn.SetRateGroup. Any goroutine may use a RateGroup.
type RateGroup struct {
	read, write groupBucket
}

// NewRateGroup returns a group with the read and write limits (a zero
// RateLimit leaves that direction unlimited). It returns an error wrapping
// ErrInvalidOption for a bad limit.
func NewRateGroup(read, write RateLimit) (*RateGroup, error) {
	rc, err := read.compile("NewRateGroup read")
	if err != nil {
		return nil, err
	}
	wc, err := write.compile("NewRateGroup write")
	if err != nil {
		return nil, err
	}
	g := &RateGroup{}
	g.read.init(rc)
	g.write.init(wc)
	return g, nil
}

// groupBucket is one direction of a group: tokens shared by all shards.
type groupBucket struct {
	cfg rateCfg

	mu      sync.Mutex   // held for the refill only
	tick    atomic.Int64 // the tick of the last refill; written under mu
	tokens  atomic.Int64 // what the group may still move; any shard takes, the refill adds
	share   atomic.Int64 // what one member may take per tick, set at the refill
	asking  atomic.Int64 // members that asked in the current tick
	members atomic.Int64 // connections in the group
}

func (g *groupBucket) init(rc rateCfg) {
	g.cfg = rc
	g.tokens.Store(rc.burst)
	g.share.Store(max(rc.perTick, minShare))
}

// refresh refills the group's tokens when a new tick has begun and sets
// the share of each member for it: the tokens divided among the members
// that asked in the tick before (all of them after a quiet spell). Any
// goroutine; one of them does it once per tick.
func (g *groupBucket) refresh(t int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	last := g.tick.Load()
	if t <= last {
		return
	}
	for {
		v := g.tokens.Load()
		if g.tokens.CompareAndSwap(v, g.cfg.refilled(v, last, t)) {
			break
		}
	}
	askers := g.asking.Swap(0)
	if t-last > 1 || askers == 0 {
		askers = g.members.Load() // a tick went by without asks: count all
	}
	g.share.Store(max(minShare, g.tokens.Load()/max(askers, 1)))
	g.tick.Store(t)
}

// memberState is a connection's use of one of its group's buckets in the
// current tick. Loop only.
type memberState struct {
	tick int64 // the tick used is counted for; -1: none yet
	used int64
}

// grant returns what a member may take from g now.
func (g *groupBucket) grant(m *memberState, now time.Duration) int64 {
	t := g.cfg.tickOf(now)
	if g.tick.Load() < t {
		g.refresh(t)
	}
	if m.tick != t {
		m.tick, m.used = t, 0
		g.asking.Add(1)
	}
	return min(g.share.Load()-m.used, g.tokens.Load())
}

// take counts n bytes a member moved.
func (g *groupBucket) take(m *memberState, n int64) {
	m.used += n
	g.tokens.Add(-n)
}
