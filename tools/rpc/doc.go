// Package rpc is a worked example of a request/response protocol on
// shardnet's callback API: code to read and copy when building an RPC
// layer on the engine, not a framework the project promises to maintain
// (no service definitions, no streaming, no compression, no auth, no
// compatibility guarantees between versions).
//
// # Protocol
//
// Frames are length-prefixed (codec.LengthField) with a 12-byte header
// after the length: request ID, method number, flags and status (see
// header.go). A connection carries many calls at once; the server answers
// each as soon as it is done, so answers come back out of order and the
// client matches them to calls by ID. Payloads are bytes; what they mean
// is up to a payload codec (BinaryCodec is one for encoding/binary
// structs).
//
// # Threads
//
// Server: a handler registered with Handle runs on the connection's shard,
// with the request bytes where the engine read them (no copy) and an
// append buffer for the answer that the shard reuses; answers made in one
// read are written with one writev (a lone one with one write, at once). A
// handler registered with HandleBlocking runs on the engine's offload
// pool; its answer goes back with AsyncWrite, so a slow call never holds
// up the fast ones on the same connection. Stop refuses new calls, waits
// for the offloaded ones, then stops the engine.
//
// Client: a pool of connections spread over the client engine's shards.
// Go and Call may be used from any goroutine; a call is queued to a
// connection and the connection's shard writes everything queued in one
// task, as one writev. Go spreads calls round-robin over the pool; GoOn
// keeps a stream of calls on one connection, and WithCoalescing holds a
// connection's new calls while it has more in flight, so that calls
// started by a batch of answers leave in one write too (large messages at
// saturation: fewer, larger system calls on both sides). The shard owns the pending calls and their deadlines: a deadline
// heap per shard, with one engine timer (Engine.AfterFunc) armed for the
// earliest, so a call fails at its deadline; a late answer is dropped and
// counted. When a connection closes every call it held fails with
// ErrConnLost, and the connection is dialled again after a back-off timed
// on its shard. A connection that breaks the protocol, on either side, is
// aborted with the reason (Conn.AbortWith). MaxInflight bounds the calls in
// flight: Go fails fast with ErrOverloaded past it, Call waits.
//
// # Example
//
//	srv, _ := rpc.NewServer()
//	srv.Handle(1, func(req, dst []byte) ([]byte, error) { return append(dst, req...), nil })
//	srv.Serve([]string{"127.0.0.1:7300"})
//	defer srv.Stop(ctx)
//
//	cl, _ := rpc.NewClient("127.0.0.1:7300")
//	defer cl.Close(ctx)
//	resp, err := cl.Call(ctx, 1, []byte("ping"), nil)
package rpc
