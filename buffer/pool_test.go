package buffer

import (
	"strings"
	"sync"
	"testing"
)

// mustPanic runs f and returns the panic message, failing the test if f
// does not panic.
func mustPanic(t *testing.T, f func()) (msg string) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatal("expected a panic, got none")
		}
		msg, _ = r.(string)
	}()
	f()
	return ""
}

func TestPoolGetSizes(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		wantCap int
	}{
		{name: "one byte rounds to 64", n: 1, wantCap: 64},
		{name: "exact class", n: 64, wantCap: 64},
		{name: "just over a class", n: 65, wantCap: 128},
		{name: "4 KiB", n: 4096, wantCap: 4096},
		{name: "odd size", n: 5000, wantCap: 8192},
		{name: "largest class", n: 4 << 20, wantCap: 4 << 20},
		{name: "above the largest class is exact", n: 4<<20 + 1, wantCap: 4<<20 + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPool(WithPoolDebug(true))
			b := p.Get(tc.n)
			if len(b) != tc.n || cap(b) != tc.wantCap {
				t.Fatalf("Get(%d): len %d cap %d, want len %d cap %d", tc.n, len(b), cap(b), tc.n, tc.wantCap)
			}
			if got := p.Outstanding(); got != int64(tc.wantCap) {
				t.Fatalf("Outstanding after Get = %d, want %d", got, tc.wantCap)
			}
			p.Put(b[:0]) // any length of the block may come back
			if got := p.Outstanding(); got != 0 {
				t.Fatalf("Outstanding after Put = %d, want 0", got)
			}
		})
	}
}

func TestPoolEdgeCases(t *testing.T) {
	var zero Pool // the zero value works
	b := zero.Get(100)
	if len(b) != 100 || zero.Outstanding() != 128 {
		t.Fatalf("zero Pool: len %d outstanding %d", len(b), zero.Outstanding())
	}
	zero.Put(b)
	if zero.Outstanding() != 0 {
		t.Fatalf("zero Pool: outstanding %d after Put", zero.Outstanding())
	}

	var nilPool *Pool // a nil Pool allocates and forgets
	if b := nilPool.Get(10); len(b) != 10 {
		t.Fatalf("nil Pool Get(10) has len %d", len(b))
	}
	nilPool.Put(make([]byte, 10))
	if nilPool.Outstanding() != 0 {
		t.Fatal("nil Pool reports outstanding bytes")
	}

	p := NewPool(WithPoolDebug(true))
	if b := p.Get(0); b != nil {
		t.Fatalf("Get(0) = %v, want nil", b)
	}
	p.Put(nil) // no-op, must not panic in debug mode
	if msg := mustPanic(t, func() { p.Get(-1) }); !strings.Contains(msg, "negative") {
		t.Fatalf("Get(-1) panic %q does not name the problem", msg)
	}
}

func TestPoolReusesBlocks(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	p := NewPool()
	b := p.Get(1000)
	addr := &b[:1][0]
	p.Put(b)
	c := p.Get(1000)
	if &c[:1][0] != addr {
		t.Fatal("a block put back was not handed out again")
	}
	p.Put(c)
}

func TestPoolDebugCatchesMisuse(t *testing.T) {
	tests := []struct {
		name string
		// misuse breaks the Pool's contract; it must panic with want in the message.
		misuse func(p *Pool)
		want   string
	}{
		{
			name:   "returned twice",
			misuse: func(p *Pool) { b := p.Get(100); p.Put(b); p.Put(b) },
			want:   "returned twice",
		},
		{
			name:   "never from this pool",
			misuse: func(p *Pool) { p.Put(make([]byte, 64)) },
			want:   "not from this Pool",
		},
		{
			name:   "from another pool",
			misuse: func(p *Pool) { p.Put(NewPool().Get(64)) },
			want:   "not from this Pool",
		},
		{
			name:   "resliced from the middle",
			misuse: func(p *Pool) { b := p.Get(128); p.Put(b[64:]) },
			want:   "not starting where Get's block did",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPool(WithPoolDebug(true))
			msg := mustPanic(t, func() { tc.misuse(p) })
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("panic %q does not contain %q", msg, tc.want)
			}
		})
	}
}

func TestPoolDebugPoisonsReturnedBlocks(t *testing.T) {
	p := NewPool(WithPoolDebug(true))
	b := p.Get(256)
	for i := range b {
		b[i] = 'x'
	}
	p.Put(b)
	// Reading a block after Put is the bug the poison exposes; the test does
	// it on purpose, on one goroutine.
	for i, x := range b[:cap(b)] {
		if x != poison {
			t.Fatalf("byte %d of a returned block is %#x, want poison %#x", i, x, poison)
		}
	}
}

func TestPoolDebugCatchesWriteAfterPut(t *testing.T) {
	p := NewPool(WithPoolDebug(true))
	// sync.Pool does not promise to hand the same block back (it is per-P,
	// and drops items under -race), so try until it does.
	for try := 0; try < 1000; try++ {
		b := p.Get(64)
		p.Put(b)
		b[7] = 'z' // the use after Put
		var msg string
		func() {
			defer func() { msg, _ = recover().(string) }()
			p.Put(p.Get(64))
		}()
		if msg != "" {
			if !strings.Contains(msg, "after it was returned") || !strings.Contains(msg, "offset 7") {
				t.Fatalf("panic %q does not describe the write after Put", msg)
			}
			return
		}
	}
	t.Fatal("a block written after Put was handed out again without a panic")
}

func TestPoolConcurrentCrossGoroutineFree(t *testing.T) {
	p := NewPool(WithPoolDebug(true))
	blocks := make(chan []byte, 64)
	var wg sync.WaitGroup
	const producers, perProducer = 4, 500
	for g := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				b := p.Get(1 + (g*perProducer+i)%9000)
				b[0] = byte(i)
				blocks <- b // freed by another goroutine
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		for b := range blocks {
			p.Put(b)
		}
		close(done)
	}()
	wg.Wait()
	close(blocks)
	<-done
	if got := p.Outstanding(); got != 0 {
		t.Fatalf("Outstanding = %d after every block came back, want 0", got)
	}
}
