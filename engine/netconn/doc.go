// Package netconn gives shard connections the standard net.Conn and
// net.Listener, with their full blocking semantics, so that stacks written
// against them (net/http, net/rpc, grpc-go, crypto/tls) run unchanged on an
// engine's shards, under its limits and in its stats.
//
// # Threading model
//
// The shard owns the connection, as for every engine.Handler: it reads the
// socket, copies what arrived into the Conn's input and wakes the reader
// (a parked Read's own buffer is that input, so the bytes are copied
// once; input that comes before its reader waits in a pooled block);
// it takes Write's chunks from its task queue (engine.Handle.AsyncWrite)
// and sends them. The goroutines that call Read, Write and Close never
// touch the engine.Conn: they share with the shard only the Conn's input,
// its in-flight count and its end state, under one short mutex, and each
// parks on a Gate inside the Conn that the shard (data, EOF, close), a
// deadline's timer or Close wakes. Nothing polls. The parking, the deadlines and the
// pause are engine/internal/blocking's, the one blocking layer that
// engine/netpollconn uses too.
//
//   - Read parks until a byte, the peer's EOF, its deadline or Close. When
//     the reader lags, more than WithMaxBuffered unread bytes make the shard
//     stop reading the socket (engine.Conn.PauseRead), so the peer feels
//     TCP's back-pressure; Read resumes it at half that.
//   - Write copies b, in chunks of at most WithWriteChunk, into pooled
//     blocks handed to the shard (with reused callbacks: a warm Write
//     allocates nothing of its own); it parks while more than WithWriteBuffer
//     bytes are queued and not yet taken by the kernel (each chunk's done
//     callback gives its bytes back). Both are cut to fit the engine's
//     WithMaxQueuedOutput, so the shard never refuses a chunk.
//   - Deadlines are Go timers. One that passes fails the parked or next
//     call with an error for which errors.Is(err, os.ErrDeadlineExceeded)
//     holds, and leaves the connection usable, unlike the engine's own
//     deadlines, which close it.
//
// # The trade
//
// Each active caller is a goroutine, and each request crosses from the
// shard's locked thread to it (a copy and a wake-up) and its answer back
// (a copy and a task). That is the price of running a blocking stack
// unchanged; the callback API (engine.Handler) stays the fast path, with
// no goroutine per connection and no copy on the way in. When the shards
// hold every P (GOMAXPROCS at most the shard count), a shard that woke a
// reader gives up its P once per round (engine.Conn.YieldToWoken), so
// the reader runs at once rather than when the runtime takes the P from
// the sleeping shard; each such round costs two thread switches.
//
// # Lifecycle
//
// A Listener is the engine's Handler: make the engine with it
// (engine.Serve, or Listen here, which does that), and Accept returns each
// connection the engine opened; a bounded queue (WithBacklog) holds those
// not yet Accepted, and past it new connections are refused and counted
// (Listener.Refused). Closing the Listener ends Accept, closes the
// engine's listening sockets (later connections are refused by the
// kernel) and the connections still queued, and leaves the accepted ones
// and the engine running: the engine is the caller's to Stop, which
// closes every connection and wakes every parked call. A Dialer connects through any engine's Engine.Dial. Close on a
// Conn is graceful (what Write queued is sent) and idempotent.
//
// # Example
//
//	ln, e, err := netconn.Listen("tcp://127.0.0.1:8080", nil)
//	...
//	defer e.Stop(context.Background())
//	http.Serve(ln, handler)
package netconn
