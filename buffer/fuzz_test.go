package buffer

import (
	"bytes"
	"errors"
	"testing"
)

// opReader turns fuzz input into operations: one byte picks the operation,
// the next two give its size. Running out of input yields zeros.
type opReader struct{ b []byte }

func (o *opReader) more() bool { return len(o.b) > 0 }

func (o *opReader) byte() byte {
	if len(o.b) == 0 {
		return 0
	}
	x := o.b[0]
	o.b = o.b[1:]
	return x
}

func (o *opReader) size(limit int) int {
	return (int(o.byte()) | int(o.byte())<<8) % (limit + 1)
}

// stream hands out the bytes of an endless counting sequence, so every byte
// written is distinct enough that a misplaced one shows.
type stream struct{ next int }

func (s *stream) take(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(s.next % 251)
		s.next++
	}
	return p
}

// heldSlice is a slice a buffer returned and the bytes it must still show.
type heldSlice struct{ got, want []byte }

func checkHeld(t *testing.T, held []heldSlice, when string) {
	t.Helper()
	for i, h := range held {
		if !bytes.Equal(h.got, h.want) {
			t.Fatalf("%s: held slice %d reads %v, want %v (memory recycled under it)", when, i, h.got, h.want)
		}
	}
}

// churn takes and returns blocks of several sizes, as another connection
// would; with a debug pool a block that came back too early is now poison.
func churn(pool *Pool) {
	for _, n := range []int{64, 512, 4096} {
		b := pool.Get(n)
		for i := range b {
			b[i] = 0xEE
		}
		pool.Put(b)
	}
}

func FuzzRing(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{2, 0, 200, 1, 3, 100, 1, 0, 150, 1, 1, 200, 1})           // write, discard, wrap, peek across
	f.Add([]byte{1, 0, 0, 2, 2, 0, 0, 2, 7, 0, 0, 2, 0, 9, 0})             // write, next all, churn, check
	f.Add([]byte{0, 4, 255, 255, 0, 255, 255, 4, 255, 255, 6})             // growth to the cap, full errors
	f.Add([]byte{3, 4, 0, 16, 0, 0, 2, 3, 50, 0, 4, 0, 16, 5, 10, 0})      // reads, write, discard, read
	f.Add([]byte{5, 0, 100, 0, 3, 90, 0, 0, 80, 0, 1, 60, 0, 2, 30, 0, 8}) // wrap then next across the end
	f.Fuzz(func(t *testing.T, ops []byte) {
		o := &opReader{ops}
		pool := NewPool(WithPoolDebug(true))
		maxCap := 64 + int(o.byte())*37 // 64 .. 9499, rarely a power of two
		var r Ring
		r.Init(pool, maxCap)
		var model bytes.Buffer
		var src stream
		var held []heldSlice // slices valid until the next change to r
		keptForNext := false // r is empty but keeps its block for a Next slice
		for o.more() {
			op := o.byte() % 10
			if op != 7 && op != 8 && op != 9 {
				held = held[:0] // every other operation may change the ring
			}
			switch op {
			case 0: // Write
				p := src.take(o.size(maxCap + 64))
				n, err := r.Write(p)
				if model.Len()+len(p) > maxCap {
					if n != 0 || !errors.Is(err, ErrBufferFull) {
						t.Fatalf("Write past the cap = %d, %v", n, err)
					}
					src.next -= len(p)
				} else {
					if n != len(p) || err != nil {
						t.Fatalf("Write = %d, %v", n, err)
					}
					model.Write(p)
				}
			case 1: // Peek
				n := o.size(maxCap)
				p, err := r.Peek(n)
				if n > model.Len() {
					if !errors.Is(err, ErrShort) {
						t.Fatalf("Peek(%d) of %d: %v", n, model.Len(), err)
					}
					break
				}
				if err != nil || !bytes.Equal(p, model.Bytes()[:n]) {
					t.Fatalf("Peek(%d) = %v, %v; want %v", n, p, err, model.Bytes()[:n])
				}
				held = append(held, heldSlice{p, bytes.Clone(p)})
			case 2: // Next
				n := o.size(maxCap)
				p, err := r.Next(n)
				if n > model.Len() {
					if !errors.Is(err, ErrShort) {
						t.Fatalf("Next(%d) of %d: %v", n, model.Len(), err)
					}
					break
				}
				want := model.Next(n)
				if err != nil || !bytes.Equal(p, want) {
					t.Fatalf("Next(%d) = %v, %v; want %v", n, p, err, want)
				}
				held = append(held, heldSlice{p, bytes.Clone(want)})
			case 3: // Discard
				n := o.size(maxCap)
				got, err := r.Discard(n)
				want := min(n, model.Len())
				model.Next(want)
				if got != want || (want < n) != errors.Is(err, ErrShort) {
					t.Fatalf("Discard(%d) = %d, %v; want %d", n, got, err, want)
				}
			case 4: // ReadWith
				k := o.size(maxCap)
				var gave []byte
				n, err := r.ReadWith(func(p []byte) (int, error) {
					gave = src.take(min(k, len(p)))
					return copy(p, gave), nil
				})
				switch {
				case model.Len() >= maxCap:
					if n != 0 || !errors.Is(err, ErrBufferFull) || gave != nil {
						t.Fatalf("ReadWith on a full ring = %d, %v (read called: %v)", n, err, gave != nil)
					}
				case gave == nil || n != len(gave) || err != nil:
					t.Fatalf("ReadWith = %d, %v; read gave %d", n, err, len(gave))
				default:
					model.Write(gave)
				}
			case 5: // Read
				p := make([]byte, o.size(maxCap))
				n, _ := r.Read(p)
				want := model.Next(len(p))
				if !bytes.Equal(p[:n], want) {
					t.Fatalf("Read = %v, want %v", p[:n], want)
				}
			case 6:
				r.Release()
				model.Reset()
			case 7:
				churn(pool)
			case 8, 9:
				checkHeld(t, held, "after churn")
			}
			if r.Len() != model.Len() || r.Buffered() != model.Len() {
				t.Fatalf("Len = %d, model %d", r.Len(), model.Len())
			}
			if int64(r.Cap()) != pool.Outstanding() {
				t.Fatalf("Cap %d but pool Outstanding %d", r.Cap(), pool.Outstanding())
			}
			// Only Next may leave an empty ring holding its block (for the
			// slice it returned); calls that do not change the ring (Peek,
			// churn, checks) keep that state, every other call ends it.
			if op == 2 {
				keptForNext = r.Len() == 0 && r.Cap() != 0
			} else if op != 1 && op != 7 && op != 8 && op != 9 {
				keptForNext = false
			}
			if r.Len() == 0 && r.Cap() != 0 && !keptForNext {
				t.Fatalf("empty ring holds %d bytes after op %d", r.Cap(), op)
			}
		}
		checkHeld(t, held, "at the end")
		r.Release()
		if pool.Outstanding() != 0 {
			t.Fatalf("Outstanding = %d after Release", pool.Outstanding())
		}
	})
}

func FuzzChain(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 0, 100, 0, 2, 50, 0, 4, 30, 0, 3, 0, 4, 255, 255})        // write, append, consume in parts
	f.Add([]byte{3, 1, 10, 0, 2, 5, 0, 1, 10, 0, 4, 12, 0, 5, 4, 3, 0})       // owned between blocks, reset
	f.Add([]byte{0, 0, 255, 1, 0, 255, 1, 3, 1, 0, 4, 200, 1, 3, 2, 0, 6, 0}) // large writes, buffers max
	f.Fuzz(func(t *testing.T, ops []byte) {
		o := &opReader{ops}
		pool := NewPool(WithPoolDebug(true))
		var c Chain
		c.Init(pool, 64<<(o.byte()%7)) // 64 B .. 4 KiB blocks
		var model bytes.Buffer
		var src stream
		consumed := 0 // bytes consumed since the start, by Consume or Reset
		type owned struct {
			end             int // stream offset just past the slice
			consumedCalls   int
			droppedCalls    int
			droppedPrevious bool // true if a Reset dropped it
		}
		var slices []*owned
		written := 0 // bytes queued since the start
		var held []heldSlice
		for o.more() {
			op := o.byte() % 7
			switch op {
			case 0: // Write
				p := src.take(o.size(20000))
				c.Write(p)
				model.Write(p)
				written += len(p)
			case 1: // WriteString
				p := src.take(o.size(300))
				c.WriteString(string(p))
				model.Write(p)
				written += len(p)
			case 2: // Append
				p := src.take(o.size(5000))
				s := &owned{end: written + len(p)}
				if len(p) == 0 {
					s.end = 0 // an empty slice is consumed at once
				}
				slices = append(slices, s)
				c.Append(p, func(ok bool) {
					if ok {
						s.consumedCalls++
					} else {
						s.droppedCalls++
					}
				})
				model.Write(p)
				written += len(p)
				held = append(held, heldSlice{p, bytes.Clone(p)})
			case 3: // Buffers
				max := int(o.byte() % 5)
				iov := c.Buffers(nil, max)
				if max > 0 && len(iov) > max {
					t.Fatalf("Buffers(max %d) returned %d slices", max, len(iov))
				}
				joined := bytes.Join(iov, nil)
				if !bytes.HasPrefix(model.Bytes(), joined) || (max == 0 && len(joined) != model.Len()) {
					t.Fatalf("Buffers(max %d) = %d bytes, not a prefix of the %d pending", max, len(joined), model.Len())
				}
				for _, p := range iov {
					held = append(held, heldSlice{p, bytes.Clone(p)})
				}
			case 4: // Consume
				n := o.size(model.Len())
				checkHeld(t, held, "before Consume")
				held = held[:0]
				runAll(c.Consume(n, nil))
				model.Next(n)
				consumed += n
			case 5: // Reset
				checkHeld(t, held, "before Reset")
				held = held[:0]
				for _, s := range slices {
					if s.end > consumed && s.consumedCalls == 0 && s.droppedCalls == 0 {
						s.droppedPrevious = true // pending now, so Reset must drop it
					}
				}
				runAll(c.Reset(nil))
				consumed += model.Len()
				model.Reset()
			case 6:
				churn(pool)
				checkHeld(t, held, "after churn")
			}
			if c.Len() != model.Len() {
				t.Fatalf("Len = %d, model %d", c.Len(), model.Len())
			}
			for i, s := range slices {
				wantConsumed, wantDropped := 0, 0
				switch {
				case s.droppedPrevious:
					wantDropped = 1
				case s.end <= consumed:
					wantConsumed = 1
				}
				if s.consumedCalls != wantConsumed || s.droppedCalls != wantDropped {
					t.Fatalf("owned slice %d (end %d, consumed %d): release(true) ran %d times, release(false) %d; want %d, %d",
						i, s.end, consumed, s.consumedCalls, s.droppedCalls, wantConsumed, wantDropped)
				}
			}
			if c.Len() == 0 && pool.Outstanding() != 0 {
				t.Fatalf("empty chain holds %d bytes of pool memory", pool.Outstanding())
			}
		}
		runAll(c.Reset(nil))
		if pool.Outstanding() != 0 {
			t.Fatalf("Outstanding = %d after Reset", pool.Outstanding())
		}
	})
}

func FuzzView(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{0, 10, 0, 0, 20, 0, 3, 25, 0, 8})                    // two pushes, Next across them
	f.Add([]byte{1, 100, 0, 5, 7, 4, 90, 0, 6, 2, 200, 0, 8, 9})      // write, until, skip, readwith, churn
	f.Add([]byte{0, 0, 1, 3, 0, 1, 7, 3, 50, 0, 9, 4, 0, 1, 8, 2, 5}) // peek then release
	f.Fuzz(func(t *testing.T, ops []byte) {
		o := &opReader{ops}
		pool := NewPool(WithPoolDebug(true))
		var v View
		v.Init(pool, 64<<(o.byte()%5))
		var model bytes.Buffer
		var src stream
		var held []heldSlice // slices valid until Release
		hold := func(p []byte) { held = append(held, heldSlice{p, bytes.Clone(p)}) }
		for o.more() {
			switch op := o.byte() % 10; op {
			case 0: // Push
				p := src.take(o.size(5000))
				pushCopy(&v, pool, p)
				model.Write(p)
			case 1: // Write
				p := src.take(o.size(5000))
				v.Write(p)
				model.Write(p)
			case 2: // ReadWith
				k := o.size(5000)
				var gave []byte
				n, err := v.ReadWith(func(p []byte) (int, error) {
					gave = src.take(min(k, len(p)))
					return copy(p, gave), nil
				})
				if n != len(gave) || err != nil {
					t.Fatalf("ReadWith = %d, %v; read gave %d", n, err, len(gave))
				}
				model.Write(gave)
			case 3, 4: // Peek, Next
				n := o.size(model.Len() + 10)
				var p []byte
				var err error
				if op == 3 {
					p, err = v.Peek(n)
				} else {
					p, err = v.Next(n)
				}
				if n > model.Len() {
					if !errors.Is(err, ErrShort) {
						t.Fatalf("op %d (%d of %d): %v", op, n, model.Len(), err)
					}
					break
				}
				want := model.Bytes()[:n]
				if op == 4 {
					want = model.Next(n)
				}
				if err != nil || !bytes.Equal(p, want) {
					t.Fatalf("op %d (%d) = %v, %v; want %v", op, n, p, err, want)
				}
				hold(p)
			case 5: // Skip
				n := o.size(model.Len() + 10)
				err := v.Skip(n)
				if n > model.Len() {
					if !errors.Is(err, ErrShort) {
						t.Fatalf("Skip(%d) of %d: %v", n, model.Len(), err)
					}
					break
				}
				model.Next(n)
			case 6: // Until
				delim := o.byte() % 251
				p, err := v.Until(delim)
				i := bytes.IndexByte(model.Bytes(), delim)
				if i < 0 {
					if !errors.Is(err, ErrNoDelim) {
						t.Fatalf("Until(%d) without it: %v", delim, err)
					}
					break
				}
				want := model.Next(i + 1)
				if err != nil || !bytes.Equal(p, want) {
					t.Fatalf("Until(%d) = %v, %v; want %v", delim, p, err, want)
				}
				hold(p)
			case 7, 8: // Release
				churn(pool)
				checkHeld(t, held, "before Release")
				v.Release()
				held = held[:0]
				if model.Len() == 0 && pool.Outstanding() != 0 {
					t.Fatalf("fully read View holds %d bytes after Release", pool.Outstanding())
				}
			case 9:
				churn(pool)
				checkHeld(t, held, "after churn")
			}
			if v.Len() != model.Len() {
				t.Fatalf("Len = %d, model %d", v.Len(), model.Len())
			}
		}
		checkHeld(t, held, "at the end")
		v.Reset()
		if pool.Outstanding() != 0 {
			t.Fatalf("Outstanding = %d after Reset", pool.Outstanding())
		}
	})
}
