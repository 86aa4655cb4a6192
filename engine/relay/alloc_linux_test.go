package relay

import (
	"runtime"
	"testing"
)

// TestRelayAllocsPerMiB relays 64 MiB each way over a warmed-up pair and
// counts the process's allocations meanwhile: the relay's data path (read
// into the shard's buffer, Write to the other side, the engine's pooled
// blocks when the socket is full) allocates nothing per byte, so the count
// stays a small constant whatever the size.
func TestRelayAllocsPerMiB(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items on purpose; make test runs this without it")
	}
	for _, mode := range spliceModes {
		t.Run(mode.name, func(t *testing.T) {
			checkFds(t)
			be := startBackend(t, echo)
			p := startProxy(t, WithPool(mustPool(t, []string{be.addr})), WithSplice(mode.splice))
			c := dial(t, p.addr)
			out := make([]byte, 256<<10)
			in := make([]byte, 256<<10)
			transfer := func(n int) {
				done := make(chan struct{})
				go func() {
					defer close(done)
					for sent := 0; sent < n; sent += len(out) {
						c.Write(out)
					}
				}()
				for got := 0; got < n; {
					k, err := c.Read(in)
					if err != nil {
						t.Fatalf("read after %d bytes: %v", got, err)
					}
					got += k
				}
				<-done
			}
			transfer(16 << 20) // warm the pools
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			const size = 64 << 20
			transfer(size)
			runtime.ReadMemStats(&after)
			allocs := after.Mallocs - before.Mallocs
			t.Logf("%s: %d allocations while relaying %d MiB each way (%.2f per MiB)", mode.name, allocs, size>>20, float64(allocs)/float64(size>>20))
			if allocs > 64 {
				t.Fatalf("%d allocations for %d MiB each way: the data path allocates per chunk", allocs, size>>20)
			}
		})
	}
}
