package buffer_test

import (
	"errors"
	"fmt"

	"github.com/shardnet/shardnet/buffer"
)

// A connection keeps in a Ring what its handler left unread, peeks at a
// length-prefixed frame, and gives the memory back once it is idle.
func ExampleRing() {
	pool := buffer.NewPool()
	var in buffer.Ring
	in.Init(pool, 1<<20)

	in.Write([]byte{5, 'h', 'e'}) // a frame arrives in two pieces
	if _, err := in.Peek(6); errors.Is(err, buffer.ErrShort) {
		fmt.Println("short: wait for more")
	}
	in.Write([]byte("llo"))
	hdr, _ := in.Peek(1)
	frame, _ := in.Next(1 + int(hdr[0])) // valid until the next change to in
	fmt.Printf("frame %q\n", frame[1:])

	in.Release() // the handler is done with frame: give the block back now
	fmt.Println("held:", in.Cap(), "outstanding:", pool.Outstanding())
	// Output:
	// short: wait for more
	// frame "hello"
	// held: 0 outstanding: 0
}

// Output is queued in a Chain, handed to writev as iovecs, and consumed as
// far as the kernel took it.
func ExampleChain() {
	pool := buffer.NewPool()
	var out buffer.Chain
	out.Init(pool, 4096)

	out.WriteString("HTTP/1.1 200 OK\r\n\r\n")
	body := []byte("a large body the caller owns")
	out.Append(body, func(consumed bool) { fmt.Println("body released, consumed:", consumed) })

	iov := out.Buffers(nil, 1024) // pass to writev
	fmt.Println(len(iov), "iovecs,", out.Len(), "bytes")
	out.Consume(30, nil) // writev wrote 30 bytes: the header and part of the body
	fmt.Println(out.Len(), "bytes left")
	// Consume hands back the release hooks it finished; run them once
	// done with the Chain.
	for _, r := range out.Consume(out.Len(), nil) {
		r.Run()
	}
	fmt.Println("outstanding:", pool.Outstanding())
	// Output:
	// 2 iovecs, 47 bytes
	// 17 bytes left
	// body released, consumed: true
	// outstanding: 0
}

// A View hands out slices that stay valid until Release, even across the
// blocks it was filled with.
func ExampleView() {
	pool := buffer.NewPool()
	var v buffer.View
	v.Init(pool, 0)

	for _, s := range []string{"GET /ind", "ex.html HTTP/1.1\r\n"} {
		b := pool.Get(len(s)) // blocks move into the View
		copy(b, s)
		v.Push(b)
	}
	method, _ := v.Until(' ')
	line, _ := v.Until('\n') // spans both blocks: a pinned copy
	fmt.Printf("%q %q\n", method, line)

	v.Release() // method and line are invalid from here on
	fmt.Println("outstanding:", pool.Outstanding())
	// Output:
	// "GET " "/index.html HTTP/1.1\r\n"
	// outstanding: 0
}

// A debug Pool turns returning a block twice into a panic that says so.
func ExamplePool() {
	pool := buffer.NewPool(buffer.WithPoolDebug(true))
	b := pool.Get(100)
	fmt.Println(len(b), cap(b), pool.Outstanding())
	pool.Put(b)
	defer func() { fmt.Println("panic:", recover() != nil) }()
	pool.Put(b)
	// Output:
	// 100 128 128
	// panic: true
}
