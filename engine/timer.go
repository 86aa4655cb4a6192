package engine

import (
	"fmt"
	"time"

	"github.com/shardnet/shardnet/shard"
)

// Timer is a callback on one shard's timer heap, made by AfterFunc or
// Every: the clock a handler uses for what is not one connection's (a
// per-call deadline of an RPC client, a health check). It costs no
// goroutine and no Go timer. Loop only: its methods run on its shard's
// thread, like the callback itself.
type Timer struct{ t *shard.Timer }

// Stop cancels the timer and reports whether it was scheduled (false once
// a one-shot timer has fired or after Stop). Loop only.
func (t *Timer) Stop() bool { return t.t.Stop() }

// Reset schedules the timer d from now (a periodic one keeps its period
// from there) and reports whether it was scheduled before. Loop only.
func (t *Timer) Reset(d time.Duration) bool { return t.t.Reset(d) }

// AfterFunc runs fn once on shard i, no sooner than d from now. Loop only:
// call it on shard i's own thread (from a callback of a connection on that
// shard, OnTick(i), or another of its timers); elsewhere it returns
// ErrNotOnShard, since the heap belongs to the shard. A panic in fn is
// logged and the shard carries on. Timers end with the engine: Stop drops
// the ones that have not fired.
func (e *Engine) AfterFunc(i int, d time.Duration, fn func()) (*Timer, error) {
	if err := e.timerShard(i, fn); err != nil {
		return nil, err
	}
	return &Timer{e.shards[i].loop.AfterFunc(d, fn)}, nil
}

// Every runs fn on shard i every period, the first time one period from
// now; a run more than a period late skips the ticks it missed. Loop only,
// as AfterFunc.
func (e *Engine) Every(i int, period time.Duration, fn func()) (*Timer, error) {
	if period <= 0 {
		return nil, fmt.Errorf("%w: Every with period %v, want > 0", ErrInvalidOption, period)
	}
	if err := e.timerShard(i, fn); err != nil {
		return nil, err
	}
	return &Timer{e.shards[i].loop.Every(period, fn)}, nil
}

// timerShard checks that a timer for shard i may be made here.
func (e *Engine) timerShard(i int, fn func()) error {
	switch {
	case fn == nil:
		return fmt.Errorf("%w: a timer with a nil func", ErrInvalidOption)
	case i < 0 || i >= len(e.shards):
		return fmt.Errorf("%w: shard %d of %d", ErrInvalidOption, i, len(e.shards))
	case !e.onShard(i):
		return fmt.Errorf("%w: shard %d's timers are made on its own thread", ErrNotOnShard, i)
	}
	return nil
}
