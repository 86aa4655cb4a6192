// Package buffer holds the memory of shardnet's connections: a Pool of byte
// blocks, an inbound Ring for the bytes a handler left unread, an outbound
// Chain of blocks and caller-owned slices that feeds writev, and a View that
// hands out zero-copy slices which stay valid until Release.
//
// # Threading model
//
// Pool is safe for concurrent use: every shard of an engine shares one, and a
// block may be returned on a goroutine other than the one that took it.
// Ring, Chain and View are not safe for concurrent use. Each is owned by one
// connection and touched only on that connection's shard goroutine ("loop
// only"); nothing in them locks.
//
// # Lifecycle and memory
//
// The zero value of Ring, Chain and View is ready to use and holds no memory;
// Init attaches a Pool and the limits. An empty Ring, Chain or View holds no
// pool memory: blocks come from the Pool when bytes arrive and go back as
// soon as they are consumed, so 100,000 idle connections hold no buffers.
// Release (Ring, View) and Reset (Chain) return everything at once, which is
// what a connection does when it closes.
//
// # How long a slice stays valid
//
// Every method that returns a slice says how long it stays valid. In short:
// Ring.Peek and Ring.Next slices live until the next call that changes the
// Ring; Chain.Buffers slices live until the next Consume or Reset; View slices
// live until View.Release, because the blocks under them are pinned.
//
// # Example
//
//	pool := buffer.NewPool()
//	var in buffer.Ring
//	in.Init(pool, 1<<20)
//	in.Write([]byte("GET / HTTP/1.1\r\n"))
//	line, _ := in.Next(16) // valid until the next call that changes in
//	_ = line
//	in.Release() // an idle connection gives its memory back
package buffer
