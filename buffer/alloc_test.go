package buffer

import (
	"testing"
	"unsafe"
)

// The engine embeds one Ring and one Chain (and, behind the netpoll adapter,
// a View) per connection and aims at under 256 bytes of user-space memory per
// idle connection, so their sizes are pinned here. On 64-bit platforms:
// Ring 56 B, Chain 40 B, View 56 B, and an idle one holds no block.
func TestStructSizes(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("sizes are pinned for 64-bit platforms")
	}
	tests := []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{name: "Ring", got: unsafe.Sizeof(Ring{}), want: 56},
		{name: "Chain", got: unsafe.Sizeof(Chain{}), want: 40},
		{name: "View", got: unsafe.Sizeof(View{}), want: 56},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("unsafe.Sizeof(%s{}) = %d, want %d: update this test and the engine's memory budget together", tc.name, tc.got, tc.want)
			}
		})
	}
}

func TestZeroAllocs(t *testing.T) {
	payload := make([]byte, 1000)
	tests := []struct {
		name string
		// usesPool is true when an operation takes blocks from and gives
		// them back to the pool, which allocates under -race by design.
		usesPool bool
		setup    func(pool *Pool) func()
	}{
		{name: "Ring Write/Peek/Discard, never empty", setup: func(pool *Pool) func() {
			var r Ring
			r.Init(pool, 1<<20)
			// Grow to 4 KiB once and keep one byte, so the block is kept and
			// linearizing always has room to work in place: no pool traffic.
			r.Write(make([]byte, 3000))
			r.Discard(2999)
			return func() {
				r.Write(payload)
				p, _ := r.Peek(len(payload)) // wraps now and then: linearizes
				_ = p
				r.Discard(len(payload))
				if r.Cap() != 4096 {
					panic("the ring changed blocks: this case means to stay off the pool")
				}
			}
		}},
		{name: "Ring Write/Next/ReadWith, never empty", setup: func(pool *Pool) func() {
			var r Ring
			r.Init(pool, 1<<20)
			r.Write(make([]byte, 3000))
			r.Discard(2999)
			read := func(p []byte) (int, error) { return copy(p, payload[:100]), nil }
			return func() {
				r.Write(payload[:300])
				r.ReadWith(read)
				r.Next(400)
				if r.Cap() != 4096 {
					panic("the ring changed blocks: this case means to stay off the pool")
				}
			}
		}},
		{name: "Ring Write/Peek/Discard to empty", usesPool: true, setup: func(pool *Pool) func() {
			var r Ring
			r.Init(pool, 1<<20)
			return func() {
				r.Write(payload)
				r.Peek(len(payload))
				r.Discard(len(payload))
			}
		}},
		{name: "Chain Write/Buffers/Consume", usesPool: true, setup: func(pool *Pool) func() {
			var c Chain
			c.Init(pool, 4096)
			iov := make([][]byte, 0, 8)
			return func() {
				c.Write(payload)
				c.WriteString("and a string")
				iov = c.Buffers(iov[:0], 8)
				c.Consume(c.Len()/2, nil) // a partial writev
				c.Consume(c.Len(), nil)
			}
		}},
		{name: "Chain Append/Consume", usesPool: true, setup: func(pool *Pool) func() {
			var c Chain
			c.Init(pool, 4096)
			release := func(bool) {}
			var done []Release
			return func() {
				c.Append(payload, release)
				done = runAll(c.Consume(c.Len(), done[:0]))
			}
		}},
		{name: "View Write/Next/Release", usesPool: true, setup: func(pool *Pool) func() {
			var v View
			v.Init(pool, 4096)
			return func() {
				v.Write(payload)
				v.Next(len(payload))
				v.Release()
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.usesPool && raceEnabled {
				t.Skip("sync.Pool drops items at random under the race detector; run without -race")
			}
			f := tc.setup(NewPool())
			f() // warm the pool
			if got := testing.AllocsPerRun(1000, f); got != 0 {
				t.Fatalf("%v allocations per run, want 0", got)
			}
		})
	}
}
