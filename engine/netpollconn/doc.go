// Package netpollconn lets code written against cloudwego/netpoll's
// zero-copy netpoll.Reader and netpoll.Writer run on shardnet connections
// unchanged: RPC codecs built for netpoll (Kitex-style framing, say) plug in
// as they are. It is the only shardnet package that imports netpoll.
//
// netpoll's Next and Peek block until n bytes have arrived, and codecs rely
// on that. A shard must never block, so NewHandler runs the netpoll-style
// OnRequest on a goroutine of its own per busy connection: the shard feeds
// arriving bytes into the connection's pinned buffer (buffer.View) and wakes
// the reader, whose reads block until the bytes are there, the read timeout
// passes or the connection closes. The parking, the timeout and the pause
// for a lagging reader are engine/internal/blocking's, the layer that
// engine/netconn's net.Conn is built on too. Writes gather in pooled
// blocks and go to the shard with AsyncWritev on Flush, which waits until
// the kernel has them (back-pressure for a fast writer).
//
// For handlers that run on the shard itself, NewLoopConn gives the same
// interfaces without blocking: a read of more bytes than have arrived
// returns ErrWouldBlock, and the handler tries again on the next OnTraffic.
//
// Slices returned by Next, Peek and Until stay valid until Release, as
// netpoll documents; the blocks under them are pinned until then.
package netpollconn
