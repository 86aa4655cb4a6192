package buffer

import (
	"bytes"
	"errors"
	"testing"
)

// pushCopy gets a block of len(p) from pool, copies p into it and pushes it.
func pushCopy(v *View, pool *Pool, p []byte) {
	b := pool.Get(len(p))
	copy(b, p)
	v.Push(b)
}

func TestViewNextIsZeroCopyWithinABlock(t *testing.T) {
	pool := NewPool(WithPoolDebug(true))
	var v View
	v.Init(pool, 0)
	b := pool.Get(100)
	copy(b, seq(0, 100))
	v.Push(b)
	p, err := v.Next(40)
	if err != nil {
		t.Fatal(err)
	}
	if &p[0] != &b[0] {
		t.Fatal("Next within one block copied instead of slicing the block")
	}
	q, _ := v.Peek(60)
	if &q[0] != &b[40] || v.Len() != 60 {
		t.Fatalf("Peek after Next: not the block's bytes, or Len %d != 60", v.Len())
	}
}

func TestViewReads(t *testing.T) {
	// Blocks "hello " "wor" "ld\nbye" are pushed; each case reads them and
	// checks what came back, what is left and whether a copy was needed.
	tests := []struct {
		name     string
		read     func(v *View) ([]byte, error)
		want     string
		wantErr  error
		wantLeft int
		wantCopy bool // the bytes span blocks, so they sit in a pinned copy
	}{
		{name: "Next in the first block", read: func(v *View) ([]byte, error) { return v.Next(5) }, want: "hello", wantLeft: 10},
		{name: "Next spanning three blocks", read: func(v *View) ([]byte, error) { return v.Next(12) }, want: "hello world\n", wantLeft: 3, wantCopy: true},
		{name: "Peek spanning consumes nothing", read: func(v *View) ([]byte, error) { return v.Peek(8) }, want: "hello wo", wantLeft: 15, wantCopy: true},
		{name: "Next of everything", read: func(v *View) ([]byte, error) { return v.Next(15) }, want: "hello world\nbye", wantLeft: 0, wantCopy: true},
		{name: "Next too many", read: func(v *View) ([]byte, error) { return v.Next(16) }, wantErr: ErrShort, wantLeft: 15},
		{name: "Next negative", read: func(v *View) ([]byte, error) { return v.Next(-1) }, wantErr: ErrNegativeCount, wantLeft: 15},
		{name: "Until in the first block", read: func(v *View) ([]byte, error) { return v.Until(' ') }, want: "hello ", wantLeft: 9},
		{name: "Until across blocks", read: func(v *View) ([]byte, error) { return v.Until('\n') }, want: "hello world\n", wantLeft: 3, wantCopy: true},
		{name: "Until not found", read: func(v *View) ([]byte, error) { return v.Until('!') }, wantErr: ErrNoDelim, wantLeft: 15},
		{name: "Skip then Next", read: func(v *View) ([]byte, error) {
			if err := v.Skip(6); err != nil {
				return nil, err
			}
			return v.Next(5)
		}, want: "world", wantLeft: 4, wantCopy: true},
		{name: "Skip too many", read: func(v *View) ([]byte, error) { return nil, v.Skip(16) }, wantErr: ErrShort, wantLeft: 15},
		{name: "Skip negative", read: func(v *View) ([]byte, error) { return nil, v.Skip(-1) }, wantErr: ErrNegativeCount, wantLeft: 15},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := NewPool(WithPoolDebug(true))
			var v View
			v.Init(pool, 0)
			for _, s := range []string{"hello ", "wor", "ld\nbye"} {
				pushCopy(&v, pool, []byte(s))
			}
			before := pool.Outstanding()
			got, err := tc.read(&v)
			if !errors.Is(err, tc.wantErr) || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.wantErr)
			}
			if v.Len() != tc.wantLeft {
				t.Fatalf("Len = %d, want %d", v.Len(), tc.wantLeft)
			}
			if copied := pool.Outstanding() > before; copied != tc.wantCopy {
				t.Fatalf("copied = %v, want %v", copied, tc.wantCopy)
			}
			v.Reset()
			if pool.Outstanding() != 0 {
				t.Fatalf("Outstanding = %d after Reset", pool.Outstanding())
			}
		})
	}
}

func TestViewSlicesSurviveUntilRelease(t *testing.T) {
	// A debug pool poisons every block that comes back. Slices taken from the
	// View must read their bytes, not poison, until Release, however much
	// else happens in between: more reads, more pushes, and another user of
	// the same pool churning blocks.
	pool := NewPool(WithPoolDebug(true))
	var v View
	v.Init(pool, 64)
	var model bytes.Buffer
	next := 0
	type held struct {
		p    []byte
		want []byte
	}
	var slices []held
	for round := range 50 {
		for k := range 3 {
			p := seq(next, 20+round%7*k)
			next += len(p)
			if k == 1 {
				v.Write(p) // copy path, fills the room of the newest block
			} else {
				pushCopy(&v, pool, p)
			}
			model.Write(p)
		}
		for _, n := range []int{7, 30, 1} {
			p, err := v.Next(n)
			if err != nil {
				t.Fatal(err)
			}
			slices = append(slices, held{p, bytes.Clone(model.Next(n))})
		}
		if p, err := v.Peek(25); err == nil {
			slices = append(slices, held{p, bytes.Clone(model.Bytes()[:25])})
		}
		churn := pool.Get(64) // would be a recycled block if one came back early
		for i := range churn {
			churn[i] = 0xEE
		}
		pool.Put(churn)
		for _, h := range slices {
			if !bytes.Equal(h.p, h.want) {
				t.Fatalf("round %d: a slice reads %v before Release, want %v", round, h.p, h.want)
			}
		}
		if round%5 == 4 {
			v.Release()
			slices = slices[:0]
		}
	}
	v.Release()
	if rest, _ := v.Next(v.Len()); !bytes.Equal(rest, model.Bytes()) {
		t.Fatal("unread bytes differ from the model")
	}
	v.Release()
	if v.Len() != 0 || pool.Outstanding() != 0 {
		t.Fatalf("fully read and released View: Len %d, Outstanding %d; want 0, 0", v.Len(), pool.Outstanding())
	}
}

func TestViewReleaseKeepsUnreadBlocks(t *testing.T) {
	pool := NewPool(WithPoolDebug(true))
	var v View
	v.Init(pool, 0)
	pushCopy(&v, pool, []byte("aaaa"))  // a 64-byte block
	pushCopy(&v, pool, []byte("bbbbb")) // another
	v.Next(6)                           // reads all of the first, part of the second
	v.Release()
	if got := pool.Outstanding(); got != 64 {
		t.Fatalf("Outstanding = %d after Release, want 64 (the block with unread bytes)", got)
	}
	if rest, _ := v.Next(3); string(rest) != "bbb" {
		t.Fatalf("unread bytes = %q", rest)
	}
	v.Release()
	if pool.Outstanding() != 0 {
		t.Fatalf("Outstanding = %d, want 0", pool.Outstanding())
	}
}

func TestViewReadWith(t *testing.T) {
	pool := NewPool(WithPoolDebug(true))
	var v View
	v.Init(pool, 128)
	var rooms []int
	read := func(s string) func(p []byte) (int, error) {
		return func(p []byte) (int, error) {
			rooms = append(rooms, len(p))
			return copy(p, s), nil
		}
	}
	v.ReadWith(read("abc"))
	v.ReadWith(read("def")) // into the same block's room
	if n, err := v.ReadWith(func([]byte) (int, error) { return -1, errors.New("EAGAIN") }); n != 0 || err == nil {
		t.Fatalf("failed read = %d, %v", n, err)
	}
	if want := []int{128, 125}; len(rooms) != 2 || rooms[0] != want[0] || rooms[1] != want[1] {
		t.Fatalf("rooms = %v, want %v", rooms, want)
	}
	if p, _ := v.Next(6); string(p) != "abcdef" {
		t.Fatalf("Next = %q", p)
	}
	v.Release()
	if pool.Outstanding() != 0 {
		t.Fatalf("Outstanding = %d after reading all and Release", pool.Outstanding())
	}
	// A read of nothing into an empty View keeps no block.
	v.ReadWith(func([]byte) (int, error) { return 0, nil })
	if pool.Outstanding() != 0 {
		t.Fatalf("Outstanding = %d after an empty read", pool.Outstanding())
	}
}
