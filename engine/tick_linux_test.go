package engine

import (
	"testing"
	"time"
)

// bootTicker sizes per-shard state in OnBoot, slowly, and uses it in
// OnTick: the race detector sees any OnTick that runs before OnBoot is
// done.
type bootTicker struct {
	BaseHandler
	perShard []int
	ticked   chan struct{}
}

func (h *bootTicker) OnBoot(e *Engine) error {
	time.Sleep(20 * time.Millisecond) // many tick periods
	h.perShard = make([]int, e.Shards())
	return nil
}

func (h *bootTicker) OnTick(shard int) {
	h.perShard[shard]++ // panics (index out of range) if OnBoot has not run
	if h.perShard[shard] == 3 {
		h.ticked <- struct{}{}
	}
}

// TestTicksStartAfterOnBoot: OnTick never runs before OnBoot returned.
func TestTicksStartAfterOnBoot(t *testing.T) {
	h := &bootTicker{ticked: make(chan struct{}, 4)}
	e, err := New(h, WithShards(2), WithTick(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop(stopCtx(t, 5*time.Second))
	for range 2 {
		select {
		case <-h.ticked:
		case <-time.After(5 * time.Second):
			t.Fatal("ticks did not come")
		}
	}
	if p := e.Stats().Shards[0].Panics + e.Stats().Shards[1].Panics; p != 0 {
		t.Fatalf("%d panics in OnTick", p)
	}
}
