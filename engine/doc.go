// Package engine is shardnet's server and client engine: listeners, an
// acceptor, a load balancer and N shard loops that own buffered connections.
//
// # Threads and ownership
//
// Each shard is a shard.Loop on its own locked OS thread (optionally pinned
// to a CPU). A connection lives its whole life on one shard, and its state,
// buffers and timers are touched only there: every Handler callback and
// every Conn method marked "loop only" runs on that thread, without locks.
// Other goroutines reach a connection through AsyncWrite, or through the
// Handle that Engine.Conn returns, which only queues work on the shard.
//
// An idle shard blocks its thread in epoll_wait. With WithRuntimeWait it
// parks its goroutine in the Go runtime's netpoller instead, which saves
// the runtime's sysmon work when a wake-up carries one message or a few,
// at the price of tail latency with several unpinned shards near
// saturation; it is off by default for that reason.
//
// Accepting: listeners are watched by an acceptor loop that hands each new
// fd to the shard the balancer picks; with WithReusePort every shard has its
// own SO_REUSEPORT socket instead and the kernel spreads connections.
//
// # Data path
//
// A readable socket is read into the shard's shared read buffer and
// OnTraffic sees those bytes without a copy; only what the handler leaves
// unread is copied into the connection's pooled ring, and the next read
// lands behind a copy of it in the shared buffer while it is at most half
// of that. Small writes made during one callback are gathered and sent
// with one writev when the callback returns; a large write to an idle
// socket goes straight from the caller's slice (from 4 KiB when it is the
// callback's only answer, from 64 KiB always). When the socket is full the rest waits in the pooled
// outbound chain for EPOLLOUT. An idle connection holds no buffer memory.
//
// # Closing
//
// Close sends what is queued, shuts down the write side, reads until the
// peer's EOF (or a linger timeout) and then closes, so the peer loses
// nothing; CloseWrite is the half-close alone; Abort resets at once.
// Engine.Stop does the same for every connection, bounded by its context.
//
// # TLS
//
// Listen with ListenTLS and Dial with DialTLS run crypto/tls on the
// shards: the handshake on a goroutine (at most WithMaxHandshakes at once,
// past which new connections are reset at accept, and the acceptor pauses
// that listener after every 64 refusals, 1 ms doubling to 128 ms, so that a
// flood waits in the kernel's backlog instead of costing a reset each; at
// most WithHandshakeCPU of them computing at once, so that the shards keep
// a P, for at most WithHandshakeShare of the CPU time, so that a flood
// leaves the open connections the rest, and with a share below 1 stopping
// inside their computation while a shard has input waiting, when the
// shards hold every P (tls_yield.go); each bounded
// by WithHandshakeTimeout; none spent before a server's first record is
// whole), then the records on the connection's shard, with no
// goroutine. The handler sees plaintext through the same Conn methods, and
// OnOpen runs after the handshake (tls.go says how, and what is refused).
//
// # Datagrams
//
// ListenPacket opens a UDP address with one SO_REUSEPORT socket per shard,
// and DialPacket a connected UDP socket on one shard. A PacketHandler gets
// each datagram on its socket's shard, read in batches (recvmmsg, with GRO
// where the kernel has it); WriteTo queues replies that leave in one
// sendmmsg (with GSO) at the end of the batch. WithSessions keeps per-peer
// state that expires on the shard's timer heap (packet.go says how).
//
// # Restarts
//
// ListenerFiles gives out duplicates of the engine's listening sockets and
// ListenFiles serves sockets another process opened, so a restart hands
// them over instead of closing them: the kernel keeps a socket and its
// accept queue while any process holds it, and no client is refused.
// tools/handover carries them between processes.
//
// # PROXY protocol
//
// A listener with ListenProxyProto reads the PROXY protocol header (v1 or
// v2) a layer-4 balancer sends, on the shard, before OnOpen and before a
// TLS handshake; RemoteAddr and LocalAddr then return the client's
// addresses. The shard is chosen at accept, before the header is read, so
// a source-hash balancer sees the balancer's address (proxy_listen.go).
//
// # Rate limits
//
// Conn.SetRateLimit and Conn.SetRateGroup give a connection token buckets
// (libevent's bufferevent rate limits and rate limit groups): an empty
// read bucket stops reading, an empty write bucket holds the flush, and a
// timer on the shard resumes at the next tick. A RateGroup is shared by
// connections on any shard (rate.go says how).
//
// # Platforms
//
// The engine runs on Linux only (epoll). Elsewhere the package compiles
// with the same API, so code built on it compiles too, but New, Serve and
// every call that would use an engine return an error wrapping
// ErrUnsupported (engine_other.go).
//
// # Quick start
//
//	type echo struct{ engine.BaseHandler }
//
//	func (echo) OnTraffic(c *engine.Conn) {
//		b, _ := c.Next(c.Buffered())
//		c.Write(b)
//	}
//
//	e, err := engine.Serve(echo{}, []string{"tcp://127.0.0.1:7000"})
//	...
//	e.Stop(ctx)
package engine
