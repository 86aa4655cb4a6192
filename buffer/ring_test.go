package buffer

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"testing/iotest"
)

// seq returns n bytes counting up from start, so misplaced bytes show.
func seq(start, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(start + i)
	}
	return b
}

// mustWrite writes p to r and fails the test on an error.
func mustWrite(t *testing.T, r *Ring, p []byte) {
	t.Helper()
	if n, err := r.Write(p); n != len(p) || err != nil {
		t.Fatalf("Write(%d bytes) = %d, %v", len(p), n, err)
	}
}

func TestRingWrapAround(t *testing.T) {
	// Each case fills a 512-byte block, consumes from the front, then writes
	// past the end so the unread bytes wrap, and peeks across the wrap.
	tests := []struct {
		name       string
		first      int // bytes written first
		discard    int // bytes consumed from the front
		second     int // bytes written after, wrapping around
		peek       int // bytes peeked across the wrap
		wantMove   bool
		wantNewBuf bool // linearizing needed a fresh block
	}{
		{name: "no wrap: peek is in place", first: 300, discard: 100, second: 100, peek: 300},
		{name: "wrap, head run fits in the gap", first: 500, discard: 450, second: 100, peek: 150, wantMove: true},
		{name: "wrap, tail run fits in the gap", first: 500, discard: 200, second: 20, peek: 320, wantMove: true},
		{name: "wrap, nearly full: fresh block", first: 512, discard: 250, second: 240, peek: 502, wantMove: true, wantNewBuf: true},
		{name: "wrap, peek only the contiguous part", first: 500, discard: 450, second: 100, peek: 62},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewPool(WithPoolDebug(true))
			var r Ring
			r.Init(pool, 512)
			var model bytes.Buffer
			a, b := seq(0, tc.first), seq(tc.first, tc.second)
			mustWrite(t, &r, a)
			model.Write(a)
			if n, err := r.Discard(tc.discard); n != tc.discard || err != nil {
				t.Fatalf("Discard = %d, %v", n, err)
			}
			model.Next(tc.discard)
			mustWrite(t, &r, b)
			model.Write(b)
			if r.Cap() != 512 {
				t.Fatalf("Cap = %d, want 512 (no growth needed)", r.Cap())
			}
			headBefore, bufBefore := r.head, &r.buf[0]
			p, err := r.Peek(tc.peek)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p, model.Bytes()[:tc.peek]) {
				t.Fatalf("Peek(%d) = %v, want %v", tc.peek, p, model.Bytes()[:tc.peek])
			}
			moved := r.head != headBefore || &r.buf[0] != bufBefore
			if moved != tc.wantMove {
				t.Fatalf("bytes moved = %v, want %v", moved, tc.wantMove)
			}
			if newBuf := &r.buf[0] != bufBefore; newBuf != tc.wantNewBuf {
				t.Fatalf("fresh block = %v, want %v", newBuf, tc.wantNewBuf)
			}
			// Everything else is still there, in order.
			rest, err := r.Next(r.Len())
			if err != nil || !bytes.Equal(rest, model.Bytes()) {
				t.Fatalf("Next(all) = %v, %v; want %v", rest, err, model.Bytes())
			}
			releaseEmpty(t, &r, pool)
		})
	}
}

func TestRingGrowthToCap(t *testing.T) {
	tests := []struct {
		name    string
		maxCap  int
		writes  []int // sizes written in turn
		wantCap []int // Cap after each write
		// overflow is written last; it must fail with ErrBufferFull and change nothing.
		overflow int
	}{
		{name: "powers of two up to the cap", maxCap: 4096, writes: []int{100, 500, 1000, 2000, 496}, wantCap: []int{512, 1024, 2048, 4096, 4096}, overflow: 1},
		{name: "one write to the cap", maxCap: 8192, writes: []int{8192}, wantCap: []int{8192}, overflow: 1},
		{name: "cap not a power of two", maxCap: 3000, writes: []int{2999, 1}, wantCap: []int{4096, 4096}, overflow: 1},
		{name: "a write larger than the cap", maxCap: 1024, writes: []int{10}, wantCap: []int{512}, overflow: 1015},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewPool(WithPoolDebug(true))
			var r Ring
			r.Init(pool, tc.maxCap)
			var model bytes.Buffer
			for i, n := range tc.writes {
				p := seq(model.Len(), n)
				mustWrite(t, &r, p)
				model.Write(p)
				if r.Cap() != tc.wantCap[i] {
					t.Fatalf("after write %d: Cap = %d, want %d", i, r.Cap(), tc.wantCap[i])
				}
			}
			n, err := r.Write(seq(0, tc.overflow))
			if n != 0 || !errors.Is(err, ErrBufferFull) {
				t.Fatalf("Write past the cap = %d, %v; want 0, ErrBufferFull", n, err)
			}
			if r.Len() != model.Len() {
				t.Fatalf("Len = %d after a failed Write, want %d (nothing partial)", r.Len(), model.Len())
			}
			got, _ := r.Peek(r.Len())
			if !bytes.Equal(got, model.Bytes()) {
				t.Fatal("bytes changed by a failed Write")
			}
			releaseEmpty(t, &r, pool)
		})
	}
}

func TestRingEmptyHoldsNoMemory(t *testing.T) {
	tests := []struct {
		name  string
		empty func(r *Ring) // consumes everything in a 100-byte ring
	}{
		{name: "Discard", empty: func(r *Ring) { r.Discard(100) }},
		{name: "Discard more than buffered", empty: func(r *Ring) { r.Discard(1000) }},
		{name: "Read", empty: func(r *Ring) { r.Read(make([]byte, 100)) }},
		{name: "Release", empty: func(r *Ring) { r.Release() }},
		{name: "Next then Release", empty: func(r *Ring) { r.Next(100); r.Release() }},
		{name: "Next then Discard(0)", empty: func(r *Ring) { r.Next(100); r.Discard(0) }},
		{name: "Next then a failed Next", empty: func(r *Ring) { r.Next(100); r.Next(1) }},
		{name: "Next then an empty Write", empty: func(r *Ring) { r.Next(100); r.Write(nil) }},
		{name: "Next then ReadWith of nothing", empty: func(r *Ring) {
			r.Next(100)
			r.ReadWith(func([]byte) (int, error) { return -1, errors.New("EAGAIN") })
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewPool(WithPoolDebug(true))
			var r Ring
			r.Init(pool, 0)
			mustWrite(t, &r, seq(0, 100))
			if pool.Outstanding() == 0 || r.Cap() == 0 {
				t.Fatal("a ring with bytes holds no memory")
			}
			tc.empty(&r)
			if r.Len() != 0 || r.Cap() != 0 || pool.Outstanding() != 0 {
				t.Fatalf("after emptying: Len %d Cap %d Outstanding %d, want 0 0 0", r.Len(), r.Cap(), pool.Outstanding())
			}
		})
	}
}

func TestRingNextKeepsBlockUntilNextChange(t *testing.T) {
	pool := NewPool(WithPoolDebug(true))
	var r Ring
	r.Init(pool, 0)
	mustWrite(t, &r, []byte("hello, world"))
	p, err := r.Next(12)
	if err != nil {
		t.Fatal(err)
	}
	// The Ring is empty but the slice is still valid: its block is held, not
	// poisoned and recycled.
	if r.Len() != 0 || r.Cap() == 0 || pool.Outstanding() == 0 {
		t.Fatalf("Len %d Cap %d Outstanding %d: the block under the slice went back early", r.Len(), r.Cap(), pool.Outstanding())
	}
	churn := pool.Get(r.Cap()) // a block the pool would hand out next
	pool.Put(churn)
	if string(p) != "hello, world" {
		t.Fatalf("slice from Next reads %q before the next change", p)
	}
	// The next change may reuse the block: the slice has expired.
	mustWrite(t, &r, []byte("again"))
	if r.Cap() == 0 {
		t.Fatal("Write after Next dropped the block instead of reusing it")
	}
	if got, _ := r.Next(5); string(got) != "again" {
		t.Fatalf("Next(5) = %q", got)
	}
	releaseEmpty(t, &r, pool)
}

func TestRingReadWith(t *testing.T) {
	fill := func(n int, err error) func(p []byte) (int, error) {
		return func(p []byte) (int, error) {
			n := min(n, len(p))
			for i := range p[:max(n, 0)] {
				p[i] = 'r'
			}
			return n, err
		}
	}
	tests := []struct {
		name     string
		maxCap   int
		preload  int // bytes written first
		discard  int // then consumed from the front
		read     func(p []byte) (int, error)
		wantRoom int // len(p) passed to read
		wantN    int
		wantErr  error
		wantCap  int
		noCall   bool // read must not be called
	}{
		{name: "empty ring takes a 4 KiB block", maxCap: 1 << 20, read: fill(100, nil), wantRoom: 4096, wantN: 100, wantCap: 4096},
		{name: "small cap bounds the block", maxCap: 1000, read: fill(5000, nil), wantRoom: 1000, wantN: 1000, wantCap: 1024},
		{name: "reads after the unread bytes", maxCap: 1 << 20, preload: 100, read: fill(1000, nil), wantRoom: 412, wantN: 412, wantCap: 512},
		{name: "slides bytes to the front for room", maxCap: 1 << 20, preload: 500, discard: 400, read: fill(1000, nil), wantRoom: 412, wantN: 412, wantCap: 512},
		{name: "full ring grows first", maxCap: 1 << 20, preload: 512, read: fill(1000, nil), wantRoom: 512, wantN: 512, wantCap: 1024},
		{name: "full ring at the cap", maxCap: 512, preload: 512, noCall: true, wantErr: ErrBufferFull, wantCap: 512},
		{name: "room bounded by the cap", maxCap: 600, preload: 512, read: fill(1000, nil), wantRoom: 88, wantN: 88, wantCap: 1024},
		{name: "negative count is zero", maxCap: 1 << 20, preload: 10, read: fill(-1, io.ErrNoProgress), wantRoom: 502, wantN: 0, wantErr: io.ErrNoProgress, wantCap: 512},
		{name: "nothing read gives the block back", maxCap: 1 << 20, read: fill(0, io.EOF), wantRoom: 4096, wantErr: io.EOF, wantCap: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewPool(WithPoolDebug(true))
			var r Ring
			r.Init(pool, tc.maxCap)
			var model bytes.Buffer
			if tc.preload > 0 {
				mustWrite(t, &r, seq(0, tc.preload))
				model.Write(seq(0, tc.preload))
				r.Discard(tc.discard)
				model.Next(tc.discard)
			}
			calls := 0
			n, err := r.ReadWith(func(p []byte) (int, error) {
				calls++
				if len(p) != tc.wantRoom {
					t.Errorf("read got %d bytes of room, want %d", len(p), tc.wantRoom)
				}
				if cap(p) != len(p) {
					t.Errorf("read got cap %d > len %d: it could write past its room", cap(p), len(p))
				}
				return tc.read(p)
			})
			if wantCalls := map[bool]int{true: 0, false: 1}[tc.noCall]; calls != wantCalls {
				t.Fatalf("read called %d times, want %d", calls, wantCalls)
			}
			if n != tc.wantN || !errors.Is(err, tc.wantErr) {
				t.Fatalf("ReadWith = %d, %v; want %d, %v", n, err, tc.wantN, tc.wantErr)
			}
			model.Write(bytes.Repeat([]byte{'r'}, n))
			if r.Cap() != tc.wantCap {
				t.Fatalf("Cap = %d, want %d", r.Cap(), tc.wantCap)
			}
			got, _ := r.Peek(r.Len())
			if !bytes.Equal(got, model.Bytes()) {
				t.Fatalf("ring holds %q, want %q", got, model.Bytes())
			}
			releaseEmpty(t, &r, pool)
		})
	}
}

func TestRingReadWithWrapped(t *testing.T) {
	var r Ring
	r.Init(NewPool(WithPoolDebug(true)), 0)
	mustWrite(t, &r, seq(0, 512))
	r.Discard(300)
	mustWrite(t, &r, seq(512, 100)) // wraps: unread [300,512) + [0,100)
	var room int
	r.ReadWith(func(p []byte) (int, error) { room = len(p); return copy(p, seq(612, 50)), nil })
	if room != 200 {
		t.Fatalf("read got %d bytes of room, want the 200-byte gap", room)
	}
	got, _ := r.Next(r.Len())
	if !bytes.Equal(got, seq(300, 362)) {
		t.Fatalf("ring holds %v", got)
	}
}

func TestRingErrors(t *testing.T) {
	var r Ring // the zero value works without Init
	mustWrite(t, &r, []byte("abc"))
	if _, err := r.Peek(-1); !errors.Is(err, ErrNegativeCount) {
		t.Errorf("Peek(-1) error = %v", err)
	}
	if _, err := r.Next(-1); !errors.Is(err, ErrNegativeCount) {
		t.Errorf("Next(-1) error = %v", err)
	}
	if _, err := r.Discard(-1); !errors.Is(err, ErrNegativeCount) {
		t.Errorf("Discard(-1) error = %v", err)
	}
	if _, err := r.Peek(4); !errors.Is(err, ErrShort) {
		t.Errorf("Peek(4) of 3 error = %v", err)
	}
	if _, err := r.Next(4); !errors.Is(err, ErrShort) || r.Len() != 3 {
		t.Errorf("Next(4) of 3 error = %v, Len %d (must consume nothing)", err, r.Len())
	}
	if n, err := r.Discard(4); n != 3 || !errors.Is(err, ErrShort) {
		t.Errorf("Discard(4) of 3 = %d, %v; want 3, ErrShort", n, err)
	}
	if p, err := r.Peek(0); p != nil || err != nil {
		t.Errorf("Peek(0) = %v, %v", p, err)
	}
	if r.Buffered() != r.Len() {
		t.Error("Buffered differs from Len")
	}
}

func TestRingPeekCannotBeAppendedInto(t *testing.T) {
	var r Ring
	mustWrite(t, &r, []byte("abcdef"))
	p, _ := r.Peek(3)
	_ = append(p, 'X')
	if got, _ := r.Peek(6); string(got) != "abcdef" {
		t.Fatalf("append on a peeked slice changed the ring: %q", got)
	}
}

func TestRingIsAReader(t *testing.T) {
	want := seq(0, 3000)
	var r Ring
	r.Init(NewPool(WithPoolDebug(true)), 0)
	mustWrite(t, &r, want[:1000])
	r.Discard(0)
	if err := iotest.TestReader(&r, want[:1000]); err != nil {
		t.Fatal(err)
	}
	// Wrapped contents read back in order.
	var w Ring
	w.Init(nil, 1024)
	mustWrite(t, &w, want[:1000])
	w.Discard(900)
	mustWrite(t, &w, want[1000:1500])
	got, err := io.ReadAll(&w)
	if err != nil || !bytes.Equal(got, want[900:1500]) {
		t.Fatalf("ReadAll = %d bytes, %v", len(got), err)
	}
}

// releaseEmpty releases r and checks that it gave every byte back to pool.
func releaseEmpty(t *testing.T, r *Ring, pool *Pool) {
	t.Helper()
	r.Release()
	if pool.Outstanding() != 0 {
		t.Fatalf("Outstanding = %d after Release", pool.Outstanding())
	}
}
