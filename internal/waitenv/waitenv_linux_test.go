//go:build linux

package waitenv

import (
	"context"
	"testing"
	"time"

	"github.com/shardnet/shardnet/engine"
	"github.com/shardnet/shardnet/internal/threadcheck"
)

// TestOptionsTakeEffect runs an idle engine of three shards with each
// value's options: with the blocking wait every shard's thread sleeps in
// epoll_wait; with the runtime wait none does (the runtime's own netpoller
// may hold one thread there). So "syscall" must give the blocking wait
// whatever the engine's default is.
func TestOptionsTakeEffect(t *testing.T) {
	const shards = 3
	for _, tc := range []struct {
		env      string
		blocking bool
	}{
		{"syscall", true},
		{"runtime", false},
		{"runtime-pinned", false},
	} {
		t.Run(tc.env, func(t *testing.T) {
			opts, err := Options(func(string) string { return tc.env })
			if err != nil {
				t.Fatalf("Options: %v", err)
			}
			// Every shard ticks (WithTick) and says so: that shows each
			// loop running; between ticks the shards are idle and wait
			// the way their options say.
			h := &tickHandler{ticked: make(chan int, 64)}
			e, err := engine.New(h, append([]engine.Option{engine.WithShards(shards), engine.WithTick(20 * time.Millisecond)}, opts...)...)
			if err != nil {
				t.Fatalf("engine.New: %v", err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := e.Stop(ctx); err != nil {
					t.Errorf("Stop: %v", err)
				}
			}()
			seen := map[int]bool{}
			for len(seen) < shards {
				select {
				case i := <-h.ticked:
					seen[i] = true
				case <-time.After(5 * time.Second):
					t.Fatalf("ticks from %d of %d shards within 5 s", len(seen), shards)
				}
			}
			if tc.blocking {
				waitCount(t, func(n int) bool { return n >= shards }, "at least one per shard")
				return
			}
			// The runtime wait: no shard thread may be seen in
			// epoll_wait, however long one looks.
			for range 50 {
				if n := threadcheck.InEpollWait(t, -1); n > 1 {
					t.Fatalf("%s=%s: %d threads in epoll_wait, want at most 1 (the runtime's poller)", Var, tc.env, n)
				}
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
}

// waitCount polls threadcheck.InEpollWait until ok accepts the count, failing
// after 5 s with want in the message.
func waitCount(t *testing.T, ok func(int) bool, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := threadcheck.InEpollWait(t, -1)
		if ok(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d threads in epoll_wait, want %s", n, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tickHandler reports each shard's ticks on ticked, dropping them when
// nobody reads.
type tickHandler struct {
	engine.BaseHandler
	ticked chan int
}

func (h *tickHandler) OnTick(shard int) {
	select {
	case h.ticked <- shard:
	default:
	}
}
